#!/usr/bin/python3
"""Writes tiny random GPT-2-shaped checkpoints in every variant pgrpo imports, plus malformed ones.

usage: gpt2_write.py OUTDIR
       gpt2_write.py --big OUTDIR    a GPT-2-small-shaped random model (L=12, C=768, NH=12, V=50257, 1024 positions,
                                     124M parameters, F32, hub names, with the attn.bias buffers) + a synthetic
                                     50257-token vocabulary (256 bytes + 50000 merges + <|endoftext|>): the input
                                     of tests/bench/section_gpt2.sh

OUTDIR/<variant>/   config.json, tokenizer files, model.safetensors (or shards) or model.bin (llm.c), and
                    ref.npz: the HF-layout state dict (float64 of the values exactly as stored, so F16/BF16 rounding is
                    in the reference) that gpt2_forward.py runs.
  hf_plain      hub names (no prefix), F32, buffers h.N.attn.bias F32 [1,1,P,P] and h.N.attn.masked_bias [] (0-rank)
  hf_prefix     "transformer." prefix, no buffers, lm_head.weight == wte; encoder.json + vocab.bpe tokenizer files
  hf_f16        F16 weights, U8 attn.bias buffers
  hf_bf16       BF16 weights, BOOL attn.bias buffers
  hf_sharded    two shards + model.safetensors.index.json
  hf_unaligned  header neither padded to 8 nor free of leading whitespace (an old writer): data not 4-aligned
  llmc_v3       llm.c version 3 (fp32), vocabulary padded 300 -> 384 with zero rows
  llmc_v5       llm.c version 5 (bf16)
OUTDIR/bad/<case>/  malformed inputs; OUTDIR/bad/cases.txt: "case|hf or llmc|import args|exit|message substring"
The tokenizer is a 300-token byte-level BPE (256 bytes + 43 merges + <|endoftext|>) trained here on a fixture
text, with shuffled ids so nothing may assume id = 256 + rank.
"""
import json, os, struct, sys
import numpy as np

L, C, NH, V, P = 2, 64, 4, 300, 32
EOS = [V - 1]   # set to the shuffled id of <|endoftext|> once the tokenizer exists
LAYER = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
         "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
         "mlp.c_proj.bias"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))


def tokenizer(rng):
    """256 byte tokens + 43 merges learned on a fixture text + <|endoftext|>, ids shuffled."""
    b2u = bytes_to_unicode()
    text = ("the quick brown fox jumps over the lazy dog; the dog sleeps, the fox runs. "
            "there then these those other rather weather whether ") * 3
    words = [[b2u[b] for b in (" " + w).encode()] for w in text.split()]
    merges = []
    while len(merges) < 43:
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        best = max(sorted(counts), key=lambda k: counts[k])
        merges.append(best)
        nw = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1]); i += 2
                else:
                    out.append(w[i]); i += 1
            nw.append(out)
        words = nw
    tokens = [b2u[b] for b in range(256)] + [a + b for a, b in merges] + ["<|endoftext|>"]
    assert len(tokens) == V and len(set(tokens)) == V
    perm = rng.permutation(V)
    vocab = {tokens[i]: int(perm[i]) for i in range(V)}
    return vocab, ["%s %s" % m for m in merges]


