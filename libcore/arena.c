#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
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
    if (a->in_use > a->step_peak)
        a->step_peak = a->in_use;
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

rr_arena_mark rr_arena_tell(const rr_arena *a)
{
    return (rr_arena_mark){a->head, a->head ? a->head->used : 0};
}

/* Copies bytes from src to dst, which lies gap bytes below it in the same
 * block (gap >= bytes: they do not overlap; a region moving to another block
 * passes its size).  A device copy may not overlap itself, so an
 * overlapping move goes in pieces of gap bytes, each of which reads what no
 * earlier one wrote (copies on one device run in order). */
static int move_down(rr_device d, char *dst, const char *src, size_t bytes, size_t gap)
{
    size_t step = gap < bytes ? gap : bytes;
    for (size_t off = 0; off < bytes; off += step)
        if (rr_dev_memcpy(d, dst + off, d, src + off, bytes - off < step ? bytes - off : step))
            return -1;
    return 0;
}

/* A kept region: its block (index in the chain of blocks since the mark,
 * oldest first), offset and size. */
typedef struct {
    int i, block;
    size_t off, bytes;
} kept;

static int kept_order(const void *x, const void *y)
{
    const kept *a = x, *b = y;
    if (a->block != b->block)
        return a->block < b->block ? -1 : 1;
    return (a->off > b->off) - (a->off < b->off);
}

int rr_arena_release(rr_arena *a, rr_arena_mark m, int n, void **ptr, const size_t *bytes)
{
    /* The chain: the mark's block and every newer one, oldest first (the
     * list runs from the newest).  Without a block at the mark, every block. */
    int nb = 0;
    rr_arena_block *b = a->head;
    for (; b && b != m.block; b = b->next)
        nb++;
    if (m.block && !b)
        return rr_error("arena (%s): releasing to a mark that is no longer in it", rr_device_name(a->device));
    rr_arena_block *below = m.block ? m.block->next : NULL; /* the blocks before the mark, kept as they are */
    nb += m.block != NULL;
    if (nb == 0)
        return 0;
    rr_arena_block **chain = malloc((size_t)nb * sizeof *chain);
    kept *k = malloc((n ? (size_t)n : 1) * sizeof *k);
    if (!chain || !k) {
        free(chain);
        free(k);
        return rr_error("out of memory");
    }
    b = a->head;
    for (int j = nb - 1; j >= 0; j--, b = b->next)
        chain[j] = b;
    size_t start = m.block ? m.used : 0, before = 0;
    for (int j = 0; j < nb; j++)
        before += chain[j]->used;
    /* The regions allocated since the mark, in the order they were allocated. */
    int nk = 0, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        uintptr_t p = (uintptr_t)ptr[i];
        for (int j = 0; j < nb; j++) {
            uintptr_t base = (uintptr_t)chain[j]->base;
            if (p < base || p >= base + chain[j]->size || (j == 0 && p < base + start))
                continue;
            kept r = {i, j, p - base, round_up(bytes[i] ? bytes[i] : 1)};
            if (r.off + r.bytes > chain[j]->used)
                rc = rr_error("arena (%s): a kept region lies beyond what was allocated", rr_device_name(a->device));
            k[nk++] = r;
            break;
        }
    }
    qsort(k, (size_t)nk, sizeof *k, kept_order);
    for (int r = 1; r < nk && !rc; r++)
        if (k[r].block == k[r - 1].block && k[r].off < k[r - 1].off + k[r - 1].bytes)
            rc = rr_error("arena (%s): kept regions overlap", rr_device_name(a->device));
    /* Each region to the cursor, which never passes a region not yet moved:
     * in the region's own block it is at or below it, else in an older
     * block.  A block the cursor leaves keeps what it was given. */
    int cur = 0;
    size_t off = start;
    for (int r = 0; r < nk && !rc; r++) {
        while (k[r].block != cur && chain[cur]->size - off < k[r].bytes) {
            chain[cur++]->used = off;
            off = 0;
        }
        char *dst = chain[cur]->base + off, *src = chain[k[r].block]->base + k[r].off;
        size_t gap = k[r].block == cur ? k[r].off - off : k[r].bytes;
        if (gap && move_down(a->device, dst, src, bytes[k[r].i], gap))
            rc = -1;
        ptr[k[r].i] = dst;
        off += k[r].bytes;
    }
    if (!rc) {
        /* Relink: the blocks up to the cursor's that hold something (the
         * mark's always), the cursor's the one being filled; free the rest. */
        chain[cur]->used = off;
        size_t after = 0;
        a->head = below;
        for (int j = 0; j < nb; j++) {
            if (j > cur || (j > 0 && chain[j]->used == 0)) {
                rr_dev_free(a->device, chain[j]->base);
                rr_dev_free(RR_CPU, chain[j]);
                continue;
            }
            after += chain[j]->used;
            chain[j]->next = a->head;
            a->head = chain[j];
        }
        a->in_use = a->in_use - before + after;
    }
    free(chain);
    free(k);
    return rc;
}

void rr_arena_reset(rr_arena *a)
{
    /* Several blocks, or one smaller than the step's peak (the step released
     * blocks on its way): this step outgrew the arena.  Replace them by one
     * block big enough for the whole step, so the next step allocates
     * nothing. */
    size_t total = 0;
    for (rr_arena_block *b = a->head; b; b = b->next)
        total += b->size;
    if (total < a->step_peak)
        total = a->step_peak;
    if (a->head && (a->head->next || total > a->head->size)) {
        free_blocks(a);
        a->min_block = total;
        a->head = block_new(a, total); /* on failure the next alloc retries */
    }
    if (a->head)
        a->head->used = 0;
    a->in_use = 0;
    a->step_peak = 0;
}

void rr_arena_free(rr_arena *a)
{
    free_blocks(a);
    a->in_use = 0;
    a->step_peak = 0;
}
