#!/usr/bin/python3
"""Float64 GPT-2 forward written from the Hugging Face layout (Conv1D weights (in,out), addmm(bias, x, W)), NOT
from pgrpo's torch_gpt.py, so a transposition bug in the importer cannot be common-mode.

usage: gpt2_forward.py check MANIFEST
  MANIFEST lines: "label REF.npz LOGITS.f32 tok,tok,..." — LOGITS.f32 is pgrpo's (T,V) float32 output for the tokens.
  Prints one TAP line per row: max|C - ref| <= 1e-5 * max(1, max|ref|), same argmax at every position, and
  log-softmax within 1e-5 as well. Exit 1 when any row fails.
"""
import math, sys
import numpy as np
import torch

EPS = 1e-5


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * w + b


def gelu_new(x):   # transformers NewGELUActivation / OpenAI gpt-2 model.py
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def conv1d(x, w, b):   # transformers pytorch_utils.Conv1D: x @ W + b with W (in, out)
    return torch.addmm(b, x, w)


def forward(sd, tokens):
    """sd: HF names without prefix -> float64 tensors; tokens: list of ids. Returns logits (T, V) float64."""
    T = len(tokens)
    C = sd["wte.weight"].shape[1]
    nh = sd["n_head"]
    hs = C // nh
    idx = torch.tensor(tokens)
    x = sd["wte.weight"][idx] + sd["wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    l = 0
    while "h.%d.ln_1.weight" % l in sd:
        p = lambda k: sd["h.%d.%s" % (l, k)]
        h = layer_norm(x, p("ln_1.weight"), p("ln_1.bias"))
        qkv = conv1d(h, p("attn.c_attn.weight"), p("attn.c_attn.bias"))
        q, k, v = qkv.split(C, dim=1)                         # columns [0,C) q, [C,2C) k, [2C,3C) v
        q, k, v = (t.view(T, nh, hs).transpose(0, 1) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(0, 1).reshape(T, C)
        x = x + conv1d(y, p("attn.c_proj.weight"), p("attn.c_proj.bias"))
        h = layer_norm(x, p("ln_2.weight"), p("ln_2.bias"))
        h = gelu_new(conv1d(h, p("mlp.c_fc.weight"), p("mlp.c_fc.bias")))
        x = x + conv1d(h, p("mlp.c_proj.weight"), p("mlp.c_proj.bias"))
        l += 1
    x = layer_norm(x, sd["ln_f.weight"], sd["ln_f.bias"])
    return x @ sd["wte.weight"].T                              # tied head


def load(npz, n_head=4):
    z = np.load(npz)
    sd = {k: torch.from_numpy(z[k].astype(np.float64)) for k in z.files}
    sd["n_head"] = n_head
    return sd


def check(manifest):
    bad = 0
    for line in open(manifest):
        if not line.strip():
            continue
        label, npz, out, toks = line.split()
        tokens = [int(t) for t in toks.split(",")]
        ref = forward(load(npz), tokens)
        V = ref.shape[1]
        got = torch.from_numpy(np.fromfile(out, dtype="<f4").astype(np.float64))
        if got.numel() != len(tokens) * V:
            print("not ok - %s: %d logits, expected %d" % (label, got.numel(), len(tokens) * V)); bad += 1; continue
        got = got.view(len(tokens), V)
        scale = max(1.0, ref.abs().max().item())
        err = (got - ref).abs().max().item() / scale
        lp_err = (got.log_softmax(-1) - ref.log_softmax(-1)).abs().max().item()
        same = bool((got.argmax(-1) == ref.argmax(-1)).all())
        ok = err <= 1e-5 and lp_err <= 1e-5 and same
        bad += not ok
        print("%s - %s logits T=%d max rel err %.2e, logp err %.2e, argmax %s (max|ref| %.2f)" % (
            "ok" if ok else "not ok", label, len(tokens), err, lp_err, "same" if same else "DIFFERS", scale))
    return bad


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "check":
        sys.exit(__doc__)
    sys.exit(1 if check(sys.argv[2]) else 0)
