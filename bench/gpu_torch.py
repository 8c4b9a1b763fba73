"""The PyTorch side of the GPU benchmark (bench/gpu.sh runs it beside
bench/gpu_bench.c and compares them): the reference model tools/reference/mrsnet.py,
eager, TF32 on (torch.backends.cuda.matmul.allow_tf32 and cudnn.allow_tf32),
the same configuration, seeded weights and the same kind of synthetic batch.

    python3 bench/gpu_torch.py train [--config FILE] [--size S] [--batch B] [--warmup W] [--steps N]
    python3 bench/gpu_torch.py infer [--config FILE] [--size S] [--batch B] [--warmup W] [--runs N]
    common: --device cuda|cpu (default cuda), --seed N, --threads N (CPU threads)

train: per step, optimizer.zero_grad(set_to_none=True), the forward in train mode,
mrsnet.loss_fn, backward, the global L2 norm of the optimised parameters' gradients
(as our trainer computes it every step; clip_grad_norm_'s sum without its multiply),
AdamW (betas 0.9/0.999, eps 1e-8, weight decay 0.01 except the
backbone's norms and relative position tables; torch's default implementation)
over every parameter but BERT's embeddings and layers >= train_layers (these still
get gradients, doc/network.md, BERT), then loss.item(), which waits for the GPU.  infer: eval
mode, torch.no_grad, the logits copied to the host.  Defaults as gpu_bench:
train batch 8, 2 warm-up and 5 timed steps; infer batch 1, 3 warm-up and 10 runs.

The last line has the format of gpu_bench's:
  gpu_bench: RESULT side=torch mode=train config=... ms_median=... peak_mib=...
peak_mib is torch.cuda.max_memory_allocated, reserved_mib max_memory_reserved,
device_mib the growth of the device's used memory (torch.cuda.mem_get_info) from
after CUDA's start to the end; -1 on the CPU.  BENCH_CUDNN_BENCHMARK=1 sets
torch.backends.cudnn.benchmark (default off, PyTorch's default)."""
import argparse
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))

import torch  # noqa: E402

import mrsnet  # noqa: E402


def set_tf32():
    """TF32 on for matmuls and cuDNN convolutions; 1 when they read back as on."""
    try:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return int(bool(torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32))
    except Exception:  # a torch without the legacy switches: their successors
        pass
    try:
        torch.backends.cuda.matmul.fp32_precision = "tf32"
        torch.backends.cudnn.conv.fp32_precision = "tf32"
        return 1
    except Exception:
        return 0


