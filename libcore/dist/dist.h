/* Training across processes: one process (rank) per GPU or per CPU socket,
 * started by mpirun or srun, over MPI (Open MPI) and, for CUDA tensors,
 * NCCL (a build without NCCL refuses CUDA tensors here).  Used by
 * libcore/train only.
 *
 * A program calls rr_dist_init first, before anything touches the GPU.  It
 * starts MPI only when a launcher started the process (OMPI_COMM_WORLD_SIZE,
 * PMIX_RANK or PMI_SIZE in the environment); otherwise the process is rank
 * 0 of 1 and every function below is a no-op that returns 0, so one binary
 * serves both ways (a build without MPI, where make found none, refuses
 * a launcher's start with a message).  With CUDA, rank r of its machine takes GPU
 * r mod (GPUs visible) (the local rank: MPI_Comm_split_type SHARED).
 *
 * Determinism.  No reduction here leaves its order to the library:
 * rr_dist_sum_f32 adds the ranks' buffers in rank order (rank 0's, plus
 * rank 1's, plus ...), each element once, in the precision of the buffer,
 * so two runs with the same number of ranks give the same bits, and the sum
 * is the one a single process makes when it adds N buffers in turn (the
 * trainer's gradient accumulation).  The integer and disjoint sums are
 * exact whatever the order.
 *
 * Faults.  Every wait has a deadline (rr_dist_init's timeout): a rank that
 * does not answer in time (hung, stopped, or dead without the launcher
 * noticing) makes the waiting ranks fail with a message naming it ("rank
 * 1 did not answer within 60 s ...").  The caller then exits non-zero and
 * the launcher ends the others.  Every MPI, NCCL and CUDA call is checked;
 * a failure is an error with the call's own message. */
#ifndef RR_DIST_DIST_H
#define RR_DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "../device.h"

/* Starts MPI when a launcher started this process (see above), with
 * `timeout` seconds for every wait; 0, or -1 with a message. */
int rr_dist_init(double timeout);
/* Ends MPI (and NCCL) when rr_dist_init started it; 0, or -1 with a
 * message. */
int rr_dist_finalize(void);

int rr_dist_on(void);         /* 1 when a launcher started this process (one rank or more) */
int rr_dist_rank(void);       /* 0 without a launcher */
int rr_dist_size(void);       /* 1 without a launcher */
int rr_dist_local_rank(void); /* the rank among those on this machine */

/* Every rank reaches this point with the same `step`; *flag becomes the OR
 * of every rank's (a stop asked by a signal on any rank stops them all at
 * the same update).  An error names the ranks that did not arrive in time,
 * or whose step differs. */
int rr_dist_agree(int64_t step, int *flag);

/* x (n floats on device dev, the same n on every rank) becomes the sum over
 * the ranks, added in rank order (see above).  The work is spread: each
 * rank sums 1/N of the elements and sends its part to all; each rank sends
 * and receives 2 (N-1)/N of the buffer, as a ring all-reduce does.  On CUDA
 * the exchange is NCCL's, on the library's stream. */
int rr_dist_sum_f32(rr_device dev, float *x, int64_t n);

/* Host arrays where every element is non-zero on one rank at most (each
 * rank fills its own samples' slots): the sums, exact in any order. */
int rr_dist_merge_i64(int64_t *x, size_t n);
int rr_dist_merge_f64(double *x, size_t n);

/* all (size x bytes) = every rank's `mine`, in rank order. */
int rr_dist_gather(const void *mine, void *all, size_t bytes);

/* Rank 0's buffer to every rank. */
int rr_dist_bcast(void *buf, size_t bytes);

/* Checks that every rank has the same h; otherwise an error that names
 * `what` and the ranks whose value differs from rank 0's. */
int rr_dist_same(uint64_t h, const char *what);

#endif
