#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../error.h"
#include "../ops/binary.h"

#ifdef RR_WITH_CUDA
#include <cuda_runtime.h>
#endif
#ifdef RR_WITH_NCCL
#include <nccl.h>
/* NCCL's work goes on the library's stream, behind the backward pass that
 * made the gradients, with no synchronisation between. */
#define STREAM ((cudaStream_t)rr_cuda_stream_c())
#endif

/* The launchers' variables: Open MPI's mpirun, PMIx (srun --mpi=pmix,
 * and mpirun too), PMI-2 (srun --mpi=pmi2). */
static int launched(void) { return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_SIZE"); }

#ifndef RR_WITH_MPI
/* Built without MPI (make found no mpi.h): one process, and a clear error
 * when a launcher started several. */
int rr_dist_init(double timeout)
{
    (void)timeout;
    return launched() ? rr_error("this build has no MPI (make found no Open MPI: install libopenmpi-dev and "
                                 "rebuild) but a launcher started it")
                      : 0;
}
int rr_dist_finalize(void) { return 0; }
int rr_dist_on(void) { return 0; }
int rr_dist_rank(void) { return 0; }
int rr_dist_size(void) { return 1; }
int rr_dist_local_rank(void) { return 0; }
int rr_dist_agree(int64_t step, int *flag) { return 0; }
int rr_dist_sum_f32(rr_device dev, float *x, int64_t n) { return 0; }
int rr_dist_merge_i64(int64_t *x, size_t n) { return 0; }
int rr_dist_merge_f64(double *x, size_t n) { return 0; }
int rr_dist_gather(const void *mine, void *all, size_t bytes)
{
    memcpy(all, mine, bytes);
    return 0;
}
int rr_dist_bcast(void *buf, size_t bytes) { return 0; }
int rr_dist_same(uint64_t h, const char *what) { return 0; }
#else
#include <mpi.h>

enum { TAG_AGREE = 11, TAG_VERDICT, TAG_PART }; /* TAG_PART + 1: the second exchange */

static struct {
    int on; /* MPI started here */
    int rank, size, local;
    double timeout;
    MPI_Comm comm;
    float *tmp[2]; /* scratch of the sum, per device (CPU, CUDA), tmp_n floats each */
    size_t tmp_n[2];
#ifdef RR_WITH_NCCL
    ncclComm_t nccl;
    int have_nccl;
#endif
} D = {.size = 1};

int rr_dist_on(void) { return D.on; }
int rr_dist_rank(void) { return D.rank; }
int rr_dist_size(void) { return D.size; }
int rr_dist_local_rank(void) { return D.local; }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int mpi_fail(int rc, const char *call)
{
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, s, &len) != MPI_SUCCESS)
        snprintf(s, sizeof s, "MPI error %d", rc);
    return rr_error("%s failed: %s", call, s);
}
#define MPI_CHECK(call)                          \
    do {                                         \
        int rc_ = (call);                        \
        if (rc_ != MPI_SUCCESS)                  \
            return mpi_fail(rc_, #call);         \
    } while (0)

#ifdef RR_WITH_NCCL
#define NCCL_CHECK(call)                                                                  \
    do {                                                                                  \
        ncclResult_t rc_ = (call);                                                        \
        if (rc_ != ncclSuccess)                                                           \
            return rr_error("%s failed: %s", #call, ncclGetErrorString(rc_));             \
    } while (0)
#endif
#ifdef RR_WITH_CUDA
#define CUDA_CHECK(call)                                                                  \
    do {                                                                                  \
        cudaError_t rc_ = (call);                                                         \
        if (rc_ != cudaSuccess)                                                           \
            return rr_error("%s failed: %s", #call, cudaGetErrorString(rc_));             \
    } while (0)
#endif

int rr_dist_init(double timeout)
{
    D.timeout = timeout;
    if (!launched())
        return 0;
    int provided;
    MPI_CHECK(MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided));
    D.on = 1;
    MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &D.comm));
    MPI_CHECK(MPI_Comm_set_errhandler(D.comm, MPI_ERRORS_RETURN));
    MPI_CHECK(MPI_Comm_rank(D.comm, &D.rank));
    MPI_CHECK(MPI_Comm_size(D.comm, &D.size));
    MPI_Comm local;
    MPI_CHECK(MPI_Comm_split_type(D.comm, MPI_COMM_TYPE_SHARED, D.rank, MPI_INFO_NULL, &local));
    MPI_CHECK(MPI_Comm_rank(local, &D.local));
    MPI_CHECK(MPI_Comm_free(&local));
#ifdef RR_WITH_CUDA
    /* before anything makes a context on device 0; no GPU: the CPU */
    int ngpu = 0;
    if (cudaGetDeviceCount(&ngpu) == cudaSuccess && ngpu > 0)
        CUDA_CHECK(cudaSetDevice(D.local % ngpu));
#endif
    return 0;
}

