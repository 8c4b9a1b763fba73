#include "arena.h"

#include <string.h>

#include "error.h"

#define RR_ALIGN 64
#define RR_MIN_BLOCK ((size_t)1 << 20)

static size_t round_up(size_t n) { return (n + RR_ALIGN - 1) & ~(size_t)(RR_ALIGN - 1); }

static rr_arena_block *block_new(rr_arena *a, size_t size)
{
    rr_arena_block *b = rr_dev_malloc(RR_CPU, sizeof *b);
    if (!b)
        return NULL;
    b->base = rr_dev_malloc(a->device, size);
    if (!b->base) {
        rr_dev_free(RR_CPU, b);
        return NULL;
    }
    b->size = size;
    b->used = 0;
    b->next = NULL;
    a->mallocs++;
    return b;
}

void rr_arena_init(rr_arena *a, rr_device d, size_t initial)
{
    memset(a, 0, sizeof *a);
    a->device = d;
    a->min_block = initial > RR_MIN_BLOCK ? initial : RR_MIN_BLOCK;
}

void *rr_arena_alloc(rr_arena *a, size_t bytes)
{
    bytes = round_up(bytes ? bytes : 1);
    rr_arena_block *b = a->head;
    if (!b || b->size - b->used < bytes) {
        size_t size = bytes > a->min_block ? bytes : a->min_block;
        rr_arena_block *nb = block_new(a, size);
        if (!nb) {
            rr_error_prefix("arena (%s): ", rr_device_name(a->device));
            return NULL;
        }
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->base + b->used;
    b->used += bytes;
    a->in_use += bytes;
    if (a->in_use > a->peak)
        a->peak = a->in_use;
    return p;
}

void *rr_arena_calloc(rr_arena *a, size_t bytes)
{
    void *p = rr_arena_alloc(a, bytes);
    if (p && rr_dev_memset0(a->device, p, bytes) != 0)
        return NULL;
    return p;
}

static void free_blocks(rr_arena *a)
{
    for (rr_arena_block *b = a->head, *next; b; b = next) {
        next = b->next;
        rr_dev_free(a->device, b->base);
        rr_dev_free(RR_CPU, b);
    }
    a->head = NULL;
}

void rr_arena_reset(rr_arena *a)
{
    /* Several blocks: this step outgrew the arena.  Replace them by one block
     * big enough for the whole step, so the next step allocates nothing. */
    if (a->head && a->head->next) {
        size_t total = 0;
        for (rr_arena_block *b = a->head; b; b = b->next)
            total += b->size;
        free_blocks(a);
        a->min_block = total;
        a->head = block_new(a, total); /* on failure the next alloc retries */
    }
    if (a->head)
        a->head->used = 0;
    a->in_use = 0;
}

void rr_arena_free(rr_arena *a)
{
    free_blocks(a);
    a->in_use = 0;
}
