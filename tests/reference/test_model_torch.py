#!/usr/bin/python3
"""test_model_torch.py DUMP.h5 [DUMP2.h5 ...] — checks the C model and AdamW (dumped by
build/tests/ref_dump) against the independent PyTorch GPT in torch_gpt.py, run in float64.

For every step k in the dump: load the C parameters of step k into the torch model (so forward/backward
errors do not compound), recompute logits, logp, entropy, loss and all 16 gradients by autograd; then
give the C gradients to torch.nn.utils.clip_grad_norm_ (if grad_clip > 0) and one torch.optim.AdamW step
(param groups follow the dump's decay mask; state carries over from step k-1) and compare the clipped
gradients, the returned norm and the parameters after step k.

Error measure per tensor: rel = max|c - ref| / max|ref| (ref = torch float64). Tolerances (TOL below):
  forward (logits, logp, entropy, loss)    1e-4  fp32 accumulation over C=64..256 terms, ~1e-6 typical
  gradients, clipped gradients, grad norm  1e-4  fp32 backward through 2 layers; ~1e-6..1e-5 typical
  parameters after AdamW                   1e-5  of max|p| per tensor; fp32 storage, ~1e-7 typical
  AdamW update (p_after - p_before)        1e-3  of max|update|: the C update is a difference of fp32
                                                 parameters (ulp(|p|~1)/2 = 6e-8 vs update ~1e-3 => ~1e-4)
AdamW runs on the C gradients (see check_dump), so it is compared exactly, not through gradient noise.
A gradient tensor whose reference is all zero, a zero loss, or a clip value above the gradient norm
(clipping inactive while the dump asked for it) is a failure: those would make the comparison vacuous.
Prints TAP: `ok - <dump>:<quantity> # rel=<err> tol=<tol>`; exit status 1 if anything failed.
"""
import os
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gpt import GPT, TENSOR_NAMES  # noqa: E402

TOL = {"forward": 1e-4, "grad": 1e-4, "param": 1e-5, "update": 1e-3}

failures = 0


def tap(ok, name, msg=""):
    global failures
    if not ok:
        failures += 1
    print(f"{'ok' if ok else 'not ok'} - {name}" + (f" # {msg}" if msg else ""), flush=True)


def rel_err(c, ref):
    c = np.asarray(c, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if c.shape != ref.shape:
        return float("inf"), 0.0
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    diff = float(np.max(np.abs(c - ref))) if ref.size else 0.0
    if not np.all(np.isfinite(c)):
        return float("inf"), scale
    return (diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))), scale


def compare(tag, name, c, ref, tol, require_nonzero=False):
    err, scale = rel_err(c, ref)
    ok = err <= tol and (scale > 0 or not require_nonzero)
    msg = f"rel={err:.2e} tol={tol:.0e} max|ref|={scale:.3e}"
    tap(ok, f"{tag}:{name}", msg)
    return err


def check_dump(path):
    tag = os.path.basename(path)
    f = h5py.File(path, "r")
    a = f.attrs
    L, NH, C, maxT, V = (int(a[k]) for k in ("n_layer", "n_head", "d_model", "max_t", "vocab"))
    steps = int(a["steps"])
    lr, b1, b2, eps, wd, clip = (float(a[k]) for k in ("lr", "beta1", "beta2", "eps", "weight_decay",
                                                        "grad_clip"))
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in f["tensor_names"][()]]
    tap(names == TENSOR_NAMES, f"{tag}:tensor_names", f"{names}" if names != TENSOR_NAMES else "")

    dt = torch.float64
    model = GPT(L, NH, C, maxT, V, dtype=dt)
    decay = {n: int(f["decay"][n][()]) for n in TENSOR_NAMES}
    params = dict(model.named_tensors())
    groups = [{"params": [params[n] for n in TENSOR_NAMES if decay[n]], "weight_decay": wd},
              {"params": [params[n] for n in TENSOR_NAMES if not decay[n]], "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    opt = torch.optim.AdamW(groups, lr=lr, betas=(b1, b2), eps=eps)

    tokens = torch.as_tensor(f["batch/tokens"][()].astype(np.int64))
    targets = torch.as_tensor(f["batch/targets"][()].astype(np.int64))
    w = torch.as_tensor(f["batch/weights"][()]).to(dt)
    B = tokens.shape[0]

    for s in range(steps):
        g = f[f"step{s}"]
        st = f"{tag}:step{s}"
        model.load_numpy({n: g["params"][n][()] for n in TENSOR_NAMES})
        before = {n: p.detach().clone() for n, p in model.named_tensors()}
        opt.zero_grad(set_to_none=True)
        logits, logp, ent = model.logp_entropy(tokens, targets)
        loss = -(w * logp).sum() / B
        loss.backward()
        tap(abs(loss.item()) > 0, f"{st}:loss_nonzero", f"loss={loss.item():.6f}")
        compare(st, "logits", g["logits"][()], logits.detach().numpy(), TOL["forward"])
        compare(st, "logp", g["logp"][()], logp.detach().numpy(), TOL["forward"])
        compare(st, "entropy", g["entropy"][()], ent.detach().numpy(), TOL["forward"])
        compare(st, "loss", g["loss"][()], loss.item(), TOL["forward"])
        for n, p in model.named_tensors():
            compare(st, f"grad.{n}", g["grads"][n][()], p.grad.numpy(), TOL["grad"], require_nonzero=True)

        # AdamW is checked on the C gradients (as float64), so its comparison is not polluted by gradient
        # rounding: Adam maps any |g| >~ eps to an update of size ~lr, so elements whose true gradient is
        # ~0 (e.g. the key bias, which softmax cancels exactly) would otherwise compare fp32 noise.
        for n, p in model.named_tensors():
            p.grad = torch.as_tensor(g["grads"][n][()]).to(dt)
        if clip > 0:
            norm = torch.nn.utils.clip_grad_norm_([p for _, p in model.named_tensors()], clip).item()
            tap(norm > clip, f"{st}:clip_active", f"norm={norm:.4f} clip={clip:g}")
        else:
            norm = torch.sqrt(sum((p.grad ** 2).sum() for _, p in model.named_tensors())).item()
        compare(st, "grad_norm", g.attrs["grad_norm"], norm, TOL["grad"])
        for n, p in model.named_tensors():
            compare(st, f"grad_clipped.{n}", g["grads_clipped"][n][()], p.grad.numpy(), TOL["grad"])

        opt.step()
        nxt = f[f"step{s + 1}"] if s + 1 < steps else f["final"]
        worst_p, worst_u = 0.0, 0.0
        for n, p in model.named_tensors():
            c_after = nxt["params"][n][()].astype(np.float64)
            ref_after = p.detach().numpy()
            ep = compare(st, f"adamw.param.{n}", c_after, ref_after, TOL["param"])
            c_upd = c_after - g["params"][n][()].astype(np.float64)
            ref_upd = ref_after - before[n].numpy()
            eu = compare(st, f"adamw.update.{n}", c_upd, ref_upd, TOL["update"], require_nonzero=True)
            worst_p, worst_u = max(worst_p, ep), max(worst_u, eu)
        print(f"# {st}: worst adamw param rel={worst_p:.2e} update rel={worst_u:.2e}")
    f.close()


def main():
    if len(sys.argv) < 2:
        print("usage: test_model_torch.py DUMP.h5 [...]", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    for p in sys.argv[1:]:
        check_dump(p)
    print(f"# {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
