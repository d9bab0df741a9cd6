#!/usr/bin/python3
"""PyTorch reference for pgrpo's policy loss: recomputes the clipped surrogate + k3 KL loss of every case that
tests/tools/loss_dump wrote, takes d loss/d logp by autograd, and compares loss and gradient (rel tol 1e-5).

Usage: /usr/bin/python3 tests/reference/test_loss_torch.py [DUMP.txt]
Without an argument it runs build/tests/loss_dump into a temporary file (build it first: make build/tests/loss_dump).
Prints TAP lines ("ok - name" / "not ok - name"); exits 1 on any failure.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

RTOL = 1e-5
AGG_SEQ_MEAN_TOKEN_MEAN, AGG_TOKEN_MEAN, AGG_DRGRPO = 0, 1, 2


def f32(s):
    # the C side holds these as float32; widen exactly as C's (double) cast does
    return float(np.float32(s))


def parse(path):
    tok = open(path).read().split()
    pos = 0

    def take(n=1):
        nonlocal pos
        out = tok[pos:pos + n]
        pos += n
        return out

    def expect(word):
        got = take()[0]
        if got != word:
            raise ValueError(f"{path}: expected '{word}', found '{got}'")

    expect("pgrpo-loss-dump")
    if take()[0] != "1":
        raise ValueError(f"{path}: unsupported dump version")
    expect("ncases")
    cases = []
    for _ in range(int(take()[0])):
        expect("case")
        c = {"name": take()[0]}
        for key, conv in (("agg", int), ("eps_low", f32), ("eps_high", f32), ("beta", f32), ("N", int),
                          ("Tc", int), ("max_new", int), ("global_norm", float), ("has_ref", int)):
            expect(key)
            c[key] = conv(take()[0])
        n, T = c["N"], c["Tc"]
        arrays = [("A", n, np.float32), ("len", n, np.int64), ("logp", n * T, np.float32), ("old", n * T, np.float32)]
        if c["has_ref"]:
            arrays.append(("ref", n * T, np.float32))
        for key, count, dt in arrays:
            expect(key)
            c[key] = np.array(take(count), dtype=np.float64).astype(dt)
        expect("loss")
        c["loss"] = float(take()[0])
        expect("dlogp")
        c["dlogp"] = np.array(take(n * T), dtype=np.float64).astype(np.float32)
        expect("stats")
        c["stats"] = [float(x) for x in take(6)]
        cases.append(c)
    return cases


def torch_loss(c, eps_high=None):
    """The loss from the formulas in docs/pgrpo.md, written independently of loss.c. Returns (loss, grad, stats)."""
    n, T = c["N"], c["Tc"]
    eps_high = c["eps_high"] if eps_high is None else eps_high
    logp = torch.tensor(c["logp"].reshape(n, T), dtype=torch.float64, requires_grad=True)
    old = torch.tensor(c["old"].reshape(n, T), dtype=torch.float64)
    A = torch.tensor(c["A"], dtype=torch.float64).unsqueeze(1)
    length = torch.tensor(c["len"])
    mask = (torch.arange(T).unsqueeze(0) < length.unsqueeze(1)).to(torch.float64)
    rho = torch.exp(logp - old)
    surr = torch.minimum(rho * A, torch.clamp(rho, 1 - c["eps_low"], 1 + eps_high) * A)
    per_tok = surr
    kl = torch.zeros_like(logp)
    if c["has_ref"]:
        ref = torch.tensor(c["ref"].reshape(n, T), dtype=torch.float64)
        d = ref - logp
        kl = torch.exp(d) - d - 1
        per_tok = surr - c["beta"] * kl
    Z = c["global_norm"]
    if c["agg"] == AGG_SEQ_MEAN_TOKEN_MEAN:
        w = mask / (length.clamp(min=1).to(torch.float64).unsqueeze(1) * Z)
    elif c["agg"] == AGG_TOKEN_MEAN:
        w = mask / Z
    else:
        w = mask / (Z * c["max_new"])
    loss = -(per_tok * w).sum()
    loss.backward()
    lo, hi = 1 - c["eps_low"], 1 + eps_high
    with torch.no_grad():
        stats = [(kl * mask).sum().item(), (rho * mask).sum().item(),
                 (((rho < lo) & (A < 0)).to(torch.float64) * mask).sum().item(),
                 (((rho > hi) & (A > 0)).to(torch.float64) * mask).sum().item(),
                 (((rho < lo) | (rho > hi)).to(torch.float64) * mask).sum().item(),
                 mask.sum().item()]
    return loss.item(), logp.grad.numpy().reshape(-1), stats


def close(a, b, rtol=RTOL):
    return abs(a - b) <= rtol * max(abs(b), 1e-12)


def compare(c, loss, grad, stats):
    """Problems found comparing pgrpo's dump with the reference; empty when they agree."""
    errs = []
    if not close(c["loss"], loss):
        errs.append(f"loss {c['loss']:.12g} vs torch {loss:.12g}")
    gmax = np.abs(grad).max()
    diff = np.abs(c["dlogp"].astype(np.float64) - grad)
    if not np.all(diff <= RTOL * np.maximum(np.abs(grad), 1e-3 * gmax)):
        k = int(np.argmax(diff))
        errs.append(f"dlogp[{k}] {c['dlogp'][k]:.9g} vs torch {grad[k]:.9g}")
    names = ["kl_sum", "ratio_sum", "n_clip_low", "n_clip_high", "n_clip_region", "n_tokens"]
    for name, a, b in zip(names, c["stats"], stats):
        if not close(a, b, 1e-9):
            errs.append(f"{name} {a} vs torch {b}")
    return errs


def main():
    if len(sys.argv) > 1:
        path = sys.argv[1]
    else:
        tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "tests", "loss_dump")
        path = os.path.join(tempfile.mkdtemp(prefix="pgrpo_loss_"), "dump.txt")
        subprocess.run([tool, path], check=True)
    failed = 0
    cases = parse(path)
    for c in cases:
        loss, grad, stats = torch_loss(c)
        errs = compare(c, loss, grad, stats)
        print(("not ok" if errs else "ok") + f" - torch_loss_{c['name']}")
        for e in errs:
            print(f"#   {e}")
        failed += bool(errs)
    # Negative control: the comparison must notice a reference that differs only in the clip range, so the recorded
    # batches really exercise clipping and the tolerance is tight enough to see it.
    caught = sum(bool(compare(c, *torch_loss(c, eps_high=1e9))) for c in cases)
    ok = caught == len(cases)
    print(("ok" if ok else "not ok") + f" - torch_loss_negative_control ({caught}/{len(cases)} mismatches caught)")
    failed += not ok
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
