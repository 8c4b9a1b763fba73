#!/usr/bin/python3
"""Golden tensors of the MRSNet reference for the C implementation.

    /usr/bin/python3 tools/reference/make_goldens.py --out tests/golden/mrsnet-nano
        mrsnet-nano, batch 2 (sample 1 has an all-zero target), training-mode
        forward (BN batch statistics) with every dropout/DropPath off, in float32;
        writes weights, inputs, stages, grads (.safetensors) and f64-vs-f32.txt.

    /usr/bin/python3 tools/reference/make_goldens.py --config share/configs/lavt-nano.json \\
        --out tests/golden/lavt-nano
        the same for LAVT as a configuration (PWAM, no cross-scale module, LAVT's decoder);
        share/configs/rmsin-nano.json into tests/golden/rmsin-nano likewise (RMSIN: IIM, CIM).

    /usr/bin/python3 tools/reference/make_goldens.py --config share/configs/mrsnet-b.json \\
        --forward-only --size 480 --out /tmp/mrsnet-b
        one forward of mrsnet-b (eval mode by default) with seeded random weights.

See tools/reference/README for the names of the tensors written.
"""
import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import mrsnet  # noqa: E402
import safetensors_io as st  # noqa: E402
import wordpiece  # noqa: E402

SENTENCES = [
    "the white plane on the left",
    # 19 word-pieces: [CLS] + 19 + [SEP] = 21 ids, cut to 20: no [SEP] and no padding.
    "all the small grey vehicles parked beside the roundabout, next to the long warehouse's loading docks",
]
# Targets of the three ARC layers (decoder levels 4, 3, 2) for samples 0 and 1: angles
# of both signs (both rotation tables in one batch), and gates far apart (with equal
# gates the train-mode BN after the ARC cancels their common part, leaving a near-null,
# noise-dominated gradient for fc_alpha.bias).
THETAS = {4: (0.35, -0.20), 3: (-0.30, 0.15), 2: (0.25, -0.40)}
ALPHAS = {4: (0.30, 0.70), 3: (0.75, 0.40), 2: (0.60, 0.25)}


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def make_inputs(cfg, batch, size, seed):
    """A synthetic aerial-like scene per sample, the sentences' ids, and targets
    (sample 0: the bright plane on the left; every other sample: no target)."""
    g = torch.Generator().manual_seed(seed)
    vocab = wordpiece.load_vocab(os.path.join(ROOT, "share/vocab/bert-base-uncased.txt"))
    imgs, targets, ids, masks = [], [], [], []
    for b in range(batch):
        low = torch.rand(1, 3, 8, 8, generator=g) * 0.5 + 0.2
        img = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)[0]
        img = img + 0.05 * torch.randn(3, size, size, generator=g)
        tgt = torch.zeros(size, size, dtype=torch.uint8)
        s = size / 128
        if b == 0:   # a bright plane on the left (the target), a vehicle, a dark roof
            boxes = [(20, 8, 28, 22, 0.95), (80, 70, 20, 30, 0.9), (60, 100, 16, 12, 0.1)]
        else:        # no target: the sentence names nothing in this scene
            boxes = [(40, 50, 24, 18, 0.85), (90, 10, 14, 40, 0.15)]
        for k, (y, x, hh, ww, v) in enumerate(boxes):
            y0, x0 = int(y * s), int(x * s)
            y1, x1 = y0 + int(hh * s), x0 + int(ww * s)
            img[:, y0:y1, x0:x1] = v
            if b == 0 and k == 0:
                tgt[y0:y1, x0:x1] = 1
        img = img.clamp(0, 1)
        mean = torch.tensor(cfg["pixel_mean"]).view(3, 1, 1)
        std = torch.tensor(cfg["pixel_std"]).view(3, 1, 1)
        imgs.append((img - mean) / std)
        targets.append(tgt)
        i, m = wordpiece.encode(SENTENCES[b % len(SENTENCES)], vocab, cfg["text"]["max_len"])
        ids.append(i)
        masks.append(m)
    return {
        "image": torch.stack(imgs).float(),
        "input_ids": torch.tensor(ids, dtype=torch.int32),
        "attention_mask": torch.tensor(masks, dtype=torch.int32),
        "target": torch.stack(targets),
    }