def write_tokenizer(d, vocab, merges, openai=False):
    names = ("encoder.json", "vocab.bpe") if openai else ("vocab.json", "merges.txt")
    with open(os.path.join(d, names[0]), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=openai)
    with open(os.path.join(d, names[1]), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


def model(rng):
    """HF-layout state dict (Conv1D weights (in,out)), float32, big enough to exercise the non-linearities."""
    g = lambda *s, std=0.2: (rng.standard_normal(s) * std).astype(np.float32)
    sd = {"wte.weight": g(V, C), "wpe.weight": g(P, C, std=0.1),
          "ln_f.weight": (1 + g(C, std=0.1)), "ln_f.bias": g(C, std=0.1)}
    for l in range(L):
        h = "h.%d." % l
        sd[h + "ln_1.weight"] = 1 + g(C, std=0.1); sd[h + "ln_1.bias"] = g(C, std=0.1)
        sd[h + "attn.c_attn.weight"] = g(C, 3 * C); sd[h + "attn.c_attn.bias"] = g(3 * C, std=0.1)
        sd[h + "attn.c_proj.weight"] = g(C, C); sd[h + "attn.c_proj.bias"] = g(C, std=0.1)
        sd[h + "ln_2.weight"] = 1 + g(C, std=0.1); sd[h + "ln_2.bias"] = g(C, std=0.1)
        sd[h + "mlp.c_fc.weight"] = g(C, 4 * C); sd[h + "mlp.c_fc.bias"] = g(4 * C, std=0.1)
        sd[h + "mlp.c_proj.weight"] = g(4 * C, C, std=0.1); sd[h + "mlp.c_proj.bias"] = g(C, std=0.1)
    return sd


def config(**over):
    c = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": V, "n_positions": P, "n_ctx": P,
         "n_embd": C, "n_layer": L, "n_head": NH, "n_inner": None, "activation_function": "gelu_new",
         "layer_norm_epsilon": 1e-05, "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1,
         "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
         "bos_token_id": EOS[0], "eos_token_id": EOS[0], "torch_dtype": "float32", "use_cache": True,
         "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}}}
    c.update(over)
    return c


def bf16_bits(a):
    u = a.astype(np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)   # round to nearest even, as torch does


def encode(a, dtype):
    """(raw bytes, the float64 values they hold)."""
    if dtype == "F32":
        x = a.astype("<f4"); return x.tobytes(), x.astype(np.float64)
    if dtype == "F16":
        x = a.astype("<f2"); return x.tobytes(), x.astype(np.float64)
    if dtype == "BF16":
        b = bf16_bits(a).astype("<u2")
        return b.tobytes(), (b.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    if dtype in ("U8", "BOOL"):
        x = a.astype(np.uint8); return x.tobytes(), None
    raise ValueError(dtype)


def st_bytes(entries, meta={"format": "pt"}, pad=True, lead=""):
    """entries: [(name, dtype, shape, raw bytes)] -> a safetensors file's bytes."""
    hdr, off, data = {}, 0, []
    if meta is not None:
        hdr["__metadata__"] = meta
    for name, dt, shape, raw in entries:
        hdr[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw); data.append(raw)
    h = (lead + json.dumps(hdr, separators=(",", ":"))).encode()
    if pad:
        h += b" " * (-len(h) % 8)   # the data section starts 8-aligned (writers since safetensors 0.3.1)
    elif len(h) % 4 == 0:
        h += b" "                     # an old writer's layout: the data are not even 4-aligned
    return struct.pack("<Q", len(h)) + h + b"".join(data)


def hf_entries(sd, dtype="F32", prefix="", buffers=None, lm_head=False):
    """-> (entries, reference state dict as float64)."""
    ents, ref = [], {}
    for k, a in sd.items():
        raw, val = encode(a, dtype)
        ents.append((prefix + k, dtype, a.shape, raw)); ref[k] = val
    for l in range(L):
        if buffers:
            mask = np.tril(np.ones((P, P))).reshape(1, 1, P, P)
            ents.append((prefix + "h.%d.attn.bias" % l, buffers, (1, 1, P, P), encode(mask, buffers)[0]))
            ents.append((prefix + "h.%d.attn.masked_bias" % l, "F32", (), np.array(-1e4, "<f4").tobytes()))
    if lm_head:
        ents.append(("lm_head.weight", dtype, sd["wte.weight"].shape, encode(sd["wte.weight"], dtype)[0]))
    return ents, ref


def write_dir(d, ents, ref, vocab, merges, cfg=None, openai=False, **kw):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(st_bytes(ents, **kw))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg or config(), f, indent=2)
    write_tokenizer(d, vocab, merges, openai)
    if ref is not None:
        np.savez(os.path.join(d, "ref.npz"), **ref)


def llmc_bytes(sd, version, vp=384, header=None):
    hd = header or [20240326, version, P, V, L, NH, C, vp]
    head = np.zeros(256, "<i4"); head[:len(hd)] = hd
    lin = lambda k: sd[k].T   # Conv1D (in,out) -> Linear (out,in)
    wte = np.zeros((vp, C), np.float32); wte[:V] = sd["wte.weight"]
    ts = [wte, sd["wpe.weight"]]
    per = [("ln_1.weight", 0), ("ln_1.bias", 0), ("attn.c_attn.weight", 1), ("attn.c_attn.bias", 0),
           ("attn.c_proj.weight", 1), ("attn.c_proj.bias", 0), ("ln_2.weight", 0), ("ln_2.bias", 0),
           ("mlp.c_fc.weight", 1), ("mlp.c_fc.bias", 0), ("mlp.c_proj.weight", 1), ("mlp.c_proj.bias", 0)]
    for name, tr in per:
        ts.append(np.stack([lin("h.%d.%s" % (l, name)) if tr else sd["h.%d.%s" % (l, name)] for l in range(L)]))
    ts += [sd["ln_f.weight"], sd["ln_f.bias"]]
    dt = "F32" if version == 3 else "BF16"
    body = b"".join(encode(np.ascontiguousarray(t), dt)[0] for t in ts)
    ref = {k: encode(a, dt)[1] for k, a in sd.items()}
    return head.tobytes() + body, ref


def write_bad(out, sd, vocab, merges):
    bad = os.path.join(out, "bad"); os.makedirs(bad, exist_ok=True)
    cases = []
    def case(name, blob=None, cfg=None, kind="hf", args="", code=3, msg=""):
        d = os.path.join(bad, name); os.makedirs(d, exist_ok=True)
        if kind == "hf":
            with open(os.path.join(d, "model.safetensors"), "wb") as f:
                f.write(blob if blob is not None else st_bytes(hf_entries(sd)[0]))
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg or config(), f)
            write_tokenizer(d, vocab, merges)
        else:
            with open(os.path.join(d, "model.bin"), "wb") as f:
                f.write(blob)
            write_tokenizer(d, vocab, merges)
        cases.append("%s|%s|%s|%d|%s" % (name, kind, args, code, msg))
    good, _ = hf_entries(sd)
    full = st_bytes(good)
    case("truncated_len", full[:5], msg="truncated: 5 bytes")
    n = struct.unpack("<Q", full[:8])[0]
    case("header_past_eof", struct.pack("<Q", len(full)) + full[8:], msg="is longer than the")
    case("header_over_100mb", struct.pack("<Q", 100000001) + full[8:], msg="exceeds the 100000000-byte limit")
    notjson = b'{"wte.weight": [1,2'
    case("not_json", struct.pack("<Q", len(notjson)) + notjson, msg="header is not valid JSON")
    hj = full[8:8 + n].decode().rstrip()
    dup = hj[:-1] + ',"ln_f.bias":{"dtype":"F32","shape":[64],"data_offsets":[0,256]}}'
    dup = dup.encode(); dup += b" " * (-len(dup) % 8)
    case("duplicate_key", struct.pack("<Q", len(dup)) + dup + full[8 + n:], msg="duplicate")
    def mutate(fn, name, msg, tail=b""):
        h = json.loads(hj); fn(h)
        hb = json.dumps(h, separators=(",", ":")).encode(); hb += b" " * (-len(hb) % 8)
        case(name, struct.pack("<Q", len(hb)) + hb + full[8 + n:] + tail, msg=msg)
    def setoff(h, k, b, e): h[k]["data_offsets"] = [b, e]
    o = json.loads(hj)
    b0, e0 = o["wpe.weight"]["data_offsets"]
    mutate(lambda h: setoff(h, "wpe.weight", -1, e0), "negative_offset", "data_offsets must be two non-negative integers")
    mutate(lambda h: setoff(h, "wpe.weight", float(b0), e0), "float_offset", "data_offsets must be two non-negative integers")
    b1, e1 = o["ln_f.weight"]["data_offsets"]
    mutate(lambda h: setoff(h, "ln_f.weight", b1 - 4, e1 - 4), "overlap", "overlapping the previous tensor")
    # a hole: the last tensor moved 4 bytes on, the file 4 bytes longer
    last = max(o, key=lambda k: o[k]["data_offsets"][1] if k != "__metadata__" else -1)
    bl, el = o[last]["data_offsets"]
    mutate(lambda h: setoff(h, last, bl + 4, el + 4), "hole", "leaving a hole", tail=b"\0\0\0\0")
    mutate(lambda h: None, "bytes_after", "bytes after the last tensor", tail=b"\0" * 8)
    mutate(lambda h: setoff(h, "wpe.weight", b0, e0 + 4), "wrong_byte_count", "needs %d" % (e0 - b0))
    mutate(lambda h: h["wpe.weight"].update(dtype="F17"), "unknown_dtype", "unknown dtype 'F17'")
    mutate(lambda h: h["wpe.weight"].update(dtype="I32"), "int_dtype", "dtype I32, expected F32, F16, BF16 or F64")
    mutate(lambda h: h.update(__metadata__={"format": 1}), "metadata_not_string", "__metadata__ 'format' is not a string")
    def ents_without(skip):
        return [e for e in good if e[0] != skip]
    case("missing_tensor", st_bytes(ents_without("h.1.mlp.c_fc.bias")), msg="tensor 'h.1.mlp.c_fc.bias' missing")
    extra = good + [("h.0.attn.extra", "F32", (2,), np.zeros(2, "<f4").tobytes())]
    case("extra_tensor", st_bytes(extra), msg="tensor 'h.0.attn.extra': not a GPT-2 tensor")
    tr = [(k, d, s[::-1] if k == "h.0.mlp.c_fc.weight" else s, r) for k, d, s, r in good]
    case("wrong_shape", st_bytes(tr), msg="tensor 'h.0.mlp.c_fc.weight': shape [256, 64], expected [64, 256]")
    other = (sd["wte.weight"] + 1).astype("<f4").tobytes()
    case("lm_head_untied", st_bytes(good + [("lm_head.weight", "F32", (V, C), other)]), msg="'lm_head.weight' differs from wte")
    case("activation_gelu", cfg=config(activation_function="gelu"), msg='activation_function is "gelu"')
    case("epsilon", cfg=config(layer_norm_epsilon=1e-6), msg="layer_norm_epsilon is 1e-06, expected 1e-05")
    case("n_inner", cfg=config(n_inner=128), msg="n_inner is 128, expected null or 4*n_embd = 256")
    case("n_head", cfg=config(n_head=5), msg="n_embd 64 is not divisible by n_head 5")
    case("context", args="--context 64", msg="n_positions is 32 but a context of 64")
    case("model_type", cfg=config(model_type="llama"), msg="model_type is llama")
    v3, _ = llmc_bytes(sd, 3)
    case("llmc_magic", struct.pack("<i", 20240327) + v3[4:], kind="llmc", msg="bad magic 20240327, expected 20240326")
    case("llmc_version", v3[:4] + struct.pack("<i", 4) + v3[8:], kind="llmc", msg="version 4, expected 3 (fp32) or 5 (bf16)")
    case("llmc_truncated", v3[:-4], kind="llmc", msg="truncated")
    case("llmc_short_header", v3[:100], kind="llmc", msg="truncated: 100 bytes")
    # sharded: the index names a tensor the shard does not hold
    d = os.path.join(bad, "shard_index"); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model-00001-of-00001.safetensors"), "wb") as f:
        f.write(st_bytes(good))
    wm = {e[0]: "model-00001-of-00001.safetensors" for e in good}
    wm["h.9.ln_1.weight"] = "model-00001-of-00001.safetensors"
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(), f)
    write_tokenizer(d, vocab, merges)
    cases.append("shard_index|hf||3|tensor 'h.9.ln_1.weight': weight_map names")
    d = os.path.join(bad, "tok_size"); os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "model.safetensors"), "wb") as f:
        f.write(full)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(), f)
    v2 = {k: i for i, k in enumerate(sorted(vocab, key=vocab.get)[:V - 1])}
    write_tokenizer(d, v2, [m for m in merges if all(p in v2 for p in m.split()) and m.replace(" ", "") in v2])
    cases.append("tok_size|hf||3|the tokenizer has 299 tokens but the model's vocabulary is 300")
    with open(os.path.join(bad, "cases.txt"), "w") as f:
        f.write("\n".join(cases) + "\n")


