#!/usr/bin/python3
"""torch_gpt.py — an independent PyTorch GPT-2-style policy with the same parameter names and packed
shapes as include/model.h, so the C dump loads by name.

    wte (V,C) tied LM head; wpe (maxT,C); per layer (packed along a leading L axis): ln1w/ln1b (C),
    qkvw (3C,C) + qkvb (3C) with rows [0,C) q, [C,2C) k, [2C,3C) v and heads as contiguous head_dim
    slices; attprojw (C,C) + attprojb; ln2w/ln2b; fcw (4C,C) + fcb; fcprojw (C,4C) + fcprojb;
    final lnfw/lnfb. Pre-LN blocks, LN eps 1e-5, causal attention scaled by 1/sqrt(head_dim), GELU tanh,
    logits = ln_f(x) @ wte^T. Linear layers are y = x W^T + b.

Also used by tests/bench/bench_torch.py (learner step and KV-cache sampling).
"""
import math

import torch
import torch.nn.functional as F

TENSOR_NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
                "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
LN_EPS = 1e-5


def tensor_shapes(L, C, V, maxT):
    return {"wte": (V, C), "wpe": (maxT, C), "ln1w": (L, C), "ln1b": (L, C), "qkvw": (L, 3 * C, C),
            "qkvb": (L, 3 * C), "attprojw": (L, C, C), "attprojb": (L, C), "ln2w": (L, C), "ln2b": (L, C),
            "fcw": (L, 4 * C, C), "fcb": (L, 4 * C), "fcprojw": (L, C, 4 * C), "fcprojb": (L, C),
            "lnfw": (C,), "lnfb": (C,)}