def run(model, inp, dtype, train=True, backward=True):
    """One forward (and backward) in dtype; returns (trace, loss parts, grads)."""
    model = model.to(dtype)
    model.train(train)
    image = inp["image"].to(dtype)
    ids = inp["input_ids"].long()
    mask = inp["attention_mask"].long()
    trace = {}
    model.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(backward):
        logits = model(image, ids, mask, trace)
        if not backward:
            return trace, None, None
        loss, parts = mrsnet.loss_fn(logits, inp["target"].long(), model.cfg)
    loss.backward()
    grads = {}
    for name, p in model.named_parameters():
        grads[name] = p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
    trace["loss"] = loss.detach().reshape(1)
    trace["loss.ce"] = parts["ce"].detach().reshape(1)
    trace["loss.dice"] = parts["dice"].detach().reshape(1)
    return trace, parts, grads


def stage_tensors(trace, model, with_grads=True, phases=False):
    """The trace's stages; the PSR's phases (*.psr.P{s}) only when phases."""
    out = {}
    for k, v in trace.items():
        if ".psr.P" in k and not phases:
            continue
        out[k] = v.detach().float().contiguous()
        if with_grads and v.grad is not None and k in GRAD_STAGES:
            out["grad." + k] = v.grad.detach().float().contiguous()
    for name, b in model.named_buffers():
        if name.endswith(".running_mean") or name.endswith(".running_var"):
            out["bn_running." + name] = b.detach().float().clone()
    return out


GRAD_STAGES = {"text.L", "logits", "decoder.out", "hfim.X", "hfim.Y",
               "hfim.D1", "hfim.D2", "hfim.D3", "hfim.D4",
               "cim.Y", "cim.D1", "cim.D2", "cim.D3", "cim.D4", "stage1.V", "stage2.V", "stage3.V",
               "stage1.E", "stage2.E", "stage3.E", "stage4.E",
               "stage1.X", "stage2.X", "stage3.X", "stage4.X", "patch_embed"}