def make_batch(cfg, b, s, seed, dev):
    """Normal images, [CLS] words [SEP] + padding of random length, a rectangle target."""
    g = torch.Generator().manual_seed(seed)
    n_l, vocab = cfg["text"]["max_len"], cfg["text"]["vocab_size"]
    img = torch.randn(b, 3, s, s, generator=g)
    ids = torch.zeros(b, n_l, dtype=torch.long)
    mask = torch.zeros(b, n_l, dtype=torch.long)
    target = torch.zeros(b, s, s, dtype=torch.long)
    for i in range(b):
        ln = 3 + int(torch.randint(0, n_l - 3, (1,), generator=g))
        words = torch.randint(1000, min(21000, vocab), (ln,), generator=g)
        words[0], words[ln - 1] = 101, 102
        ids[i, :ln] = words
        mask[i, :ln] = 1
        x0, y0 = (int(v) for v in torch.randint(0, s // 2, (2,), generator=g))
        target[i, y0:y0 + s // 3, x0:x0 + s // 4] = 1
    return img.to(dev), ids.to(dev), mask.to(dev), target.to(dev)


def optimised(name, cfg):
    """Whether the optimiser updates this parameter (doc/network.md, BERT; doc/training.md, Optimizer groups)."""
    if name.startswith("text_encoder.embeddings."):
        return False
    pre = "text_encoder.encoder.layer."
    if name.startswith(pre):
        return int(name[len(pre):].split(".")[0]) < cfg["text"]["train_layers"]
    return True


def no_decay(name):
    return name.startswith("backbone.") and any(
        k in name for k in ("norm", "absolute_pos_embed", "relative_position_bias_table"))


def grad_norm(params):
    """The global L2 norm of the gradients (clip_grad_norm_'s, without its multiply)."""
    grads = [p.grad for p in params if p.grad is not None]
    if hasattr(torch, "_foreach_norm"):
        norms = torch._foreach_norm(grads)
    else:
        norms = [torch.linalg.vector_norm(g) for g in grads]
    return torch.linalg.vector_norm(torch.stack(list(norms)))


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mode", choices=["train", "infer"])
    ap.add_argument("--config", default="share/configs/mrsnet-b.json")
    ap.add_argument("--size", type=int, default=0)
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=-1)
    ap.add_argument("--steps", "--runs", dest="steps", type=int, default=0)
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--seed", type=int, default=2401)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    train = a.mode == "train"
    b = a.batch or (8 if train else 1)
    warm = a.warmup if a.warmup >= 0 else (2 if train else 3)
    n = a.steps or (5 if train else 10)
    if a.threads:
        torch.set_num_threads(a.threads)

    cfg = mrsnet.load_config(a.config)
    if a.size:
        cfg["image_size"] = a.size
        mrsnet.check_config(cfg)
    s = cfg["image_size"]
    if a.device == "cuda" and not torch.cuda.is_available():
        print("gpu_torch: no CUDA device", file=sys.stderr)
        return 1
    dev = torch.device(a.device)
    tf32 = 0
    base = -1
    if dev.type == "cuda":
        tf32 = set_tf32()
        torch.backends.cudnn.benchmark = os.environ.get("BENCH_CUDNN_BENCHMARK", "0") == "1"
        torch.cuda.init()
        torch.zeros(1, device=dev)  # the context, before the baseline
        free, total = torch.cuda.mem_get_info()
        base = total - free
        torch.cuda.reset_peak_memory_stats()

    t0 = time.time()
    model = mrsnet.MRSNet(cfg)
    mrsnet.init_weights(model, seed=a.seed)
    model.to(dev)
    img, ids, mask, target = make_batch(cfg, b, s, a.seed + 1, dev)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"gpu_torch: {cfg['name']} ({nparam / 1e6:.1f} M parameters) on "
          f"{torch.cuda.get_device_name() if dev.type == 'cuda' else 'cpu'}, torch {torch.__version__}, "
          f"built in {time.time() - t0:.1f} s", file=sys.stderr)

    times, finite = [], True
    if train:
        model.train()
        decay, nodecay = [], []
        for name, p in model.named_parameters():
            if optimised(name, cfg):
                (nodecay if no_decay(name) else decay).append(p)
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                                 {"params": nodecay, "weight_decay": 0.0}],
                                lr=1e-5, betas=(0.9, 0.999), eps=1e-8)
        params = decay + nodecay
        for i in range(warm + n):
            sync(dev)
            t = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            logits = model(img, ids, mask)
            loss, _ = mrsnet.loss_fn(logits, target, cfg)
            loss.backward()
            norm = grad_norm(params)
            opt.step()
            lv = loss.item()
            t = time.perf_counter() - t
            finite &= math.isfinite(lv) and math.isfinite(float(norm))
            if i >= warm:
                times.append(t)
            print(f"gpu_torch: train {'warm-up' if i < warm else 'step'} {i + 1 if i < warm else i - warm + 1}: "
                  f"loss {lv:.5f}, gradient norm {float(norm):.4g}, {t * 1e3:.1f} ms", file=sys.stderr)
        flops_mode = "train"
    else:
        model.eval()
        with torch.no_grad():
            for i in range(warm + n):
                sync(dev)
                t = time.perf_counter()
                logits = model(img, ids, mask).cpu()
                t = time.perf_counter() - t
                finite &= bool(torch.isfinite(logits).all())
                if i >= warm:
                    times.append(t)
                print(f"gpu_torch: infer {'warm-up' if i < warm else 'run'} {i + 1 if i < warm else i - warm + 1}: "
                      f"{t * 1e3:.2f} ms", file=sys.stderr)
        flops_mode = "infer"

    mib = 1048576.0
    if dev.type == "cuda":
        sync(dev)
        peak = torch.cuda.max_memory_allocated() / mib
        reserved = torch.cuda.max_memory_reserved() / mib
        free, total = torch.cuda.mem_get_info()
        used = (total - free - base) / mib
        name = torch.cuda.get_device_name()
    else:
        peak = reserved = used = -1.0
        name = "cpu"
    med = statistics.median(times)
    print(f"gpu_bench: DEVICE {name}")
    print(f"gpu_bench: RESULT side=torch mode={flops_mode} config={cfg['name']} size={s} batch={b} steps={n} "
          f"ms_median={med * 1e3:.3f} ms_mean={statistics.mean(times) * 1e3:.3f} ms_best={min(times) * 1e3:.3f} "
          f"ips={b / med:.3f} peak_mib={peak:.1f} reserved_mib={reserved:.1f} device_mib={used:.1f} "
          f"finite={int(finite)} tf32={tf32} torch={torch.__version__} "
          f"cudnn_benchmark={int(torch.backends.cudnn.benchmark)}")
    return 0 if finite else 1


if __name__ == "__main__":
    sys.exit(main())
