#!/usr/bin/python3
"""Draws the curves of an rrsis-train run (RUNDIR/log.jsonl) into a PNG.

Python 3 with matplotlib (Debian: python3-matplotlib); see --help.
"""
import argparse
import json
import os
import sys

DESCRIPTION = """\
Draws the loss and learning-rate curves and the validation metrics of an
rrsis-train run into one PNG: the training loss of every update (and its
moving average), its cross-entropy and Dice terms, the learning rate, the
validation loss, and the validation metrics (oIoU, mIoU, P@0.5, gIoU, cIoU,
N-acc by default), against the update number.  Skipped updates (a NaN or an
Inf) are marked.  A resumed run's log holds its segments one after the
other; every record is drawn once, by its step.

Exit status: 0 on success, 1 on an error (an unreadable or empty log, no
matplotlib), 2 on a usage error.
"""

METRICS = ["oiou", "miou", "p50", "giou", "ciou", "nacc"]


def read_log(path):
    steps, skips, vals = {}, [], {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise SystemExit(f"plot_log.py: {path}:{n}: not JSON ({e})")
            kind = rec.get("type")
            if kind == "step":
                steps[rec["step"]] = rec
            elif kind == "skip":
                skips.append(rec["step"])
            elif kind == "val":
                vals[rec["step"]] = rec
    return [steps[k] for k in sorted(steps)], sorted(skips), [vals[k] for k in sorted(vals)]


def moving_average(v, n):
    out, s = [], 0.0
    for i, x in enumerate(v):
        s += x
        if i >= n:
            s -= v[i - n]
        out.append(s / min(i + 1, n))
    return out


def main():
    ap = argparse.ArgumentParser(prog="plot_log.py", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log", help="the run's log.jsonl (or the run folder)")
    ap.add_argument("-o", "--output", help="the PNG to write (default: curves.png beside the log)")
    ap.add_argument("--metrics", default=",".join(METRICS),
                    help="validation metrics to draw, comma-separated (default %(default)s)")
    ap.add_argument("--smooth", type=int, default=50, help="moving-average window of the loss (default 50)")
    ap.add_argument("--title", help="the figure's title (default: the run folder)")
    a = ap.parse_args()
    path = os.path.join(a.log, "log.jsonl") if os.path.isdir(a.log) else a.log
    out = a.output or os.path.join(os.path.dirname(os.path.abspath(path)), "curves.png")
    if a.smooth < 1:
        ap.error("--smooth must be at least 1")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_log.py: matplotlib is not installed (Debian: apt-get install python3-matplotlib)")
    try:
        steps, skips, vals = read_log(path)
    except OSError as e:
        sys.exit(f"plot_log.py: {path}: {e.strerror}")
    if not steps:
        sys.exit(f"plot_log.py: {path}: no training steps in the log")
    metrics = [m for m in a.metrics.split(",") if m]

    x = [r["step"] for r in steps]
    num = lambda r, k: float("nan") if r.get(k) is None else r[k]
    fig, ax = plt.subplots(3 if vals else 2, 1, figsize=(10, 10 if vals else 7), sharex=True)
    loss = [num(r, "loss") for r in steps]
    ax[0].plot(x, loss, color="0.75", lw=0.6, label="loss")
    ax[0].plot(x, moving_average(loss, a.smooth), color="C0", lw=1.5, label=f"loss, mean of {a.smooth}")
    ax[0].plot(x, moving_average([num(r, "ce") for r in steps], a.smooth), color="C1", lw=1, label="CE term")
    ax[0].plot(x, moving_average([num(r, "dice") for r in steps], a.smooth), color="C2", lw=1, label="Dice term")
    if any("presence" in r for r in steps):
        ax[0].plot(x, moving_average([num(r, "presence") for r in steps], a.smooth), color="C4", lw=1,
                   label="presence term")
    if vals:
        ax[0].plot([v["step"] for v in vals], [num(v, "loss") for v in vals], "o-", color="C3", ms=3,
                   label="validation loss")
    for s in skips:
        ax[0].axvline(s, color="red", lw=0.5, alpha=0.5)
    ax[0].set_ylabel("loss")
    ax[0].legend(loc="upper right", fontsize=8)
    ax[0].grid(alpha=0.3)
    ax[1].plot(x, [num(r, "lr") for r in steps], color="C4")
    ax[1].set_ylabel("learning rate")
    ax[1].ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax[1].grid(alpha=0.3)
    if vals:
        vx = [v["step"] for v in vals]
        for m in metrics:
            ax[2].plot(vx, [num(v, m) for v in vals], "o-", ms=3, label=m)
        ax[2].set_ylabel("validation (%)")
        ax[2].legend(loc="lower right", fontsize=8)
        ax[2].grid(alpha=0.3)
    ax[-1].set_xlabel("update")
    fig.suptitle(a.title or os.path.basename(os.path.dirname(os.path.abspath(path))))
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=100)
    except OSError as e:
        sys.exit(f"plot_log.py: {out}: {e.strerror}")
    print(out)


if __name__ == "__main__":
    main()