def tweak_gates(model, inp, seed):
    """Golden-only: redraws the stage gates' weights (res_gate.0, res_gate.2 of stages
    1-3, and visual_gate.0, .2 where the stage has RMSIN's) as N(0, 1/(rms(input)^2 C)), so that the gate's pre-activation is about unit
    size and the gated term is a few per cent of the stream, not 1e-6 of it as with
    the trunc_normal(.02) init (invisible to a 1e-4 forward check).  Stage by stage,
    as each changes the next one's input.  BN running statistics are restored."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(seed)
    for i in range(3):
        # RMSIN's stages (fusion "iim") have a second gate, on the various receptive branch.
        for name in ("res_gate", "visual_gate"):
            gate = getattr(model.backbone.layers[i], name, None)
            if gate is None:
                continue
            got = {}
            h = gate[0].register_forward_hook(lambda m, a, o: got.__setitem__("f", a[0].detach()))
            with torch.no_grad():
                run(model, inp, torch.float64, train=True, backward=False)
            h.remove()
            f = got["f"]
            c = f.shape[-1]
            with torch.no_grad():
                w1 = torch.randn(c, c, generator=g, dtype=torch.float64) / (f.pow(2).mean().sqrt() * math.sqrt(c))
                hid = torch.relu(f @ w1.T)
                w2 = torch.randn(c, c, generator=g, dtype=torch.float64) / (hid.pow(2).mean().sqrt() * math.sqrt(c))
                gate[0].weight.copy_(w1.to(gate[0].weight.dtype))
                gate[2].weight.copy_(w2.to(gate[2].weight.dtype))
            for j in (0, 2):
                saved[f"backbone.layers.{i}.{name}.{j}.weight"] = gate[j].weight.detach().clone()
    model.load_state_dict(saved)


def tweak_routing(model, inp):
    """Golden-only: sets each ARC's fc_theta and fc_alpha weights (in the span of the
    two samples' routing features) so that the samples get the THETAS and ALPHAS
    above.  Level by level, as each changes the next one's input.  BN running
    statistics are restored afterwards."""
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    d = model.classifier
    prop = d.conv2_4.rounting_func.proportion
    for k in (4, 3, 2):
        rf = getattr(d, f"conv2_{k}").rounting_func
        got = {}
        h = rf.fc_theta.register_forward_hook(lambda m, i, o: got.__setitem__("g", i[0].detach()))
        with torch.no_grad():
            run(model, inp, torch.float64, train=True, backward=False)
        h.remove()
        g = got["g"][:2]                                   # 2 x C (GAP features)
        gram = g @ g.T
        ut = []
        for th in THETAS[k]:
            s = th / prop                                  # softsign(u) = s
            ut.append(s / (1 - abs(s)))
        b = float(rf.fc_alpha.bias[0])
        ua = [math.log(a / (1 - a)) - b for a in ALPHAS[k]]
        for lin, u in ((rf.fc_theta, ut), (rf.fc_alpha, ua)):
            coef = torch.linalg.solve(gram, torch.tensor(u, dtype=g.dtype))
            w = (coef[:, None] * g).sum(0)
            with torch.no_grad():
                lin.weight.copy_(w.to(lin.weight.dtype).reshape(1, -1))
        for nm in ("fc_theta", "fc_alpha"):
            key = f"classifier.conv2_{k}.rounting_func.{nm}.weight"
            saved[key] = getattr(rf, nm).weight.detach().clone()
    model.load_state_dict(saved)


def rel(a, r):
    a, r = a.double(), r.double()
    nr = r.norm().item()
    nd = (a - r).norm().item()
    return nd / nr if nr > 0 else (0.0 if nd == 0 else float("inf"))


def fmt_size(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def goldens(args):
    cfg_nominal = mrsnet.load_config(args.config)
    cfg = mrsnet.without_dropout(cfg_nominal)
    size = args.size or cfg["image_size"]
    cfg["image_size"] = size
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)   # the same bits on every machine with the same torch build

    model = mrsnet.MRSNet(cfg)
    mrsnet.init_weights(model, args.seed)
    inp = make_inputs(cfg, args.batch, size, args.seed + 1)
    if not args.no_tweaks:
        tweak_gates(model.double(), inp, args.seed + 2)
        if cfg["decoder"]["kind"] == "rmsin":   # LAVT's decoder has no routing
            tweak_routing(model.double(), inp)
        model.float()
    weights = {k: v.float().clone() for k, v in mrsnet.state_tensors(model).items()}
    cfg_json = json.dumps(cfg, separators=(",", ":"))
    meta_common = {"format": "rrsis-golden/1", "config_name": cfg["name"], "seed": str(args.seed)}

    # float32: the goldens
    t0 = time.time()
    tr32, parts32, gr32 = run(model, inp, torch.float32)
    log(f"make_goldens: float32 forward+backward {time.time() - t0:.1f} s, "
        f"loss {tr32['loss'].item():.6f} (ce {parts32['ce'].item():.6f}, dice {parts32['dice'].item():.6f})")
    stages32 = stage_tensors(tr32, model)

    # float64: the same run, for the precision report
    model64 = mrsnet.MRSNet(cfg)
    mrsnet.load_state(model64, weights)
    tr64, _, gr64 = run(model64, inp, torch.float64)
    stages64 = stage_tensors(tr64, model64)

    # tensors whose exact gradient is 0: unused (p.grad None) or cancelled (a bias
    # before an InstanceNorm, a key bias under softmax); f32 leaves rounding noise.
    gnorm64 = math.sqrt(sum(float(g.double().norm()) ** 2 for g in gr64.values()))
    unused = sorted(n for n, g in gr32.items() if float(g.abs().max()) == 0.0
                    and float(gr64[n].abs().max()) == 0.0)
    null = sorted(n for n, g in gr64.items() if n not in unused
                  and float(g.double().norm()) <= 1e-12 * gnorm64)
    # Near-null gradients float32 cannot resolve: below 1e-6 of the whole and not
    # within the C tolerance (1e-3) of the float64 value (RMSIN's RepBlock: 1-channel
    # convolutions under training-mode BN, nearly scale-free).  Held to the null bound.
    null = sorted(set(null) | {n for n, g in gr64.items() if n not in unused
                               and float(g.double().norm()) <= 1e-6 * gnorm64
                               and rel(gr32[n], g) > 1e-3})
    # Running means that are 0 in exact arithmetic (CIM's qkv BN: the mean of
    # BN outputs with bias 0 through a bias-free Linear) hold only rounding noise:
    # not compared.
    zero_stats = sorted(k for k, v in stages64.items() if k.startswith("bn_running.")
                        and float(v.double().norm()) <= 1e-12)
    for k in zero_stats:
        del stages32[k], stages64[k]
    null_noise = max([float(gr32[n].double().norm()) / gnorm64 for n in null] or [0.0])

    st.save(os.path.join(args.out, "weights.safetensors"), weights,
            dict(meta_common, config=cfg_json, dropout="all dropout and DropPath probabilities set to 0 "
                 "for the golden run; the nominal configuration is share/configs/" + cfg["name"] + ".json"))
    st.save(os.path.join(args.out, "inputs.safetensors"), inp,
            dict(meta_common, sentences=json.dumps(SENTENCES[:args.batch])))
    sdiff = {k: float(f"{rel(stages32[k], stages64[k]):.3g}") for k in stages32}
    gdiff = {k: float(f"{rel(gr32[k], gr64[k]):.3g}") for k in gr32 if k not in unused and k not in null}
    if args.store_f64:   # the float64 run's values, rounded to float32
        stages32 = {k: v.float() for k, v in stages64.items()}
        gr32 = {k: v.float() for k, v in gr64.items()}
        meta_common["computed_in"] = "float64"
    else:
        meta_common["computed_in"] = "float32"
    st.save(os.path.join(args.out, "stages.safetensors"), stages32,
            dict(meta_common, mode="train (BN batch statistics), no dropout", dtype="float32",
                 f64_rel_diff=json.dumps(sdiff, separators=(",", ":"))))
    st.save(os.path.join(args.out, "grads.safetensors"), {k: v.float() for k, v in gr32.items()},
            dict(meta_common, unused=json.dumps(unused), null_grads=json.dumps(null),
                 grad_norm=repr(gnorm64), f64_rel_diff=json.dumps(gdiff, separators=(",", ":"))))

    # precision report
    lines = ["# float32 vs float64 relative difference (||f32 - f64|| / ||f64||), "
             f"{cfg['name']}, batch {args.batch}, {size}x{size}, train-mode BN, no dropout", "",
             "## stages", ""]
    for k in stages32:
        lines.append(f"{rel(stages32[k], stages64[k]):.2e}  {k}  {list(stages32[k].shape)}")
    lines += ["", "## parameter gradients (unused and null ones listed apart)", ""]
    worst = []
    for k in gr32:
        if k in unused or k in null:
            continue
        worst.append((rel(gr32[k], gr64[k]), k))
    worst.sort(reverse=True)
    for e, k in worst:
        lines.append(f"{e:.2e}  {k}")
    lines += ["", f"## unused (gradient exactly 0 in both): {len(unused)}", ""] + unused
    lines += ["", f"## null (gradient 0 in exact arithmetic; f32 noise up to {null_noise:.1e} "
              "of the total gradient norm): " + str(len(null)), ""] + null
    if zero_stats:
        lines += ["", f"## running statistics 0 in exact arithmetic (not compared): {len(zero_stats)}", ""] + zero_stats
    with open(os.path.join(args.out, "f64-vs-f32.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

    smax = max(rel(stages32[k], stages64[k]) for k in stages32)
    gmax = worst[0] if worst else (0.0, "-")
    log(f"make_goldens: f32 vs f64: worst stage {smax:.2e}, worst gradient {gmax[0]:.2e} ({gmax[1]})")
    log(f"make_goldens: {len(unused)} unused and {len(null)} null gradients (noise <= {null_noise:.1e} of the norm)")
    for k in (4, 3, 2) if cfg["decoder"]["kind"] == "rmsin" else ():
        a, t = tr32[f"decoder.l{k}.alpha"].flatten().tolist(), tr32[f"decoder.l{k}.theta"].flatten().tolist()
        log(f"make_goldens: ARC level {k}: alpha {a[0]:.3f} {a[1]:.3f}, theta {t[0]:+.3f} {t[1]:+.3f}")
    total = 0
    for fn in sorted(os.listdir(args.out)):
        n = os.path.getsize(os.path.join(args.out, fn))
        total += n
        log(f"  {fn:24s} {fmt_size(n)}")
    log(f"  {'total':24s} {fmt_size(total)}")


def forward_only(args):
    tensors = None
    if args.weights:
        tensors, wmeta = st.load(args.weights)
    if args.config:
        cfg = mrsnet.load_config(args.config)
    elif tensors is not None and "config" in wmeta:
        cfg = mrsnet.make_config(json.loads(wmeta["config"]))
    else:
        sys.exit("make_goldens: --forward-only needs --config (or --weights with a config in its metadata)")
    cfg = mrsnet.without_dropout(cfg)   # no dropout, in either mode
    size = args.size or cfg["image_size"]
    cfg["image_size"] = size
    mrsnet.check_config(cfg)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model = mrsnet.MRSNet(cfg)
    if args.phase_sides:
        with open(args.phase_sides) as f:
            mrsnet.set_phase_sides(model, json.load(f))
    if tensors is not None:
        missing = mrsnet.load_state(model, tensors, partial=args.partial)
        if missing:
            log(f"make_goldens: {len(missing)} tensors missing from {args.weights}, left at their seeded init")
    else:
        mrsnet.init_weights(model, args.seed)
    state0 = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}
    if args.inputs:
        t, _ = st.load(args.inputs)
        inp = {k: torch.from_numpy(v.copy()) for k, v in t.items()}
    else:
        inp = make_inputs(cfg, args.batch, size, args.seed + 1)
    if not args.weights:
        st.save(os.path.join(args.out, "weights.safetensors"), mrsnet.state_tensors(model),
                {"format": "rrsis-golden/1", "config": json.dumps(cfg, separators=(",", ":")),
                 "seed": str(args.seed)})
    st.save(os.path.join(args.out, "inputs.safetensors"), inp, {"format": "rrsis-golden/1"})
    t0 = time.time()
    trace, _, _ = run(model, inp, torch.float32, train=args.train_mode, backward=False)
    log(f"make_goldens: {cfg['name']} forward at {size}x{size}, batch {inp['image'].shape[0]}, "
        f"{'train' if args.train_mode else 'eval'} mode: {time.time() - t0:.1f} s")
    stages = stage_tensors(trace, model, with_grads=False, phases=True)
    del trace
    meta = {"format": "rrsis-golden/1", "mode": "train" if args.train_mode else "eval", "dtype": "float32"}
    if args.f64_check:
        t0 = time.time()
        model = model.double()   # same weights (and the same BN statistics before the run)
        if args.train_mode:
            for name, b in model.named_buffers():
                if name.endswith(".running_mean") or name.endswith(".running_var"):
                    b.copy_(state0[name])
        tr64, _, _ = run(model, inp, torch.float64, train=args.train_mode, backward=False)
        s64 = stage_tensors(tr64, model, with_grads=False, phases=True)
        diff = {k: rel(stages[k], s64[k]) for k in stages}
        meta["f64_rel_diff"] = json.dumps({k: float(f"{v:.3g}") for k, v in diff.items()}, separators=(",", ":"))
        with open(os.path.join(args.out, "f64-vs-f32.txt"), "w") as f:
            f.write(f"# float32 vs float64, {cfg['name']} forward at {size}x{size}, "
                    f"{'train' if args.train_mode else 'eval'} mode\n\n")
            for k, v in diff.items():
                f.write(f"{v:.2e}  {k}  {list(stages[k].shape)}\n")
        log(f"make_goldens: float64 forward {time.time() - t0:.1f} s; worst f32-vs-f64 stage "
            f"{max(diff.values()):.2e} ({max(diff, key=diff.get)})")
    st.save(os.path.join(args.out, "stages.safetensors"), stages, meta)
    log(f"make_goldens: wrote {args.out}/{{weights,inputs,stages}}.safetensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", help="configuration (goldens: share/configs/mrsnet-nano.json; "
                    "forward-only: this, or the one in --weights)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=2401)
    ap.add_argument("--batch", type=int, default=None, help="batch size (goldens 2, forward-only 1)")
    ap.add_argument("--size", type=int, default=None, help="image size (default: the config's)")
    ap.add_argument("--forward-only", action="store_true",
                    help="one forward, no loss or gradients (for mrsnet-b at 480)")
    ap.add_argument("--train-mode", action="store_true",
                    help="with --forward-only: BN batch statistics instead of running statistics")
    ap.add_argument("--weights", help="with --forward-only: load these weights instead of seeding")
    ap.add_argument("--partial", action="store_true", help="with --weights: allow missing tensors")
    ap.add_argument("--f64-check", action="store_true",
                    help="with --forward-only: also run in float64 and report the differences")
    ap.add_argument("--inputs", help="with --forward-only: use this inputs.safetensors")
    ap.add_argument("--phase-sides", help="with --forward-only: a JSON file {stage name of a PSR phase: "
                    "[flat indices]} (tests/tools/mrsnet_forward --sides writes it): those phases, "
                    "within mrsnet.PHASE_CUT_MARGIN of atan2's cut, taken on its other side")
    ap.add_argument("--store-f64", action="store_true",
                    help="goldens: store the float64 run's stages and gradients (rounded to float32)")
    ap.add_argument("--no-tweaks", action="store_true",
                    help="goldens: keep the seeded init of the stage gates and the ARC routing")
    args = ap.parse_args()
    if args.forward_only:
        args.batch = args.batch or 1
        forward_only(args)
    else:
        args.batch = args.batch or 2
        args.config = args.config or os.path.join(ROOT, "share/configs/mrsnet-nano.json")
        if args.batch < 2:
            ap.error("the goldens need a batch of at least 2")
        goldens(args)


if __name__ == "__main__":
    main()
