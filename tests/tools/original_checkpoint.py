"""Fake checkpoints of the original LAVT / RMSIN code for the tests of tools/convert.py,
and the check of a conversion.  Run by tests/cli/test_convert_{lavt,rmsin}.sh.

    original_checkpoint.py make REF_WEIGHTS OUT [--bert-apart] [--model NAME]
                                [--add KEY N0,N1,...] [--drop KEY]
        the reference's weights (a safetensors file) under the original names, in the
        layout train.py saves: {'model': state dict, 'optimizer', 'epoch', 'args',
        'lr_scheduler'}, with the buffers a real one holds (relative_position_index,
        num_batches_tracked, position_ids); BERT inside 'model' as text_encoder.*
        (the lavt_one model) or, with --bert-apart, as 'bert_model' (LAVT's train.py).
        --add puts in a zero tensor of that shape, --drop leaves a tensor out.

    original_checkpoint.py check REF_WEIGHTS CONVERTED REPORT
        prints "ok" when CONVERTED holds exactly REF_WEIGHTS' tensors, unchanged, and
        the report (convert.py --report) has nothing unused, initialised or missing;
        else what differs.
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "reference"))
import numpy as np  # noqa: E402
import safetensors_io as st  # noqa: E402


def make(a):
    import torch
    w, _ = st.load(a.ref)
    model, bert = OrderedDict(), OrderedDict()
    for k, v in w.items():
        if k == a.drop:
            continue
        v = torch.from_numpy(v.copy())
        if a.bert_apart and k.startswith("text_encoder."):
            bert[k[len("text_encoder."):]] = v
            continue
        model[k] = v
        if k.endswith(".attn.relative_position_bias_table"):   # a buffer of Swin's, rebuilt by us
            model[k.replace("bias_table", "index")] = torch.zeros(36, 36, dtype=torch.long)
        if k.endswith(".running_var"):
            model[k.replace("running_var", "num_batches_tracked")] = torch.tensor(1000)
    (bert if a.bert_apart else model)[("" if a.bert_apart else "text_encoder.") + "embeddings.position_ids"] = \
        torch.arange(32).unsqueeze(0)
    if a.add:
        model[a.add[0]] = torch.zeros(*[int(n) for n in a.add[1].split(",")])
    out = {"model": model, "optimizer": {"state": {}, "param_groups": [{"lr": 5e-5, "weight_decay": 0.01}]},
           "lr_scheduler": {"last_epoch": 40}, "epoch": 40,
           "args": argparse.Namespace(model=a.model, swin_type="base")}
    if a.bert_apart:
        out["bert_model"] = bert
    torch.save(out, a.out)


def check(a):
    ref, _ = st.load(a.ref)
    got, _ = st.load(a.converted)
    with open(a.report) as f:
        rep = json.load(f)
    unused = [k for v in rep["unused"].values() for k in v]
    diff = [k for k in ref if k not in got or got[k].shape != ref[k].shape or not np.array_equal(got[k], ref[k])]
    if set(got) != set(ref) or diff:
        print("tensors differ: %s" % (diff[:3] or sorted(set(got) ^ set(ref))[:3]))
    elif unused or rep["initialised"] or rep["missing"]:
        print("unused %s, initialised %d, missing %d" % (unused[:2], len(rep["initialised"]), len(rep["missing"])))
    else:
        print("ok")


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("ref")
    m.add_argument("out")
    m.add_argument("--bert-apart", action="store_true")
    m.add_argument("--model", default="lavt_one")
    m.add_argument("--add", nargs=2, metavar=("KEY", "SHAPE"))
    m.add_argument("--drop", metavar="KEY")
    c = sub.add_parser("check")
    c.add_argument("ref")
    c.add_argument("converted")
    c.add_argument("report")
    a = p.parse_args()
    (make if a.cmd == "make" else check)(a)


if __name__ == "__main__":
    main()
