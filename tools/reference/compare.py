#!/usr/bin/python3
"""Relative error per tensor between a golden file and a C-produced one.

    /usr/bin/python3 tools/reference/compare.py tests/golden/mrsnet-nano/stages.safetensors c-stages.safetensors
    /usr/bin/python3 tools/reference/compare.py tests/golden/mrsnet-nano/grads.safetensors c-grads.safetensors

For each tensor of REF: err = ||test - ref|| / ||ref|| (2-norms over all
elements, in float64).  It passes when err <= max(TOL, 4 * d), where d is the
float32-vs-float64 difference the golden's metadata records for that tensor
(f64_rel_diff), and TOL is 1e-4 for a stages file, 1e-3 for a grads file.
Gradients that are zero in exact arithmetic (metadata null_grads, unused) are
checked absolutely instead: ||test|| <= 1e-5 * grad_norm (the norm of all the
golden's gradients together).  Tensors of TEST that REF lacks are listed, not
judged.  Exit status 0 when everything passes, 1 otherwise, 2 on a usage error.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io as st  # noqa: E402

NULL_BOUND = 1e-5


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ref", help="golden safetensors file")
    ap.add_argument("test", help="safetensors file to check")
    ap.add_argument("--tol", type=float, default=None,
                    help="relative tolerance (default 1e-3 for gradients, else 1e-4)")
    ap.add_argument("--prefix", default="", help="only tensors whose name starts with this")
    ap.add_argument("--failures", action="store_true", help="print only the failing tensors")
    args = ap.parse_args()
    try:
        ref, rmeta = st.load(args.ref)
        test, _ = st.load(args.test)
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write(f"compare.py: error: {e}\n")
        return 2
    is_grads = "null_grads" in rmeta or os.path.basename(args.ref).startswith("grads")
    tol = args.tol if args.tol is not None else (1e-3 if is_grads else 1e-4)
    diffs = json.loads(rmeta.get("f64_rel_diff", "{}"))
    null = set(json.loads(rmeta.get("null_grads", "[]"))) | set(json.loads(rmeta.get("unused", "[]")))
    gnorm = float(rmeta.get("grad_norm", "0") or 0)

    n_pass = n_fail = 0
    worst = (0.0, "")
    for name, r in ref.items():
        if not name.startswith(args.prefix):
            continue
        if name not in test:
            print(f"FAIL  missing          {name}")
            n_fail += 1
            continue
        t = test[name]
        if tuple(t.shape) != tuple(r.shape):
            print(f"FAIL  shape {list(t.shape)} != {list(r.shape)}  {name}")
            n_fail += 1
            continue
        r64, t64 = r.astype(np.float64), t.astype(np.float64)
        if not np.all(np.isfinite(t64)):
            print(f"FAIL  not finite       {name}")
            n_fail += 1
            continue
        if name in null:
            nt = float(np.linalg.norm(t64))
            bound = NULL_BOUND * gnorm
            ok = nt <= bound
            line = f"|t|={nt:.2e} <= {bound:.1e} (null)"
        else:
            nr = float(np.linalg.norm(r64))
            nd = float(np.linalg.norm(t64 - r64))
            err = nd / nr if nr > 0 else (0.0 if nd == 0 else float("inf"))
            lim = max(tol, 4 * diffs.get(name, 0.0))
            ok = err <= lim
            line = f"{err:.2e}" + (f" (tol {lim:.1e})" if lim != tol else "")
            if err > worst[0]:
                worst = (err, name)
        n_pass += ok
        n_fail += not ok
        if not ok or not args.failures:
            print(f"{'ok  ' if ok else 'FAIL'}  {line:26s} {name}  {list(r.shape)}")
    extra = [n for n in test if n not in ref and n.startswith(args.prefix)]
    for n in extra:
        print(f"note  not in the golden  {n}")
    print(f"{n_pass} passed, {n_fail} failed; worst relative error {worst[0]:.2e} ({worst[1] or '-'})")
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
