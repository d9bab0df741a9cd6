#!/usr/bin/python3
"""bpe_ref.py -- the reference for pgrpo's C tokenizer (src/text/bpe.c): openai/gpt-2 src/encoder.py re-typed
(bytes_to_unicode, get_pairs, Encoder.bpe/encode/decode, the same pattern through the Python `regex` module that
encoder.py imports; Debian's python3-regex), plus what the tests need around it:

  bpe_ref.py train CORPUS N_MERGES OUT [--seed S]   learn N byte-level merges, write OUT/hf (vocab.json +
                                                   merges.txt) and OUT/openai (encoder.json + vocab.bpe) with the
                                                   ids shuffled (so C cannot assume id = 256 + rank)
  bpe_ref.py cases FIXTURES.json N_FUZZ SEED        the fixture texts then N seeded fuzz strings, one JSON string a line
  bpe_ref.py check DIR CASES TOOL [NAME]            runs TOOL (build/tests/bpe_tool) and prints TAP lines: split ==
                                                   regex.findall, ids == encode(), decode(ids) == text, per fixture
  bpe_ref.py classes TOOL                           the C class of every code point == regex's \\p{L} / \\p{N} / \\s
  bpe_ref.py bench DIR FILE [SECONDS]               encode throughput: "encode_mb_per_s X"
"""
import json, os, random, subprocess, sys, time
import regex as re

PAT = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


# ---- encoder.py ------------------------------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    pairs, prev = set(), word[0]
    for char in word[1:]:
        pairs.add((prev, char))
        prev = char
    return pairs


class Encoder:
    def __init__(self, encoder, bpe_merges, errors="replace"):
        self.encoder = encoder
        self.decoder = {v: k for k, v in encoder.items()}
        self.errors = errors
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.bpe_ranks = dict(zip(bpe_merges, range(len(bpe_merges))))
        self.cache = {}
        self.pat = re.compile(PAT)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def split(self, text):
        return re.findall(self.pat, text)

    def encode(self, text):
        bpe_tokens = []
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return bpe_tokens

    def decode_bytes(self, tokens):   # encoder.py's decode before its .decode('utf-8', errors='replace')
        return bytes(bytearray([self.byte_decoder[c] for c in "".join(self.decoder[t] for t in tokens)]))

    def decode(self, tokens):
        return self.decode_bytes(tokens).decode("utf-8", errors=self.errors)


def get_encoder(d):
    """encoder.py's get_encoder for DIR holding encoder.json + vocab.bpe or vocab.json + merges.txt."""
    hf = os.path.exists(os.path.join(d, "vocab.json"))
    with open(os.path.join(d, "vocab.json" if hf else "encoder.json"), "r") as f:
        encoder = json.load(f)
    with open(os.path.join(d, "merges.txt" if hf else "vocab.bpe"), "r", encoding="utf-8") as f:
        bpe_data = f.read()
    bpe_merges = [tuple(merge_str.split()) for merge_str in bpe_data.split("\n")[1:-1]]
    return Encoder(encoder=encoder, bpe_merges=bpe_merges)


# ---- training a small vocabulary (plain byte-level BPE: most frequent pair first, ties by the pair's text) -------
def train(corpus, n_merges, out, seed):
    b2u = bytes_to_unicode()
    words = {}
    for piece in re.findall(PAT, corpus):
        w = tuple(b2u[b] for b in piece.encode("utf-8"))
        words[w] = words.get(w, 0) + 1
    merges, vocab = [], [b2u[b] for b in range(256)]
    known = set(vocab)
    for _ in range(n_merges):
        counts = {}
        for w, c in words.items():
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + c
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        if best[0] + best[1] not in known:
            known.add(best[0] + best[1])
            vocab.append(best[0] + best[1])
        words = {merge_word(w, best): c for w, c in words.items()}
    vocab.append("<|endoftext|>")
    ids = list(range(len(vocab)))
    random.Random(seed).shuffle(ids)
    enc = {t: i for t, i in sorted(zip(vocab, ids), key=lambda x: x[1])}
    for sub, vname, mname, ascii_ in (("hf", "vocab.json", "merges.txt", False), ("openai", "encoder.json", "vocab.bpe", True)):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        with open(os.path.join(out, sub, vname), "w", encoding="utf-8") as f:
            json.dump(enc, f, ensure_ascii=ascii_)
        with open(os.path.join(out, sub, mname), "w", encoding="utf-8", newline="\n") as f:
            f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    print(f"# trained {len(merges)} merges, {len(enc)} tokens, ids shuffled (seed {seed})")


