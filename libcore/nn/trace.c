#include "trace.h"

#include <stdio.h>
#include <string.h>

void rr_trace_put(rr_trace *tr, const char *tag, const char *name, rr_tensor *t)
{
    if (!tr || !t || tr->n == RR_TRACE_MAX)
        return;
    snprintf(tr->names[tr->n], sizeof tr->names[0], "%s%s", tag, name);
    tr->tensors[tr->n++] = t;
}

rr_tensor *rr_trace_get(const rr_trace *tr, const char *name)
{
    for (int i = tr->n - 1; i >= 0; i--)
        if (strcmp(tr->names[i], name) == 0)
            return tr->tensors[i];
    return NULL;
}