int rr_dist_finalize(void)
{
    if (!D.on)
        return 0;
    D.on = 0;
#ifdef RR_WITH_NCCL
    if (D.have_nccl)
        NCCL_CHECK(ncclCommDestroy(D.nccl));
#endif
    if (D.tmp[RR_CUDA])
        rr_dev_free(RR_CUDA, D.tmp[RR_CUDA]);
    free(D.tmp[RR_CPU]);
    MPI_CHECK(MPI_Comm_free(&D.comm));
    MPI_CHECK(MPI_Finalize());
    return 0;
}

/* Waits for n requests, peer[i] the rank at the other end of req[i] (-1: a
 * collective).  At the deadline, an error naming the ranks still owed. */
static int wait_all(MPI_Request *req, const int *peer, int n, const char *what)
{
    double end = now() + D.timeout;
    for (long spin = 0;; spin++) {
        int done = 0;
        MPI_CHECK(MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE));
        if (done)
            return 0;
        if (now() > end)
            break;
        if (spin > 10000) { /* a busy wait first (a step's exchange), then gently */
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    char names[512] = "";
    size_t len = 0;
    int late = 0;
    for (int i = 0; i < n; i++) {
        int done = 0;
        if (MPI_Test(&req[i], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done)
            continue;
        if (peer[i] < 0)
            return rr_error("%s: the ranks did not all answer within %g s (one is hung, stopped or dead)", what,
                            D.timeout);
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= peer[j] == peer[i];
        if (!dup && len < sizeof names - 16)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%d", late++ ? ", " : "", peer[i]);
    }
    if (!late) /* all came at the last moment (or this process was the one stopped) */
        return 0;
    return rr_error("%s: rank%s %s did not answer within %g s (hung, stopped or dead)", what, late > 1 ? "s" : "",
                    names, D.timeout);
}

int rr_dist_agree(int64_t step, int *flag)
{
    if (D.size == 1)
        return 0;
    char what[64];
    snprintf(what, sizeof what, "before update %lld", (long long)step + 1);
    int N = D.size;
    int64_t *all = calloc((size_t)N * 2, sizeof *all), verdict[2] = {1, *flag != 0};
    MPI_Request *rq = calloc((size_t)N * 2, sizeof *rq);
    int *peer = calloc((size_t)N * 2, sizeof *peer);
    int rc = all && rq && peer ? 0 : rr_error("out of memory");
    if (!rc && D.rank == 0) {
        for (int p = 1; p < N && !rc; p++) {
            peer[p - 1] = p;
            if ((rc = MPI_Irecv(all + 2 * p, 2, MPI_INT64_T, p, TAG_AGREE, D.comm, &rq[p - 1])) != MPI_SUCCESS)
                rc = mpi_fail(rc, "MPI_Irecv");
        }
        if (!rc)
            rc = wait_all(rq, peer, N - 1, what);
        char off[256] = "";
        size_t len = 0;
        for (int p = 1; p < N && !rc; p++) {
            verdict[1] |= all[2 * p + 1] != 0;
            if (all[2 * p] != step) {
                verdict[0] = 0;
                if (len < sizeof off - 40)
                    len += (size_t)snprintf(off + len, sizeof off - len, "%srank %d at update %lld", len ? ", " : "",
                                            p, (long long)all[2 * p] + 1);
            }
        }
        for (int p = 1; p < N && !rc; p++)
            if ((rc = MPI_Isend(verdict, 2, MPI_INT64_T, p, TAG_VERDICT, D.comm, &rq[p - 1])) != MPI_SUCCESS)
                rc = mpi_fail(rc, "MPI_Isend");
        if (!rc)
            rc = wait_all(rq, peer, N - 1, what);
        if (!rc && !verdict[0])
            rc = rr_error("%s: the ranks are at different updates (%s)", what, off);
    } else if (!rc) {
        int64_t mine[2] = {step, *flag != 0};
        peer[0] = peer[1] = 0;
        if ((rc = MPI_Isend(mine, 2, MPI_INT64_T, 0, TAG_AGREE, D.comm, &rq[0])) != MPI_SUCCESS ||
            (rc = MPI_Irecv(verdict, 2, MPI_INT64_T, 0, TAG_VERDICT, D.comm, &rq[1])) != MPI_SUCCESS)
            rc = mpi_fail(rc, "MPI_Isend/MPI_Irecv");
        if (!rc)
            rc = wait_all(rq, peer, 2, what);
        if (!rc && !verdict[0])
            rc = rr_error("%s: rank 0 found the ranks at different updates", what);
    }
    if (!rc)
        *flag = verdict[1] != 0;
    free(all);
    free(rq);
    free(peer);
    return rc;
}

/* The scratch of a sum on device d: at least n floats. */
static float *scratch(rr_device d, size_t n)
{
    if (D.tmp_n[d] >= n)
        return D.tmp[d];
    if (D.tmp[d])
        d == RR_CPU ? free(D.tmp[d]) : rr_dev_free(d, D.tmp[d]);
    D.tmp[d] = d == RR_CPU ? malloc(n * sizeof(float)) : rr_dev_malloc(d, n * sizeof(float));
    D.tmp_n[d] = D.tmp[d] ? n : 0;
    if (!D.tmp[d] && d == RR_CPU)
        rr_error("out of memory");
    return D.tmp[d];
}

/* Part p of n elements among N: [off, off + cnt). */
static void part(int64_t n, int N, int p, int64_t *off, int64_t *cnt)
{
    int64_t chunk = (n + N - 1) / N, a = p * chunk < n ? p * chunk : n, b = (p + 1) * chunk < n ? (p + 1) * chunk : n;
    *off = a;
    *cnt = b - a;
}

#ifdef RR_WITH_NCCL
static int nccl_start(void)
{
    if (D.have_nccl)
        return 0;
    ncclUniqueId id;
    if (D.rank == 0)
        NCCL_CHECK(ncclGetUniqueId(&id));
    if (rr_dist_bcast(&id, sizeof id))
        return -1;
    NCCL_CHECK(ncclCommInitRank(&D.nccl, D.size, id, D.rank));
    D.have_nccl = 1;
    return 0;
}

/* Waits for the library's stream with the deadline; NCCL cannot say which
 * rank is missing. */
static int nccl_wait(const char *what)
{
    double end = now() + D.timeout;
    for (long spin = 0;; spin++) {
        cudaError_t e = cudaStreamQuery(STREAM);
        if (e == cudaSuccess)
            return 0;
        if (e != cudaErrorNotReady)
            return rr_error("%s: cudaStreamQuery failed: %s", what, cudaGetErrorString(e));
        ncclResult_t async;
        NCCL_CHECK(ncclCommGetAsyncError(D.nccl, &async));
        if (async != ncclSuccess)
            return rr_error("%s: NCCL: %s", what, ncclGetErrorString(async));
        if (now() > end) {
            ncclCommAbort(D.nccl);
            D.have_nccl = 0;
            return rr_error("%s: the ranks did not all answer within %g s (one is hung, stopped or dead)", what,
                            D.timeout);
        }
        if (spin > 10000) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
}

/* The two exchanges of rr_dist_sum_f32 (step 0: part p of x to rank p, from
 * every rank its part r into slot p of tmp; step 1: the summed part r to
 * every rank, theirs into x) as grouped NCCL sends and receives. */
static int nccl_exchange(int stepk, float *x, float *tmp, int64_t n, int64_t chunk)
{
    int N = D.size, r = D.rank;
    int64_t roff, rcnt;
    part(n, N, r, &roff, &rcnt);
    NCCL_CHECK(ncclGroupStart());
    for (int p = 0; p < N; p++) {
        if (p == r)
            continue;
        int64_t off, cnt;
        part(n, N, p, &off, &cnt);
        if (stepk == 0) {
            NCCL_CHECK(ncclSend(x + off, (size_t)cnt, ncclFloat, p, D.nccl, STREAM));
            NCCL_CHECK(ncclRecv(tmp + p * chunk, (size_t)rcnt, ncclFloat, p, D.nccl, STREAM));
        } else {
            NCCL_CHECK(ncclSend(x + roff, (size_t)rcnt, ncclFloat, p, D.nccl, STREAM));
            NCCL_CHECK(ncclRecv(x + off, (size_t)cnt, ncclFloat, p, D.nccl, STREAM));
        }
    }
    NCCL_CHECK(ncclGroupEnd());
    return 0;
}
#endif

/* The same two exchanges over MPI, host memory. */
static int mpi_exchange(int stepk, float *x, float *tmp, int64_t n, int64_t chunk)
{
    int N = D.size, r = D.rank, k = 0;
    int64_t roff, rcnt;
    part(n, N, r, &roff, &rcnt);
    MPI_Request *rq = calloc((size_t)N * 2, sizeof *rq);
    int *peer = calloc((size_t)N * 2, sizeof *peer);
    if (!rq || !peer) {
        free(rq);
        free(peer);
        return rr_error("out of memory");
    }
    int rc = 0;
    for (int p = 0; p < N && !rc; p++) {
        if (p == r)
            continue;
        int64_t off, cnt;
        part(n, N, p, &off, &cnt);
        float *send = stepk == 0 ? x + off : x + roff, *recv = stepk == 0 ? tmp + p * chunk : x + off;
        int scnt = (int)(stepk == 0 ? cnt : rcnt), rcv = (int)(stepk == 0 ? rcnt : cnt);
        peer[k] = peer[k + 1] = p;
        if ((rc = MPI_Isend(send, scnt, MPI_FLOAT, p, TAG_PART + stepk, D.comm, &rq[k])) != MPI_SUCCESS ||
            (rc = MPI_Irecv(recv, rcv, MPI_FLOAT, p, TAG_PART + stepk, D.comm, &rq[k + 1])) != MPI_SUCCESS)
            rc = mpi_fail(rc, "MPI_Isend/MPI_Irecv");
        k += 2;
    }
    if (!rc)
        rc = wait_all(rq, peer, k, stepk == 0 ? "gradient sum" : "gradient sum, sharing the parts");
    free(rq);
    free(peer);
    return rc;
}

int rr_dist_sum_f32(rr_device dev, float *x, int64_t n)
{
    /* one rank under a launcher goes through it all the same (NCCL's set-up
     * included), so that a one-GPU machine checks the path */
    if (!D.on || n == 0)
        return 0;
    int N = D.size, r = D.rank;
    int64_t chunk = (n + N - 1) / N, roff, rcnt;
    if (chunk > INT_MAX)
        return rr_error("gradient sum: %lld elements per rank, more than a message holds", (long long)chunk);
    part(n, N, r, &roff, &rcnt);
    float *tmp = scratch(dev, (size_t)(N * chunk));
    if (!tmp)
        return -1;
#ifdef RR_WITH_NCCL
    if (dev == RR_CUDA && nccl_start())
        return -1;
#define EXCHANGE(k) (dev == RR_CUDA ? nccl_exchange(k, x, tmp, n, chunk) : mpi_exchange(k, x, tmp, n, chunk))
#else
    if (dev == RR_CUDA)
        return rr_error("this build has no NCCL (make found no nccl.h): training across processes on CUDA needs it");
#define EXCHANGE(k) mpi_exchange(k, x, tmp, n, chunk)
#endif
    if (EXCHANGE(0))
        return -1;
    /* part r: rank 0's, plus rank 1's, ... in order; rank r's own is in x */
    float *acc = r == 0 ? x + roff : tmp;
    for (int p = 1; p < N && rcnt > 0; p++)
        if (RR_BACKEND(dev, rr_scale_f32, p == r ? x + roff : tmp + p * chunk, acc, rcnt, 1.0f, 1))
            return -1;
    if (r != 0 && rcnt > 0 && rr_dev_memcpy(dev, x + roff, dev, acc, (size_t)rcnt * sizeof *x))
        return -1;
    if (EXCHANGE(1))
        return -1;
#undef EXCHANGE
#ifdef RR_WITH_NCCL
    if (dev == RR_CUDA)
        return nccl_wait("gradient sum");
#endif
    return 0;
}

static int collective(MPI_Request *rq, const char *what)
{
    int peer = -1;
    return wait_all(rq, &peer, 1, what);
}

int rr_dist_merge_i64(int64_t *x, size_t n)
{
    if (D.size == 1)
        return 0;
    if (n > INT_MAX)
        return rr_error("merge: %zu values, more than a message holds", n);
    MPI_Request rq;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_INT64_T, MPI_SUM, D.comm, &rq));
    return collective(&rq, "validation counts");
}

int rr_dist_merge_f64(double *x, size_t n)
{
    if (D.size == 1)
        return 0;
    if (n > INT_MAX)
        return rr_error("merge: %zu values, more than a message holds", n);
    MPI_Request rq;
    MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, D.comm, &rq));
    return collective(&rq, "validation losses");
}