def merge_word(w, pair):
    out, i = [], 0
    while i < len(w):
        if i + 1 < len(w) and (w[i], w[i + 1]) == pair:
            out.append(w[i] + w[i + 1])
            i += 2
        else:
            out.append(w[i])
            i += 1
    return tuple(out)


# ---- fuzz strings --------------------------------------------------------------------------------------------
SPACES = [chr(c) for c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x2005, 0x200A, 0x2028,
                           0x2029, 0x202F, 0x205F, 0x3000)]
NOT_SPACES = ["\u180e", "\u200b", "\ufeff", "\x1c", "\x1f", "\x00", "\x7f"]
POOL = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~",
    "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "''", "<|endoftext|>",
    "éèàüößçñåøæœ", "e\u0301", "привет мир Ёё", "αβγδ ΑΒΓΔ ώ", "漢字かなカナ한국어", "مرحبا بالعالم", "שלום",
    "१२३٣٤٥", "Ⅻ½²", "👋🌍😀🏳️‍🌈👨‍👩‍👧", "\U00011F00\U00011F10",  # Kawi (Unicode 15)
]


def fuzz_string(rng):
    parts = []
    for _ in range(rng.randint(0, 12)):
        k = rng.random()
        if k < 0.45:
            src = rng.choice(POOL)
            if rng.random() < 0.5 and len(src) > 1:
                a = rng.randrange(len(src)); src = src[a:a + rng.randint(1, 6)]
            parts.append(src)
        elif k < 0.7:
            parts.append("".join(rng.choice(SPACES) for _ in range(rng.randint(1, 3))))
        elif k < 0.8:
            parts.append(" " * rng.randint(1, 4))
        elif k < 0.88:
            parts.append(rng.choice(NOT_SPACES))
        else:   # any scalar value (BMP mostly, some astral)
            hi = 0xFFFF if rng.random() < 0.8 else 0x10FFFF
            c = rng.randint(1, hi)
            while 0xD800 <= c <= 0xDFFF:
                c = rng.randint(1, hi)
            parts.append(chr(c))
    return "".join(parts)


def cases(fixtures, n_fuzz, seed):
    with open(fixtures, encoding="utf-8") as f:
        fx = json.load(f)
    rng = random.Random(seed)
    for name, text in fx:
        print(json.dumps(text))
    for _ in range(n_fuzz):
        print(json.dumps(fuzz_string(rng)))


