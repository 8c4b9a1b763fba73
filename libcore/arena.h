/* Memory arenas: bump allocation from big blocks, freed all at once.
 *
 * A training step allocates its activations and gradients from an arena and
 * resets it at the end of the step.  When a step needed more than the first
 * block, reset replaces the blocks by one block of their total size, so from
 * the second step on a step of the same shape allocates nothing
 * (rr_arena.mallocs stops growing; tests check it). */
#ifndef RR_ARENA_H
#define RR_ARENA_H

#include <stddef.h>

#include "device.h"

typedef struct rr_arena_block {
    struct rr_arena_block *next;
    char *base;
    size_t size, used;
} rr_arena_block;

typedef struct rr_arena {
    rr_device device;
    rr_arena_block *head;   /* the block being filled; older ones follow */
    size_t min_block;       /* size of a new block when none fits */
    size_t in_use;          /* bytes handed out since the last reset */
    size_t peak;            /* largest in_use seen */
    long mallocs;           /* blocks ever allocated (a test of "no allocation") */
} rr_arena;

/* initial: size of the first block (0: allocated lazily, 1 MiB minimum). */
void rr_arena_init(rr_arena *a, rr_device d, size_t initial);
/* 64-byte aligned memory; NULL with a message when out of memory. */
void *rr_arena_alloc(rr_arena *a, size_t bytes);
/* Same, zero-filled. */
void *rr_arena_calloc(rr_arena *a, size_t bytes);
/* Frees everything handed out; keeps (and coalesces) the blocks. */
void rr_arena_reset(rr_arena *a);
void rr_arena_free(rr_arena *a);

#endif
