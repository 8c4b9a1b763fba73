#!/usr/bin/python3
"""The PyTorch side of bench/cpu-forward: the same two cases as bench/cpu_forward.c,
in the reference (tools/reference/mrsnet.py), on the CPU, float32.

    b-infer     mrsnet-b inference at 480x480, batch 1: model.eval(), torch.no_grad().
    nano-train  a mrsnet-nano training step at batch 8, 128x128: zero_grad(set_to_none),
                forward in train mode (the configuration's dropout and DropPath on),
                mrsnet.loss_fn, backward.  No optimizer step.

Seeded random weights (mrsnet.init_weights) and inputs (a normal image, "the white
plane on the left" as ids 101 1996 2317 4946 2006 1996 2187 102 and 12 pads, a box as
the target).  Stdout: one line per case, "CASE MEDIAN_S MIN_S MAX_S RUNS PEAK_RSS_MIB" (the
process's peak resident memory so far, getrusage's ru_maxrss: run one case per process to
read it per case); progress on stderr.  Needs Debian's python3-torch: run it with /usr/bin/python3.

    /usr/bin/python3 bench/cpu_forward.py [--threads N] [--runs N] [--warmup N] [--case NAME]
"""
import argparse
import os
import resource
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))

import torch  # noqa: E402

import mrsnet  # noqa: E402

NTOK = 20
SENTENCE = [101, 1996, 2317, 4946, 2006, 1996, 2187, 102]


def inputs(cfg, batch):
    s = cfg["image_size"]
    g = torch.Generator().manual_seed(2402)
    img = torch.randn(batch, 3, s, s, generator=g)
    ids = torch.zeros(batch, NTOK, dtype=torch.long)
    mask = torch.zeros(batch, NTOK, dtype=torch.long)
    ids[:, :len(SENTENCE)] = torch.tensor(SENTENCE)
    mask[:, :len(SENTENCE)] = 1
    target = torch.zeros(batch, s, s, dtype=torch.long)
    target[:, s // 4:s // 2, s // 8:s // 3] = 1
    return img, ids, mask, target


def run_case(name, config, batch, train, warmup, runs):
    cfg = mrsnet.load_config(config)
    model = mrsnet.MRSNet(cfg)
    mrsnet.init_weights(model, 2401)
    model.train(train)
    img, ids, mask, target = inputs(cfg, batch)

    def step():
        if train:
            model.zero_grad(set_to_none=True)
            loss, _ = mrsnet.loss_fn(model(img, ids, mask), target, cfg)
            loss.backward()
        else:
            with torch.no_grad():
                model(img, ids, mask)

    times = []
    for i in range(warmup + runs):
        t0, cpu0 = time.perf_counter(), time.process_time()
        step()
        dt, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        kind, k = ("warm-up", i + 1) if i < warmup else ("run", i - warmup + 1)
        sys.stderr.write(f"cpu_forward.py: {name} {kind} {k}: {dt:.3f} s (CPU time {cpu:.3f} s)\n")
        if i >= warmup:
            times.append(dt)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"{name} {statistics.median(times):.4f} {min(times):.4f} {max(times):.4f} {runs} {peak:.0f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--case", choices=["b-infer", "nano-train"])
    ap.add_argument("--configs", default=os.path.join(ROOT, "share", "configs"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sys.stderr.write(f"cpu_forward.py: torch {torch.__version__}, {torch.get_num_threads()} threads, "
                     f"{args.warmup} warm-up + {args.runs} timed runs per case\n")
    if args.case in (None, "b-infer"):
        run_case("b-infer", os.path.join(args.configs, "mrsnet-b.json"), 1, False, args.warmup, args.runs)
    if args.case in (None, "nano-train"):
        run_case("nano-train", os.path.join(args.configs, "mrsnet-nano.json"), 8, True, args.warmup, args.runs)


if __name__ == "__main__":
    main()