# ---- comparing C with the reference ----------------------------------------------------------------------------
def run_tool(tool, args, lines):
    p = subprocess.run([tool] + args, input="".join(l + "\n" for l in lines).encode(), capture_output=True)
    if p.returncode != 0:
        raise SystemExit(f"not ok - {tool} {' '.join(args)} exited {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p.stdout.decode().splitlines()


def check(d, cases_file, tool, label, fixtures=None):
    enc = get_encoder(d)
    texts = [json.loads(l) for l in open(cases_file, encoding="utf-8")]
    names = [n for n, _ in json.load(open(fixtures, encoding="utf-8"))] if fixtures else []
    names += [f"fuzz {i}" for i in range(len(texts) - len(names))]
    c_split = [json.loads(l) for l in run_tool(tool, ["split-lines"], [json.dumps(t) for t in texts])]
    c_ids = [[int(x) for x in l.split()] for l in run_tool(tool, ["encode-lines", d], [json.dumps(t) for t in texts])]
    c_dec = [bytes.fromhex(l) for l in run_tool(tool, ["decode-lines", d], [" ".join(map(str, i)) for i in c_ids])]
    bad = {"split": [], "ids": [], "round trip": []}
    for i, t in enumerate(texts):
        if c_split[i] != enc.split(t): bad["split"].append((i, c_split[i], enc.split(t)))
        if c_ids[i] != enc.encode(t): bad["ids"].append((i, c_ids[i], enc.encode(t)))
        if c_dec[i] != t.encode("utf-8") or enc.decode_bytes(c_ids[i]) != t.encode("utf-8"):
            bad["round trip"].append((i, c_dec[i], t.encode("utf-8")))
    nfx = len(names) - sum(n.startswith("fuzz ") for n in names)
    for i in range(nfx):   # one TAP line per fixture text, so a failure names the script or case
        ok = all(j != i for v in bad.values() for j, *_ in v)
        print(f"{'ok' if ok else 'not ok'} - {label}: fixture '{names[i]}' (split, ids, round trip)")
    for what, v in bad.items():
        fz = [x for x in v if x[0] >= nfx]
        print(f"{'ok' if not fz else 'not ok'} - {label}: {len(texts) - nfx} fuzz strings: C {what} == reference")
        for i, c, r in v[:3]:
            print(f"#   {names[i]} {json.dumps(texts[i])}: C {c!r} vs reference {r!r}")
    return sum(map(len, bad.values()))


def classes(tool):
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    text, want = "".join(map(chr, cps)), dict.fromkeys(cps, "O")
    for k, pat in (("S", r"\s+"), ("L", r"\p{L}+"), ("N", r"\p{N}+")):   # runs over all code points at once
        for m in re.finditer(pat, text):
            for ch in m.group():
                want[ord(ch)] = k
    got, bad = {}, []
    for line in subprocess.run([tool, "classes"], capture_output=True, check=True).stdout.decode().splitlines():
        a, b, k = line.split()
        for c in range(int(a), int(b) + 1):
            if not 0xD800 <= c <= 0xDFFF: got[c] = k
    bad = [c for c in want if got.get(c) != want[c]]
    ok = not bad and len(got) == len(want) == 1112064
    print(f"{'ok' if ok else 'not ok'} - all {len(want)} code points: C class (L/N/space/other) == python regex "
          f"{re.__version__} \\p{{L}}, \\p{{N}}, \\s")
    for c in bad[:5]:
        print(f"#   U+{c:04X}: C {got.get(c)} vs regex {want[c]}")
    if bad:
        print("#   HINT: python3-regex changed its Unicode tables? regenerate: /usr/bin/python3 src/text/gen_bpe_unicode.py "
              "> src/text/bpe_unicode.h")
    return 0 if ok else 1


def bench(d, path, seconds):
    enc = get_encoder(d)
    text = open(path, encoding="utf-8", newline="").read()   # keep \r\n as in the bytes C reads
    nbytes, t0, el, n = len(text.encode("utf-8")), time.perf_counter(), 0.0, 0
    total = 0
    while el < seconds:
        enc.cache = {}   # every pass encodes from scratch, as C does (C keeps no cache)
        n = len(enc.encode(text))
        total += nbytes
        el = time.perf_counter() - t0
    print(f"encode_mb_per_s {total / el / 1e6:.4f}\ntokens {n}\nbytes {nbytes}")


def main(a):
    if a[0] == "train":
        seed = int(a[a.index("--seed") + 1]) if "--seed" in a else 1
        train(open(a[1], encoding="utf-8", newline="").read(), int(a[2]), a[3], seed)
    elif a[0] == "cases":
        cases(a[1], int(a[2]), int(a[3]))
    elif a[0] == "check":
        fx = a[a.index("--fixtures") + 1] if "--fixtures" in a else None
        return 1 if check(a[1], a[2], a[3], a[4], fx) else 0
    elif a[0] == "classes":
        return classes(a[1])
    elif a[0] == "bench":
        bench(a[1], a[2], float(a[3]) if len(a) > 3 else 1.0)
    elif a[0] == "encode":   # ids of stdin (UTF-8), like bpe_tool encode
        print(" ".join(map(str, get_encoder(a[1]).encode(sys.stdin.buffer.read().decode("utf-8")))))
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