class GPT(torch.nn.Module):
    def __init__(self, n_layer, n_head, d_model, max_t, vocab, dtype=torch.float32, init_std=0.02, seed=0):
        super().__init__()
        self.L, self.NH, self.C, self.maxT, self.V = n_layer, n_head, d_model, max_t, vocab
        assert d_model % n_head == 0
        self.hs = d_model // n_head
        g = torch.Generator().manual_seed(seed)
        for name, shape in tensor_shapes(n_layer, d_model, vocab, max_t).items():
            if name in ("ln1w", "ln2w", "lnfw"):
                t = torch.ones(shape, dtype=dtype)
            elif name.endswith("b"):
                t = torch.zeros(shape, dtype=dtype)
            else:
                t = torch.randn(shape, generator=g, dtype=dtype) * init_std
                if name in ("attprojw", "fcprojw"):
                    t /= math.sqrt(2 * n_layer)
            self.register_parameter(name, torch.nn.Parameter(t))

    def named_tensors(self):
        return [(n, getattr(self, n)) for n in TENSOR_NAMES]

    def load_numpy(self, arrays):
        """arrays: dict name -> numpy array (any float dtype); cast to this model's dtype."""
        with torch.no_grad():
            for name, p in self.named_tensors():
                a = torch.as_tensor(arrays[name]).to(p.dtype)
                assert tuple(a.shape) == tuple(p.shape), (name, a.shape, p.shape)
                p.copy_(a)

    # ---- forward -----------------------------------------------------------------------------------
    def _attn(self, l, q, k, v, causal):
        # q (B,NH,Tq,hs), k/v (B,NH,Tk,hs)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hs)
        if causal:
            Tq, Tk = q.shape[-2], k.shape[-2]
            # query i (absolute Tk-Tq+i) sees keys j <= Tk-Tq+i
            mask = torch.ones(Tq, Tk, dtype=torch.bool).tril(diagonal=Tk - Tq)
            att = att.masked_fill(~mask, float("-inf"))
        att = torch.softmax(att, dim=-1)
        return att @ v

    def _block(self, l, x, cache=None):
        B, T, C = x.shape
        h = F.layer_norm(x, (C,), self.ln1w[l], self.ln1b[l], LN_EPS)
        qkv = h @ self.qkvw[l].t() + self.qkvb[l]                    # (B,T,3C)
        q, k, v = qkv.split(C, dim=-1)
        q = q.view(B, T, self.NH, self.hs).transpose(1, 2)           # (B,NH,T,hs)
        k = k.view(B, T, self.NH, self.hs).transpose(1, 2)
        v = v.view(B, T, self.NH, self.hs).transpose(1, 2)
        if cache is not None:
            kc, vc, pos = cache[l]
            kc[:, :, pos:pos + T] = k
            vc[:, :, pos:pos + T] = v
            k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
        y = self._attn(l, q, k, v, causal=True)
        y = y.transpose(1, 2).reshape(B, T, C)
        x = x + (y @ self.attprojw[l].t() + self.attprojb[l])
        h = F.layer_norm(x, (C,), self.ln2w[l], self.ln2b[l], LN_EPS)
        h = F.gelu(h @ self.fcw[l].t() + self.fcb[l], approximate="tanh")
        x = x + (h @ self.fcprojw[l].t() + self.fcprojb[l])
        return x

    def forward(self, tokens, pos0=0, cache=None):
        """tokens (B,T) long -> logits (B,T,V). With cache, positions start at pos0 and k/v are stored."""
        B, T = tokens.shape
        x = self.wte[tokens] + self.wpe[pos0:pos0 + T].unsqueeze(0)
        for l in range(self.L):
            x = self._block(l, x, cache)
        x = F.layer_norm(x, (self.C,), self.lnfw, self.lnfb, LN_EPS)
        return x @ self.wte.t()

    def logp_entropy(self, tokens, targets):
        logits = self.forward(tokens)
        lsm = torch.log_softmax(logits, dim=-1)
        logp = lsm.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        ent = -(lsm.exp() * lsm).sum(-1)
        return logits, logp, ent

    # ---- incremental decoding with a KV cache ---------------------------------------------------------
    def new_cache(self, B, T_total):
        z = lambda: torch.zeros(B, self.NH, T_total, self.hs, dtype=self.wte.dtype)
        return [[z(), z(), 0] for _ in range(self.L)]

    @torch.no_grad()
    def sample(self, prompt, max_new, generator=None, temperature=1.0, top_k=0, top_p=1.0):
        """prompt (B,Tp) long; returns (B,max_new) new tokens and their temperature-1 log-probs.
        top_k > 0 keeps the k largest logits; top_p < 1 keeps the smallest prefix of the sorted
        distribution whose mass reaches top_p (applied after temperature and top-k)."""
        B, Tp = prompt.shape
        cache = self.new_cache(B, Tp + max_new)
        logits = self.forward(prompt, 0, cache)[:, -1]
        for c in cache:
            c[2] = Tp
        out = torch.empty(B, max_new, dtype=torch.long)
        out_lp = torch.empty(B, max_new, dtype=self.wte.dtype)
        pos = Tp
        for i in range(max_new):
            lsm = torch.log_softmax(logits, dim=-1)
            z = logits / temperature
            if top_k > 0 and top_k < z.shape[-1]:
                kth = torch.topk(z, top_k, dim=-1).values[:, -1:]
                z = z.masked_fill(z < kth, float("-inf"))
            probs = torch.softmax(z, dim=-1)
            if top_p < 1.0:
                sp, si = torch.sort(probs, dim=-1, descending=True)
                drop = (sp.cumsum(-1) - sp) >= top_p        # mass before this token already reaches top_p
                sp = sp.masked_fill(drop, 0.0)
                probs = torch.zeros_like(probs).scatter_(-1, si, sp)
            nxt = torch.multinomial(probs, 1, generator=generator)   # (B,1)
            out[:, i] = nxt[:, 0]
            out_lp[:, i] = lsm.gather(-1, nxt)[:, 0]
            if i + 1 == max_new:
                break
            logits = self.forward(nxt, pos, cache)[:, -1]
            pos += 1
            for c in cache:
                c[2] = pos
        return out, out_lp
