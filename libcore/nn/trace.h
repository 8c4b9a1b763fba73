/* A trace: the named intermediate tensors of one forward pass (the stage
 * outputs the golden test compares with the PyTorch reference, whose names
 * are listed in tools/reference/README).  Modules call rr_trace_put with a
 * NULL trace in normal runs, which does nothing. */
#ifndef RR_NN_TRACE_H
#define RR_NN_TRACE_H

#include "../tensor.h"

#define RR_TRACE_MAX 512

typedef struct rr_trace {
    int n;
    char names[RR_TRACE_MAX][96];
    rr_tensor *tensors[RR_TRACE_MAX];
} rr_trace;

/* Records t under tag + name (tag may be ""); no-op when tr is NULL. */
void rr_trace_put(rr_trace *tr, const char *tag, const char *name, rr_tensor *t);
/* The tensor recorded under name, or NULL. */
rr_tensor *rr_trace_get(const rr_trace *tr, const char *name);

#endif
