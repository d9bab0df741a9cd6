#!/usr/bin/python3
"""bench_torch.py — the PyTorch peer of build/bench/bench_model (same configs, one thread).

Measures, per config (d_model 256 and 128; see CONFIGS):
  learner: forward + log_softmax/gather (logp and entropy) + backward + clip_grad_norm_ + AdamW step,
           tokens/s = B*T / median step time
  sample : incremental decoding with a KV cache (torch_gpt.GPT.sample): N_SEQ sequences, a PROMPT-token
           prompt, NEW new tokens each, multinomial sampling, torch.no_grad; tokens/s = N_SEQ*NEW / median
  sample_topk50_topp095: the same with temperature 0.8, top-k 50, top-p 0.95 (bench_model.c's variant)
Median of REPS repetitions after one warm-up. Times are process CPU time like bench_model.c
(BENCH_WALL=1 switches both to wall clock; needed with --threads > 1). Prints `key value` lines with
bench_model.c's keys (c256.learner_tokens_per_s, ...) and the process's peak_rss_mib at the end (run one config
per process to compare memory). Run with OPENBLAS_NUM_THREADS=1.
usage: bench_torch.py [--reps N] [--quick] [--threads N] [--configs c256,c128,gpt2s]
"""
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from torch_gpt import GPT  # noqa: E402

# tag: (C, L, NH, T, B, V, N_SEQ, PROMPT, NEW), as bench_model.c's CONFIGS
CONFIGS = {"c256": (256, 4, 4, 128, 16, 512, 64, 16, 64), "c128": (128, 2, 4, 64, 16, 512, 64, 16, 64),
           "gpt2s": (768, 12, 12, 256, 4, 8192, 32, 16, 32)}


now = time.perf_counter if os.environ.get("BENCH_WALL") else time.process_time


def median_time(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = now()
        fn()
        ts.append(now() - t0)
    return statistics.median(ts)


def bench_learner(C, L, NH, T, B, V, N_SEQ, PROMPT, NEW, reps):
    maxT = max(T, PROMPT + NEW)
    model = GPT(L, NH, C, maxT, V, dtype=torch.float32, seed=1)
    params = [p for _, p in model.named_tensors()]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)
    w = torch.rand(B, T, generator=g)

    tf, tb, to = [], [], []

    def step():
        t0 = now()
        opt.zero_grad(set_to_none=True)
        logits, logp, ent = model.logp_entropy(tokens, targets)
        loss = -(w * logp).sum() / B
        t1 = now()
        loss.backward()
        t2 = now()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        t3 = now()
        tf.append(t1 - t0), tb.append(t2 - t1), to.append(t3 - t2)

    t = median_time(step, reps)
    m = lambda x: 1e3 * statistics.median(x[1:])  # drop the warm-up
    return {"learner_step_ms": 1e3 * t, "learner_forward_ms": m(tf), "learner_backward_ms": m(tb),
            "learner_adamw_ms": m(to), "learner_tokens_per_s": B * T / t}


def bench_sample(C, L, NH, T, B, V, N_SEQ, PROMPT, NEW, reps):
    maxT = max(T, PROMPT + NEW)
    model = GPT(L, NH, C, maxT, V, dtype=torch.float32, seed=1)
    g = torch.Generator().manual_seed(3)
    prompt = torch.randint(0, V, (N_SEQ, PROMPT), generator=g)
    plain = N_SEQ * NEW / median_time(lambda: model.sample(prompt, NEW, generator=g), reps)
    filt = N_SEQ * NEW / median_time(lambda: model.sample(prompt, NEW, generator=g, temperature=0.8,
                                                          top_k=50, top_p=0.95), reps)
    return {"sample_tokens_per_s": plain, "sample_topk50_topp095_tokens_per_s": filt}


def bench_sgemm(n=512, reps=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2.0 * n ** 3 / median_time(lambda: a @ b, reps, warmup=2) / 1e9


def main():
    reps, threads, configs = 5, 1, "c256,c128"
    args = sys.argv[1:]
    if "--reps" in args:
        reps = int(args[args.index("--reps") + 1])
    if "--quick" in args:
        reps = 1
    if "--threads" in args:
        threads = int(args[args.index("--threads") + 1])
    if "--configs" in args:
        configs = args[args.index("--configs") + 1]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    print(f"torch_threads {torch.get_num_threads()}")
    print(f"sgemm512_gflops {bench_sgemm():.2f}", flush=True)
    for tag in configs.split(","):
        cfg = CONFIGS[tag]
        with torch.enable_grad():
            res = bench_learner(*cfg, reps)
        res.update(bench_sample(*cfg, reps))
        for k, v in res.items():
            print(f"{tag}.{k} {v:.3f}" if k.endswith("_ms") else f"{tag}.{k} {v:.1f}", flush=True)
    print(f"peak_rss_mib {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}")

if __name__ == "__main__":
    main()