int rr_dist_gather(const void *mine, void *all, size_t bytes)
{
    if (D.size == 1) {
        memcpy(all, mine, bytes);
        return 0;
    }
    if (bytes > INT_MAX)
        return rr_error("gather: %zu bytes, more than a message holds", bytes);
    MPI_Request rq;
    MPI_CHECK(MPI_Iallgather(mine, (int)bytes, MPI_BYTE, all, (int)bytes, MPI_BYTE, D.comm, &rq));
    return collective(&rq, "gather");
}

int rr_dist_bcast(void *buf, size_t bytes)
{
    if (D.size == 1)
        return 0;
    if (bytes > INT_MAX)
        return rr_error("broadcast: %zu bytes, more than a message holds", bytes);
    MPI_Request rq;
    MPI_CHECK(MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, D.comm, &rq));
    return collective(&rq, "broadcast");
}

int rr_dist_same(uint64_t h, const char *what)
{
    if (D.size == 1)
        return 0;
    uint64_t *all = calloc((size_t)D.size, sizeof *all);
    if (!all)
        return rr_error("out of memory");
    int rc = rr_dist_gather(&h, all, sizeof h);
    char names[256] = "";
    size_t len = 0;
    int bad = 0, first = 0;
    for (int p = 1; p < D.size && !rc; p++)
        if (all[p] != all[0]) {
            first = first ? first : p;
            if (len < sizeof names - 16)
                len += (size_t)snprintf(names + len, sizeof names - len, "%s%d", bad ? ", " : "", p);
            bad++;
        }
    if (!rc && bad)
        rc = rr_error("%s: rank%s %s differ%s from rank 0 (rank %d: %016llx, rank 0: %016llx)", what,
                      bad > 1 ? "s" : "", names, bad > 1 ? "" : "s", first, (unsigned long long)all[first],
                      (unsigned long long)all[0]);
    free(all);
    return rc;
}
#endif
