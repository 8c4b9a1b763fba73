/* The whole network against the PyTorch reference (tools/reference/): the
 * golden tensors of mrsnet-nano for a batch of two (one sample without a
 * target), written by `make goldens` into tests/golden/mrsnet-nano/.
 * Every stage's output must match within 1e-4 and every parameter's
 * gradient within 1e-3 (relative: norm of the difference over the norm of
 * the reference), as doc/testing.md sets; the table shows each.  The comparison
 * itself is golden.c's, which tests/gpu/golden_gpu.c runs on CUDA.
 * lavt-nano (LAVT as a configuration: PWAM, no cross-scale module, LAVT's
 * decoder, plain CE) is held to the same tolerances. */
#include "golden.h"
#include "harness.h"

#define GOLDEN "tests/golden/mrsnet-nano/"

static void row(void *user, const char *name, double err, double tol, const char *why)
{
    int ok = err <= tol;
    printf("golden %-44s %10.2e  %s%s%s\n", name, err, ok ? "ok" : "FAIL", *why ? ": " : "", why);
    CHECK(ok, "%s: relative error %.3g > %.3g %s", name, err, tol, why);
}

TEST(mrsnet_nano_matches_pytorch)
{
    golden_opts o = GOLDEN_DEFAULTS;
    o.row = row;
    CHECK(golden_mrsnet_run(GOLDEN, RR_CPU, &o) >= 0, "%s", rr_errmsg());
}

TEST(lavt_nano_matches_pytorch)
{
    golden_opts o = GOLDEN_DEFAULTS;
    o.row = row;
    CHECK(golden_mrsnet_run("tests/golden/lavt-nano/", RR_CPU, &o) >= 0, "%s", rr_errmsg());
}

/* rmsin-nano: RMSIN as a configuration (IIM: PWAM plus the various receptive
 * branch, CIM, RMSIN's decoder and loss), same tolerances. */
TEST(rmsin_nano_matches_pytorch)
{
    golden_opts o = GOLDEN_DEFAULTS;
    o.row = row;
    CHECK(golden_mrsnet_run("tests/golden/rmsin-nano/", RR_CPU, &o) >= 0, "%s", rr_errmsg());
}