def write_big(out):
    """124M parameters streamed tensor by tensor (never the whole model in Python memory)."""
    bL, bC, bNH, bV, bP = 12, 768, 12, 50257, 1024
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(124)
    shapes = [("wte.weight", (bV, bC)), ("wpe.weight", (bP, bC))]
    for l in range(bL):
        h = "h.%d." % l
        shapes += [(h + "ln_1.weight", (bC,)), (h + "ln_1.bias", (bC,)), (h + "attn.bias", (1, 1, bP, bP)),
                   (h + "attn.c_attn.weight", (bC, 3 * bC)), (h + "attn.c_attn.bias", (3 * bC,)),
                   (h + "attn.c_proj.weight", (bC, bC)), (h + "attn.c_proj.bias", (bC,)),
                   (h + "ln_2.weight", (bC,)), (h + "ln_2.bias", (bC,)), (h + "mlp.c_fc.weight", (bC, 4 * bC)),
                   (h + "mlp.c_fc.bias", (4 * bC,)), (h + "mlp.c_proj.weight", (4 * bC, bC)), (h + "mlp.c_proj.bias", (bC,))]
    shapes += [("ln_f.weight", (bC,)), ("ln_f.bias", (bC,))]
    hdr, off = {"__metadata__": {"format": "pt"}}, 0
    for name, sh in shapes:
        dt, es = ("BOOL", 1) if name.endswith(".attn.bias") else ("F32", 4)
        n = es * int(np.prod(sh))
        hdr[name] = {"dtype": dt, "shape": list(sh), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, sh in shapes:
            if name.endswith(".attn.bias"):
                f.write(np.tril(np.ones((bP, bP), np.uint8)).tobytes()); continue
            if name.startswith("ln") or ".ln_" in name:
                a = np.ones(sh, np.float32) if name.endswith("weight") else np.zeros(sh, np.float32)
            else:
                a = (rng.standard_normal(sh, dtype=np.float32) * 0.02).astype("<f4")
            f.write(a.tobytes())
    cfg = config(vocab_size=bV, n_positions=bP, n_ctx=bP, n_embd=bC, n_layer=bL, n_head=bNH, bos_token_id=50256, eos_token_id=50256)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)]
    seen, merges = set(tokens), []
    while len(merges) < 50000:
        a, b = tokens[int(rng.integers(len(tokens)))], tokens[int(rng.integers(min(len(tokens), 4096)))]
        if a + b in seen or len(a + b) > 24:
            continue
        seen.add(a + b); tokens.append(a + b); merges.append("%s %s" % (a, b))
    tokens.append("<|endoftext|>")
    write_tokenizer(out, {t: i for i, t in enumerate(tokens)}, merges)


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-") and sys.argv[1] != "--big":
        sys.exit(__doc__)
    if sys.argv[1] == "--big":
        return write_big(sys.argv[2])
    out = sys.argv[1]
    rng = np.random.default_rng(20240326)
    vocab, merges = tokenizer(rng)
    EOS[0] = vocab["<|endoftext|>"]
    sd = model(rng)
    ents, ref = hf_entries(sd, buffers="F32")
    write_dir(os.path.join(out, "hf_plain"), ents, ref, vocab, merges)
    ents, ref = hf_entries(sd, prefix="transformer.", lm_head=True)
    write_dir(os.path.join(out, "hf_prefix"), ents, ref, vocab, merges, openai=True)
    ents, ref = hf_entries(sd, "F16", buffers="U8")
    write_dir(os.path.join(out, "hf_f16"), ents, ref, vocab, merges)
    ents, ref = hf_entries(sd, "BF16", buffers="BOOL")
    write_dir(os.path.join(out, "hf_bf16"), ents, ref, vocab, merges)
    ents, ref = hf_entries(sd, buffers="F32")
    write_dir(os.path.join(out, "hf_unaligned"), ents, ref, vocab, merges, pad=False, lead="  \n")
    d = os.path.join(out, "hf_sharded"); os.makedirs(d, exist_ok=True)
    ents, ref = hf_entries(sd, prefix="transformer.", buffers="F32")
    half = len(ents) // 2 + 1
    wm = {}
    for i, part in enumerate((ents[:half], ents[half:])):
        fn = "model-%05d-of-00002.safetensors" % (i + 1)
        with open(os.path.join(d, fn), "wb") as f:
            f.write(st_bytes(part))
        wm.update({e[0]: fn for e in part})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": sum(len(e[3]) for e in ents)}, "weight_map": wm}, f, indent=2)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(), f, indent=2)
    write_tokenizer(d, vocab, merges)
    np.savez(os.path.join(d, "ref.npz"), **ref)
    for ver in (3, 5):
        d = os.path.join(out, "llmc_v%d" % ver); os.makedirs(d, exist_ok=True)
        blob, ref = llmc_bytes(sd, ver)
        with open(os.path.join(d, "model.bin"), "wb") as f:
            f.write(blob)
        write_tokenizer(d, vocab, merges)
        np.savez(os.path.join(d, "ref.npz"), **ref)
    write_bad(out, sd, vocab, merges)


if __name__ == "__main__":
    main()
