#include "scope.h"

#include <stdlib.h>

#include "../error.h"

rr_scope rr_scope_begin(rr_ctx *c, rr_trace *tr)
{
    return (rr_scope){c, rr_ctx_scope_begin(c), tr, tr ? tr->n : 0};
}

int rr_scope_end(const rr_scope *s, int n, rr_tensor *const *keep)
{
    int traced = s->tr ? s->tr->n - s->ntraced : 0;
    if (!traced)
        return rr_ctx_scope_end(s->c, s->mark, n, keep);
    rr_tensor **all = malloc((size_t)(n + traced) * sizeof *all);
    if (!all)
        return rr_error("out of memory");
    for (int i = 0; i < n; i++)
        all[i] = keep[i];
    for (int i = 0; i < traced; i++)
        all[n + i] = s->tr->tensors[s->ntraced + i];
    int rc = rr_ctx_scope_end(s->c, s->mark, n + traced, all);
    free(all);
    return rc;
}

rr_tensor *rr_scope_keep(const rr_scope *s, rr_tensor *y)
{
    return rr_scope_end(s, 1, &y) ? NULL : y;
}
