/* Memory arenas: bump allocation from big blocks, freed all at once.
 *
 * A training step allocates its activations and gradients from an arena and
 * resets it at the end of the step.  When a step needed more than the first
 * block, reset replaces the blocks by one block of their total size (or of
 * the step's peak, when the step released blocks on its way), so from the
 * second step on a step of the same shape allocates nothing (rr_arena.mallocs
 * stops growing; tests check it).
 *
 * An inference forward releases what later layers no longer read as it goes
 * (rr_arena_release, through ctx.h's scopes): everything allocated since a
 * mark is freed except the regions still needed, which move down to the
 * mark (on a GPU, device-to-device copies). */
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
    size_t step_peak;       /* largest in_use since the last reset */
    long mallocs;           /* blocks ever allocated (a test of "no allocation") */
} rr_arena;

/* initial: size of the first block (0: allocated lazily, 1 MiB minimum). */
void rr_arena_init(rr_arena *a, rr_device d, size_t initial);
/* 64-byte aligned memory; NULL with a message when out of memory. */
void *rr_arena_alloc(rr_arena *a, size_t bytes);
/* Same, zero-filled. */
void *rr_arena_calloc(rr_arena *a, size_t bytes);
/* A position in an arena: the block being filled and its fill. */
typedef struct rr_arena_mark {
    rr_arena_block *block; /* NULL: the arena had no block yet */
    size_t used;
} rr_arena_mark;

rr_arena_mark rr_arena_tell(const rr_arena *a);
/* Frees everything allocated since m except the n regions ptr[i] (bytes[i]
 * long), which move down, in the order they were allocated, to the lowest
 * free place from m on; ptr[i] is set to the new place.  A region from
 * before m, or not in this arena, stays where it is.  The blocks left empty
 * are freed.  Regions must not overlap.  m must come from this arena since
 * its last reset and not from inside a range already released (marks nest:
 * release the inner one first).  Nothing else allocated since m may be used
 * afterwards. */
int rr_arena_release(rr_arena *a, rr_arena_mark m, int n, void **ptr, const size_t *bytes);
/* Frees everything handed out; keeps (and coalesces) the blocks. */
void rr_arena_reset(rr_arena *a);
void rr_arena_free(rr_arena *a);

#endif
