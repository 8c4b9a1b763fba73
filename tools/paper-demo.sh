#!/bin/sh
# make paper-demo: the MRSNet paper's Table II (LAVT, RMSIN, MRSNet) and
# Table III (PSR only, CSR only, both) made by share/experiments/paper.mk at
# nano scale, from scratch, on synthetic scenes, on the CPU: the whole recipe
# for people without a GPU, in well under half an hour on 2 cores.  The
# numbers say what a few hundred updates of the nano models learn on easy
# scenes, nothing about NWPU-Refer.
#
#   PAPER_DEMO_OUT  the work folder (default build/paper-demo); a second run
#                   reuses its scenes and finished trainings (make's rules)
#   PAPER_DEMO_JOBS trainings at once (default 2), one OpenMP thread each
#                   unless OMP_NUM_THREADS is set
set -eu
# Waiting OpenMP threads sleep instead of spinning (README, Performance).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
. tools/openblas-coretype.sh
out=${PAPER_DEMO_OUT:-build/paper-demo}
jobs=${PAPER_DEMO_JOBS:-2}

# Scenes the nano models learn from in minutes: the easy preset with objects
# twice the standard length, as the demo model's (tools/demo-model.sh).
if [ ! -s "$out/data/test.jsonl" ]; then
    rm -rf "$out/data"
    bin/rrsis-synth --preset easy --object-scale 2 --train 2400 --val 100 --test 200 --seed 2027 -q -o "$out/data"
fi

# The paper's settings (paper.mk) but for the length: 2 epochs of 300
# updates of 8 samples a training.
start=$(date +%s)
make -j"$jobs" -f share/experiments/paper.mk DATA="$out/data" OUT="$out/runs" SCALE=nano DEVICE=cpu \
    EPOCHS=2 TRAIN_RUN_FLAGS="--log-every 100" all
echo "make paper-demo: $(($(date +%s) - start)) s; the tables in $out/runs/table2.md and table3.md" \
    "(.csv, .json), the runs in $out/runs/" >&2
