// train.c — `pgrpo train DECK`: GRPO / Dr. GRPO / P-GRPO on MPI.
//
// Roles: learners are world ranks [0, W-R), rollout-only ranks the last R (train.rollout_ranks); R = 0 runs both
// roles on every rank. One step s:
//   rollout  prompts (seed, s) sharded over rollout ranks -> G completions each (KV cache) -> rewards
//   transfer each prompt's trajectories to the learner that owns it (balanced contiguous ranges)
//   learner  per-group reward stats merged across learners in rank order -> advantages -> mu x minibatches of
//            clipped surrogate + k3 KL -> backward -> bucketed allreduce -> AdamW -> version s+1
//   sync     learner 0 broadcasts {version, stop} + weights to rollout-only ranks; rollouts of step s+1 wait for it
//            (synchronous) or were already generated with version s (asynchronous, staleness 1)
// Learners write trajectories.h5 (collective), learner 0 metrics.h5, the log line and checkpoints.
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "advantage.h"
#include "app.h"
#include "check.h"
#include "comm.h"
#include "loss.h"
#include "optim.h"
#include "store.h"

_Static_assert(sizeof(int) == sizeof(int32_t), "trajectory arrays assume 32-bit int");

#define BCAST_TIMEOUT_S 600.0
#define CKPT_SCHEMA 1

// The one piece of process state the signal handler may touch (owned by this module).
static volatile sig_atomic_t g_stop_signal;
static void on_stop_signal(int sig) { g_stop_signal = sig; }

// The backstop against a hang (a collective stuck after a rank or a file system failed): a step that outlives
// run.step_timeout ends the process with a message; the launcher then stops the other ranks.
static void on_step_timeout(int sig) {
    (void)sig;
    static const char msg[] = "pgrpo: error: a training step exceeded run.step_timeout; a rank, the network or the "
                              "file system has stalled (HINT: check the other ranks' output; resume with --resume auto)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(EXIT_RUNTIME);
}

// One step's trajectories for a contiguous range of np prompts, G completions each.
typedef struct {
    int np, G, Tc;
    Prompt *prompt;  // (np)
    int *group;      // (np) preference group used for advantages (from train.groups)
    int *ctok;       // (np*G, Tc) completion tokens, EOS-padded
    float *blogp;    // (np*G, Tc) behaviour log-probs
    float *ref_logp; // (np*G, Tc) log-probs under the frozen reference (beta > 0)
    int *clen;       // (np*G)
    float *reward;   // (np*G)
    float *adv;      // (np*G)
    int64_t *version;// (np) policy version that generated the prompt's completions
} Batch;

typedef struct { double gen_s, reward_s, ref_s; int stop; int pad; } BatchHeader;

static void batch_alloc(Batch *b, int np, int G, int Tc) {
    memset(b, 0, sizeof *b);
    b->np = np; b->G = G; b->Tc = Tc;
    size_t n = (size_t)(np > 0 ? np : 1), k = n * (size_t)G;
    b->prompt = xcalloc(n, sizeof(Prompt));
    b->group = xcalloc(n, sizeof(int));
    b->ctok = xcalloc(k * (size_t)Tc, sizeof(int));
    b->blogp = xcalloc(k * (size_t)Tc, sizeof(float));
    b->ref_logp = xcalloc(k * (size_t)Tc, sizeof(float));
    b->clen = xcalloc(k, sizeof(int));
    b->reward = xcalloc(k, sizeof(float));
    b->adv = xcalloc(k, sizeof(float));
    b->version = xcalloc(n, sizeof(int64_t));
}
static void batch_free(Batch *b) {
    free(b->prompt); free(b->group); free(b->ctok); free(b->blogp); free(b->ref_logp); free(b->clen); free(b->reward); free(b->adv);
    free(b->version);
}

// Bytes of `n` prompts of a batch in the wire format (header + arrays, prompt-major).
static size_t wire_bytes(int n, int G, int Tc) {
    size_t k = (size_t)n * G;
    return sizeof(BatchHeader) + (size_t)n * (sizeof(Prompt) + sizeof(int64_t)) + k * Tc * (sizeof(int) + 2 * sizeof(float)) +
           k * (sizeof(int) + sizeof(float));
}
static void wire_pack(const Batch *b, int i0, int n, const BatchHeader *h, char *buf) {
    size_t k0 = (size_t)i0 * b->G, k = (size_t)n * b->G, T = (size_t)b->Tc;
    memcpy(buf, h, sizeof *h); buf += sizeof *h;
    memcpy(buf, b->prompt + i0, n * sizeof(Prompt)); buf += n * sizeof(Prompt);
    memcpy(buf, b->version + i0, n * sizeof(int64_t)); buf += n * sizeof(int64_t);
    memcpy(buf, b->ctok + k0 * T, k * T * sizeof(int)); buf += k * T * sizeof(int);
    memcpy(buf, b->blogp + k0 * T, k * T * sizeof(float)); buf += k * T * sizeof(float);
    memcpy(buf, b->ref_logp + k0 * T, k * T * sizeof(float)); buf += k * T * sizeof(float);
    memcpy(buf, b->clen + k0, k * sizeof(int)); buf += k * sizeof(int);
    memcpy(buf, b->reward + k0, k * sizeof(float));
}
static void wire_unpack(Batch *b, int i0, int n, BatchHeader *h, const char *buf) {
    size_t k0 = (size_t)i0 * b->G, k = (size_t)n * b->G, T = (size_t)b->Tc;
    memcpy(h, buf, sizeof *h); buf += sizeof *h;
    memcpy(b->prompt + i0, buf, n * sizeof(Prompt)); buf += n * sizeof(Prompt);
    memcpy(b->version + i0, buf, n * sizeof(int64_t)); buf += n * sizeof(int64_t);
    memcpy(b->ctok + k0 * T, buf, k * T * sizeof(int)); buf += k * T * sizeof(int);
    memcpy(b->blogp + k0 * T, buf, k * T * sizeof(float)); buf += k * T * sizeof(float);
    memcpy(b->ref_logp + k0 * T, buf, k * T * sizeof(float)); buf += k * T * sizeof(float);
    memcpy(b->clen + k0, buf, k * sizeof(int)); buf += k * sizeof(int);
    memcpy(b->reward + k0, buf, k * sizeof(float));
}

#define MAX_METRICS 256
typedef struct { int n; char name[MAX_METRICS][48]; double v[MAX_METRICS]; } MetricRow;
// Everything a training run holds, on every rank (unused parts stay NULL).
typedef struct {
    App *a;
    const Deck *d;
    Roles roles;
    Task *task;
    ModelConfig cfg;
    uint64_t seed;
    int steps, P, G, Tc, mu, n_mb, async, beta_on, drop_tied;
    long p0_roll, np_roll;   // this rank's rollout prompts
    long p0_learn, np_learn; // this rank's learner prompts
    int *user_group;         // (n_users) group used for advantages
    int n_groups;
    Model *policy, *ref;
    unsigned char *decay;    // (n_params) 1 where AdamW decays (matrices)
    float *prev_params;      // async learner 0: the weights rollouts use for the next batch
    AdamW opt;
    AdvConfig acfg;
    GroupHistory hist;
    LossConfig lcfg;
    SampleParams sp;
    Batch roll, learn;       // colocated: learn aliases roll
    int *ptok_exp, *plen_exp;// (np_roll*G, TASK_MAX_PROMPT), (np_roll*G) sampler inputs
    // learner scratch, sized for one minibatch
    int T_max, micro;        // micro: sequences per forward/backward (train.micro_batch)
    int *tok, *tgt;          // (micro, T_max)
    float *logp_full, *ent_full, *dlogp_full; // (micro, T_max)
    float *logp, *dlogp;     // (np_learn*G, Tc)
    float *adv_seq;          // (np_learn*G) advantage per sequence (0 for dropped)
    int *len_eff;            // (np_learn*G) completion length counted by the loss (0 when dropped)
    uint32_t ref_crc;
    char base_path[1024], ckpt_dir[1024];
    MetricsFile *metrics;
    TrajFile *traj;
    double last_ckpt_s;      // seconds the last checkpoint took (recorded in the next metrics row)
    char *wire;              // packed trajectories in flight (rollout-only and learner ranks when split)
    size_t wire_cap;
    MPI_Request *reqs;       // (n_learners) sends in flight
    int n_reqs;
    Welford *gathered;       // (n_learners, n_groups) per-group stats of every learner
    int32_t *traj_i32;       // (np_learn, TASK_MAX_PROMPT + 3) prompt rows for trajectories.h5
    MetricRow row;           // learner 0's metrics of the step
    double need_mib;         // free space the next writes need in run.out_dir
    double t_start;
} Trainer;

static void build_groups(Trainer *tr) {
    const Deck *d = tr->d;
    int n = task_n_users(tr->task, SPLIT_TRAIN);
    tr->n_groups = task_n_groups(tr->task);
    tr->user_group = xmalloc(sizeof(int) * (size_t)n);
    for (int u = 0; u < n; u++) tr->user_group[u] = task_user_group(tr->task, SPLIT_TRAIN, u);
    const char *src = deck_str(d, "train.groups");
    if (!strcmp(src, "random")) {
        // The paper's ablation: the same group sizes, users assigned at random (a seeded Fisher-Yates shuffle).
        Rng r;
        rng_seed(&r, tr->seed, RNG_GROUPS, 0, 0);
        for (int u = n - 1; u > 0; u--) {
            int j = (int)rng_below(&r, (uint32_t)(u + 1)), t = tr->user_group[u];
            tr->user_group[u] = tr->user_group[j];
            tr->user_group[j] = t;
        }
    } else if (!strcmp(src, "file")) {
        const char *path = deck_str(d, "train.groups_file");
        if (!*path) deck_fail(d, "train.groups_file", "name an HDF5 file with /user_group", "train.groups = file needs a file");
        char err[1024];
        StoreReader *r = store_open(path, NULL, err, sizeof err);
        if (!r) deck_fail(d, "train.groups_file", "write it with `pgrpo`'s schema (see README, Group files)", "%s", err);
        int nd;
        size_t dims[STORE_MAX_DIMS];
        if (store_dims(r, "user_group", &nd, dims) || nd != 1 || (int)dims[0] != n)
            deck_fail(d, "train.groups_file", "the file must hold /user_group with one int32 per training user",
                      "'%s' has no /user_group of length %d", path, n);
        store_get(r, "user_group", STORE_I32, tr->user_group, (size_t)n);
        long ng = 0;
        if (!store_get_attr_int(r, "/", "n_groups", &ng) && ng > 0 && ng <= TASK_MAX_GROUPS) tr->n_groups = (int)ng;
        store_close(r);
        for (int u = 0; u < n; u++)
            if (tr->user_group[u] < 0 || tr->user_group[u] >= tr->n_groups)
                deck_fail(d, "train.groups_file", "group ids must be in [0, n_groups)", "'%s': user %d has group %d",
                          path, u, tr->user_group[u]);
    }
}

static int enum_or_fail(const Deck *d, const char *key, int v) {
    if (v < 0) deck_fail(d, key, "see `pgrpo --help-deck`", "unknown value");
    return v;
}

static void setup_config(Trainer *tr) {
    const Deck *d = tr->d;
    App *a = tr->a;
    tr->seed = (uint64_t)deck_int(d, "run.seed");
    tr->steps = (int)deck_int(d, "train.steps");
    tr->P = (int)deck_int(d, "train.prompts");
    tr->G = (int)deck_int(d, "train.group_size");
    tr->mu = (int)deck_int(d, "train.mu");
    tr->n_mb = (int)deck_int(d, "train.minibatches");
    tr->async = deck_bool(d, "train.async");
    tr->drop_tied = deck_bool(d, "train.drop_tied");
    int R = (int)deck_int(d, "train.rollout_ranks");
    if (R >= a->size)
        deck_fail(d, "train.rollout_ranks", "leave at least one learner rank, or use 0 to give every rank both roles",
                  "%d rollout ranks need more than %d MPI ranks", R, a->size);
    if (tr->async && R == 0)
        deck_fail(d, "train.async", "set train.rollout_ranks >= 1 (rollouts overlap learning on separate ranks)",
                  "asynchronous mode needs rollout-only ranks");
    adv_config_default(&tr->acfg);
    tr->acfg.kind = enum_or_fail(d, "train.advantage", adv_kind_from_str(deck_str(d, "train.advantage")));
    tr->acfg.hist = enum_or_fail(d, "pgrpo.history", adv_hist_from_str(deck_str(d, "pgrpo.history")));
    tr->acfg.ema_decay = deck_float(d, "pgrpo.decay");
    tr->acfg.window = (int)deck_int(d, "pgrpo.window");
    tr->acfg.update_order = enum_or_fail(d, "pgrpo.order", adv_order_from_str(deck_str(d, "pgrpo.order")));
    tr->acfg.cold = enum_or_fail(d, "pgrpo.cold_start", adv_cold_from_str(deck_str(d, "pgrpo.cold_start")));
    tr->acfg.min_count = (double)deck_int(d, "pgrpo.min_count");
    tr->acfg.eps = deck_float(d, "pgrpo.eps");
    tr->acfg.var = enum_or_fail(d, "pgrpo.variance", adv_var_from_str(deck_str(d, "pgrpo.variance")));
    const char *bad = adv_config_invalid(&tr->acfg);
    if (bad) deck_fail(d, "train.advantage", "see `pgrpo --help-deck` for the [pgrpo] keys", "%s", bad);
    if (tr->G < 2 && tr->acfg.kind != ADV_PGRPO)
        deck_fail(d, "train.group_size", "use group_size >= 2 (a per-prompt mean of one completion is the completion)",
                  "%s normalises over the G completions of a prompt", adv_kind_name(tr->acfg.kind));
    loss_config_default(&tr->lcfg);
    tr->lcfg.eps_low = (float)deck_float(d, "train.eps_low");
    tr->lcfg.eps_high = (float)deck_float(d, "train.eps_high");
    tr->lcfg.beta = (float)deck_float(d, "train.beta");
    tr->lcfg.agg = enum_or_fail(d, "train.loss_agg", loss_agg_from_str(deck_str(d, "train.loss_agg")));
    bad = loss_config_invalid(&tr->lcfg);
    if (bad) deck_fail(d, "train.eps_low", "see `pgrpo --help-deck`", "%s", bad);
    tr->beta_on = tr->lcfg.beta > 0;
    tr->sp = app_sample_params(a, tr->task);
    tr->Tc = tr->sp.max_new;
    comm_roles_init(&tr->roles, a->world, R);
    if (tr->P < tr->roles.n_rollouts || tr->P < tr->roles.n_learners)
        deck_fail(d, "train.prompts", "use at least one prompt per rollout rank and per learner rank",
                  "%d prompts for %d rollout and %d learner ranks", tr->P, tr->roles.n_rollouts, tr->roles.n_learners);
}

// Fills prompts [p0, p0+n) of step s into b (rows 0..n).
static void draw_prompts(Trainer *tr, long step, Batch *b) {
    for (int i = 0; i < b->np; i++) {
        task_prompt(tr->task, tr->seed, SPLIT_TRAIN, step * tr->P + tr->p0_roll + i, &b->prompt[i]);
        if (b->prompt[i].len + tr->Tc > tr->cfg.max_t)
            deck_fail(tr->d, "model.context", "raise model.context or lower train.max_new",
                      "a prompt of %d tokens plus %d new tokens exceeds the context", b->prompt[i].len, tr->Tc);
    }
}

static void reference_logp(Trainer *tr, Batch *b);

// Rollout phase on this rank: sample G completions per prompt with the current policy and score them.
static void rollout(Trainer *tr, long step, long version, BatchHeader *h) {
    Batch *b = &tr->roll;
    double t0 = comm_now();
    draw_prompts(tr, step, b);
    int n = b->np * tr->G;
    for (int i = 0; i < b->np; i++) {
        b->version[i] = version;
        for (int g = 0; g < tr->G; g++) {
            memcpy(tr->ptok_exp + (size_t)(i * tr->G + g) * TASK_MAX_PROMPT, b->prompt[i].tok,
                   sizeof(int) * (size_t)b->prompt[i].len);
            tr->plen_exp[i * tr->G + g] = b->prompt[i].len;
        }
    }
    Rng r;
    rng_seed(&r, tr->seed, RNG_SAMPLE, (uint64_t)tr->roles.rollout_rank, (uint64_t)step);
    if (n > 0) model_sample(tr->policy, tr->ptok_exp, TASK_MAX_PROMPT, tr->plen_exp, n, &tr->sp, &r, b->ctok, b->blogp, b->clen);
    double t1 = comm_now();
    for (int k = 0; k < n; k++)
        b->reward[k] = task_reward(tr->task, &b->prompt[k / tr->G], b->ctok + (size_t)k * tr->Tc, b->clen[k]);
    h->gen_s = t1 - t0;
    h->reward_s = comm_now() - t1;
    // Rollout-only ranks also score the completions under the frozen reference, so that work overlaps the
    // learners' update in asynchronous mode instead of lengthening it.
    double t2 = comm_now();
    if (tr->beta_on && !tr->roles.is_learner) reference_logp(tr, b);
    h->ref_s = comm_now() - t2;
    h->stop = g_stop_signal != 0;
}

// Moves each prompt's trajectories from its rollout rank to the learner that owns it: one message per
// overlapping (rollout range, learner range) pair, packed into tr->wire (sized once in cmd_train).
// Rollout-only ranks post the sends and complete them later (transfer_wait), so generation can go on.
// Prompts that part `part` of `parts` (of the global P) shares with [first, first+count): [*lo, *hi), maybe empty.
static void range_overlap(long P, int parts, int part, long first, long count, long *lo, long *hi) {
    long p0, np;
    comm_split_range(P, parts, part, &p0, &np);
    *lo = p0 > first ? p0 : first;
    *hi = p0 + np < first + count ? p0 + np : first + count;
}

static void transfer_post_sends(Trainer *tr, const BatchHeader *h) {
    Roles *ro = &tr->roles;
    size_t off = 0;
    tr->n_reqs = 0;
    for (int l = 0; l < ro->n_learners; l++) {
        long lo, hi;
        range_overlap(tr->P, ro->n_learners, l, tr->p0_roll, tr->np_roll, &lo, &hi);
        if (hi <= lo) continue;
        size_t bytes = wire_bytes((int)(hi - lo), tr->G, tr->Tc);
        CHECK(off + bytes <= tr->wire_cap, "transfer buffer too small");
        wire_pack(&tr->roll, (int)(lo - tr->p0_roll), (int)(hi - lo), h, tr->wire + off);
        MPI_Isend(tr->wire + off, (int)bytes, MPI_BYTE, l, 100, tr->a->world, &tr->reqs[tr->n_reqs++]);
        off += bytes;
    }
}
static void transfer_wait(Trainer *tr) {
    MPI_Waitall(tr->n_reqs, tr->reqs, MPI_STATUSES_IGNORE);
    tr->n_reqs = 0;
}

// Learner side: receives this learner's prompts from the rollout ranks. Sets *gen_s to the slowest sender's
// generation time, *stop when any sender saw a stop signal. Returns the seconds spent waiting.
static double transfer_recv(Trainer *tr, BatchHeader *agg) {
    Roles *ro = &tr->roles;
    double t0 = comm_now();
    int first = ro->size - ro->n_rollout_only;
    memset(agg, 0, sizeof *agg);
    for (int r = 0; r < ro->n_rollouts; r++) {
        long lo, hi;
        range_overlap(tr->P, ro->n_rollouts, r, tr->p0_learn, tr->np_learn, &lo, &hi);
        if (hi <= lo) continue;
        size_t bytes = wire_bytes((int)(hi - lo), tr->G, tr->Tc);
        CHECK(bytes <= tr->wire_cap, "transfer buffer too small");
        MPI_Recv(tr->wire, (int)bytes, MPI_BYTE, first + r, 100, tr->a->world, MPI_STATUS_IGNORE);
        BatchHeader h;
        wire_unpack(&tr->learn, (int)(lo - tr->p0_learn), (int)(hi - lo), &h, tr->wire);
        if (h.gen_s > agg->gen_s) agg->gen_s = h.gen_s;
        if (h.reward_s > agg->reward_s) agg->reward_s = h.reward_s;
        if (h.ref_s > agg->ref_s) agg->ref_s = h.ref_s;
        agg->stop |= h.stop;
    }
    return comm_now() - t0;
}

// Weight sync to rollout-only ranks: header {version, stop} then the weights. Returns seconds.
static double weights_sync(Trainer *tr, long *version, int *stop) {
    long hdr[2] = {*version, *stop};
    double t = comm_bcast_timed(hdr, sizeof hdr, 0, tr->roles.wsync, BCAST_TIMEOUT_S, "weight header");
    t += comm_bcast_timed(model_params(tr->policy), model_num_params(tr->policy) * sizeof(float), 0, tr->roles.wsync,
                          BCAST_TIMEOUT_S, "weight");
    *version = hdr[0];
    *stop = (int)hdr[1];
    return t;
}

// Learner sums reduced once per step (MPI_SUM over learners); S_FREE_MIB carries rank 0's free disk space.
enum { S_ENT, S_ENT_N, S_LEN, S_LEN_N, S_TRUNC, S_DROPPED, S_LOSS, S_PG_LOSS, S_KL, S_RATIO, S_CLIP_LOW, S_CLIP_HIGH,
       S_CLIP_REGION, S_TOKENS, S_FREE_MIB, S_N };

// Per-step learner statistics that reduce across learners.
typedef struct {
    double t_fwdbwd, t_allreduce, t_ref;
    double ent_sum, ent_n;
    double len_sum, len_n, len_min, len_max, n_trunc, n_dropped;
    float gnorm, lr;
    LossStats ls;
    AdvStats as;
    Welford grp[TASK_MAX_GROUPS]; // this step's rewards per group, merged over learners
} StepStats;

// Builds minibatch j's token arrays for local sequences [k0, k0+nk); returns T.
static int build_minibatch(Trainer *tr, const Batch *b, long k0, long nk) {
    int T = 1;
    for (long k = k0; k < k0 + nk; k++) {
        int L = b->prompt[k / tr->G].len + b->clen[k] - 1;
        if (L > T) T = L;
    }
    for (long i = 0; i < nk; i++) {
        long k = k0 + i;
        const Prompt *p = &b->prompt[k / tr->G];
        int Lp = p->len, L = Lp + b->clen[k];
        for (int j = 0; j <= T; j++) {
            int tokj = j < Lp ? p->tok[j] : (j < L ? b->ctok[k * tr->Tc + (j - Lp)] : TOK_PAD);
            if (j < T) tr->tok[i * T + j] = tokj;
            if (j > 0) tr->tgt[i * T + j - 1] = tokj;
        }
    }
    return T;
}

// Gathers (B,T) per-position values into (nk,Tc) completion-token rows: completion token c of sequence k is
// predicted at position len(prompt) - 1 + c.
static void gather_completion(Trainer *tr, const Batch *b, long k0, long nk, int T, const float *full, float *out) {
    for (long i = 0; i < nk; i++) {
        long k = k0 + i;
        int Lp = b->prompt[k / tr->G].len;
        for (int c = 0; c < tr->Tc; c++)
            out[k * tr->Tc + c] = c < b->clen[k] ? full[i * T + Lp - 1 + c] : 0.0f;
    }
}
static void scatter_completion(Trainer *tr, const Batch *b, long k0, long nk, int T, const float *in, float *full) {
    memset(full, 0, sizeof(float) * (size_t)nk * T);
    for (long i = 0; i < nk; i++) {
        long k = k0 + i;
        int Lp = b->prompt[k / tr->G].len;
        for (int c = 0; c < b->clen[k]; c++) full[i * T + Lp - 1 + c] = in[k * tr->Tc + c];
    }
}

// Log-probs of b's completions under the frozen reference, in micro-batches (once per step).
static void reference_logp(Trainer *tr, Batch *b) {
    long n = (long)b->np * tr->G;
    for (long c0 = 0; c0 < n; c0 += tr->micro) {
        long cn = n - c0 < tr->micro ? n - c0 : tr->micro;
        int T = build_minibatch(tr, b, c0, cn);
        model_forward(tr->ref, tr->tok, tr->tgt, (int)cn, T, tr->logp_full, NULL);
        gather_completion(tr, b, c0, cn, T, tr->logp_full, b->ref_logp);
    }
}

static void learner_update(Trainer *tr, StepStats *st) {
    Batch *b = &tr->learn;
    MPI_Comm lc = tr->roles.learners;
    int nL = b->np * tr->G;
    memset(st, 0, sizeof *st);
    st->len_min = 1e30;
    // Advantages: local per-group stats -> allgather -> merge in rank order -> identical history on every learner.
    for (int i = 0; i < b->np; i++) b->group[i] = tr->user_group[b->prompt[i].user];
    Welford local[TASK_MAX_GROUPS], merged[TASK_MAX_GROUPS];
    adv_batch_stats_prompts(b->reward, b->group, b->np, tr->G, tr->n_groups, local);
    MPI_Allgather(local, (int)(sizeof(Welford) * tr->n_groups), MPI_BYTE, tr->gathered,
                  (int)(sizeof(Welford) * tr->n_groups), MPI_BYTE, lc);
    adv_merge_ranks(tr->gathered, tr->roles.n_learners, tr->n_groups, merged);
    memcpy(st->grp, merged, sizeof(Welford) * (size_t)tr->n_groups);
    adv_compute(&tr->acfg, &tr->hist, merged, b->reward, b->group, b->np, tr->G, b->adv, &st->as);
    unsigned char tied[4096];
    int n_tied = 0;
    if (tr->drop_tied) {
        CHECK(b->np <= 4096, "too many prompts per learner for drop_tied");
        n_tied = adv_zero_std_mask(b->reward, b->np, tr->G, tied);
    }
    for (int k = 0; k < nL; k++) {
        int dropped = tr->drop_tied && tied[k / tr->G];
        tr->adv_seq[k] = dropped ? 0.0f : b->adv[k];
        tr->len_eff[k] = dropped ? 0 : b->clen[k];
        st->len_sum += b->clen[k]; st->len_n += 1;
        if (b->clen[k] < st->len_min) st->len_min = b->clen[k];
        if (b->clen[k] > st->len_max) st->len_max = b->clen[k];
        st->n_trunc += b->ctok[(size_t)k * tr->Tc + b->clen[k] - 1] != TOK_EOS;
    }
    st->n_dropped = (double)n_tied * tr->G;

    // Reference log-probs: colocated, here; with rollout-only ranks they came with the trajectories.
    double t0 = comm_now();
    if (tr->beta_on && !tr->roles.n_rollout_only) reference_logp(tr, b);
    st->t_ref = comm_now() - t0;

    for (int it = 0; it < tr->mu; it++) {
        for (int j = 0; j < tr->n_mb; j++) {
            long k0, nk;
            comm_split_range(nL, tr->n_mb, j, &k0, &nk);
            double norm = nk ? loss_norm_local(&tr->lcfg, tr->len_eff + k0, (int)nk, tr->Tc) : 0.0;
            if (tr->drop_tied && tr->lcfg.agg != AGG_TOKEN_MEAN)
                for (long k = k0; k < k0 + nk; k++) norm -= tr->len_eff[k] == 0;
            MPI_Allreduce(MPI_IN_PLACE, &norm, 1, MPI_DOUBLE, MPI_SUM, lc);
            t0 = comm_now();
            model_zero_grad(tr->policy);
            // Micro-batches accumulate into the gradient: the global normaliser makes their sum the minibatch's.
            for (long c0 = k0; norm > 0 && c0 < k0 + nk; c0 += tr->micro) {
                long cn = k0 + nk - c0 < tr->micro ? k0 + nk - c0 : tr->micro;
                int T = build_minibatch(tr, b, c0, cn);
                model_forward(tr->policy, tr->tok, tr->tgt, (int)cn, T, tr->logp_full, tr->ent_full);
                gather_completion(tr, b, c0, cn, T, tr->logp_full, tr->logp);
                if (it == 0) {
                    gather_completion(tr, b, c0, cn, T, tr->ent_full, tr->dlogp);
                    for (long k = c0; k < c0 + cn; k++)
                        for (int c = 0; c < b->clen[k]; c++) { st->ent_sum += tr->dlogp[k * tr->Tc + c]; st->ent_n += 1; }
                }
                LossStats ls;
                long off = c0 * tr->Tc;
                loss_compute(&tr->lcfg, tr->logp + off, b->blogp + off, tr->beta_on ? b->ref_logp + off : NULL,
                             tr->adv_seq + c0, tr->len_eff + c0, (int)cn, tr->Tc, tr->Tc, norm, tr->dlogp + off, &ls);
                if (it == 0) loss_stats_add(&st->ls, &ls);
                scatter_completion(tr, b, c0, cn, T, tr->dlogp, tr->dlogp_full);
                model_backward(tr->policy, tr->dlogp_full);
            }
            double t1 = comm_now();
            comm_allreduce_sum(model_grads(tr->policy), model_num_params(tr->policy), lc);
            double t2 = comm_now();
            st->t_fwdbwd += t1 - t0;
            st->t_allreduce += t2 - t1;
            st->lr = adamw_lr(&tr->opt.cfg, tr->opt.t);
            if (norm > 0) st->gnorm = adamw_step(&tr->opt, model_params(tr->policy), model_grads(tr->policy), tr->decay);
        }
    }
}

// ---- checkpoints ----

static void write_checkpoint(Trainer *tr, long next_step) {
    App *a = tr->a;
    char path[1100], err[1024];
    store_ckpt_path(path, sizeof path, tr->ckpt_dir, next_step);
    StoreWriter *w = store_writer_create(path, STORE_KIND_CKPT, deck_text(tr->d), err, sizeof err);
    if (!w) die_user(EXIT_RUNTIME, "check that run.out_dir is writable and has space", "%s", err);
    size_t n = model_num_params(tr->policy);
    store_put(w, "model/params", STORE_F32, model_params(tr->policy), 1, &n);
    store_put(w, "optim/m", STORE_F32, tr->opt.m, 1, &n);
    store_put(w, "optim/v", STORE_F32, tr->opt.v, 1, &n);
    if (tr->async) store_put(w, "rollout/params", STORE_F32, tr->prev_params, 1, &n);
    size_t hn = history_state_size(&tr->hist);
    double *hs = xmalloc(sizeof(double) * hn);
    history_pack(&tr->hist, hs);
    store_put(w, "pgrpo/history", STORE_F64, hs, 1, &hn);
    free(hs);
    size_t nu = (size_t)task_n_users(tr->task, SPLIT_TRAIN);
    store_put(w, "groups/user_group", STORE_I32, tr->user_group, 1, &nu);
    // Every rank's sampling stream for the next step. Streams are re-derived from (seed, role, rank, step) at each
    // step, so these are a record (checked on resume against the deck's seed), not state that must be restored.
    size_t rd[2] = {(size_t)a->size, 4};
    uint64_t *rs = xmalloc(sizeof(uint64_t) * 4 * (size_t)a->size);
    for (int r = 0; r < a->size; r++) {
        Rng g;
        int rr = tr->roles.n_rollout_only ? r - (a->size - tr->roles.n_rollout_only) : r;
        rng_seed(&g, tr->seed, RNG_SAMPLE, (uint64_t)(rr < 0 ? 0 : rr), (uint64_t)next_step);
        memcpy(rs + 4 * r, g.s, sizeof g.s);
    }
    store_put(w, "rng/sample_streams", STORE_U64, rs, 2, rd);
    free(rs);
    int64_t cursor = (int64_t)next_step * tr->P;
    store_put(w, "data/cursor", STORE_I64, &cursor, 0, NULL);
    store_put_attr_int(w, "/", "step", next_step);
    store_put_attr_int(w, "/", "optim_t", tr->opt.t);
    store_put_attr_int(w, "/", "world_size", a->size);
    store_put_attr_int(w, "/", "rollout_ranks", tr->roles.n_rollout_only);
    store_put_attr_int(w, "/", "async", tr->async);
    store_put_attr_int(w, "/", "prompts", tr->P);
    store_put_attr_int(w, "/", "group_size", tr->G);
    store_put_attr_int(w, "/", "ckpt_schema", CKPT_SCHEMA);
    store_put_attr_str(w, "/", "reference_path", tr->base_path);
    store_put_attr_int(w, "/", "reference_crc32", tr->ref_crc);
    store_put_attr_str(w, "/", "task", task_name(tr->task));
    store_put_attr_str(w, "/", "rng_rule", "xoshiro256** seeded by splitmix64(seed, role, rank, step) at every step");
    if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "check disk space and permissions of run.out_dir", "%s", err);
    if (store_ckpt_publish(tr->ckpt_dir, next_step, (int)deck_int(tr->d, "checkpoint.keep_last"),
                           (int)deck_int(tr->d, "checkpoint.keep_every"), err, sizeof err))
        die_user(EXIT_RUNTIME, "check permissions of the checkpoint folder", "%s", err);
}

// Free space in run.out_dir (MiB), for the check before each step's writes.
static double output_free_mib(Trainer *tr) {
    struct statvfs v;
    if (statvfs(tr->ckpt_dir, &v)) return 1e30;   // unknown: let the write itself report
    return (double)v.f_bavail * (double)v.f_frsize / (1024.0 * 1024.0);
}

// metrics.h5 and trajectories.h5 are not crash-safe while open (HDF5 updates metadata in place), so each
// checkpoint keeps a flushed copy of both in the checkpoint folder. restore = 1 copies them back before a resume.
static void snapshot_outputs(Trainer *tr, int restore) {
    const char *names[2] = {"metrics.h5", "trajectories.h5"};
    for (int i = 0; i < 2; i++) {
        char live[1100], snap[1100], err[2400];
        app_out_path(tr->a, names[i], live, sizeof live);
        snprintf(snap, sizeof snap, "%s/%.*s.snapshot.h5", tr->ckpt_dir, (int)strlen(names[i]) - 3, names[i]);
        if (restore && access(snap, R_OK)) continue;   // a run from before snapshots: keep the live file
        if (app_copy_file(restore ? snap : live, restore ? live : snap, err, sizeof err))
            die_user(EXIT_RUNTIME, "check disk space and permissions of run.out_dir", "%s", err);
    }
}

// Loads a checkpoint into the trainer (learners: everything; rollout ranks: their weights). Returns the next step.
static long load_checkpoint(Trainer *tr, const char *path) {
    App *a = tr->a;
    char err[1024];
    StoreReader *r = store_open(path, STORE_KIND_CKPT, err, sizeof err);
    if (!r) die_user(EXIT_RUNTIME, "pass another checkpoint, or --resume auto to take the newest valid one", "%s", err);
    long step = 0, t = 0, ws = 0, P = 0, G = 0, asy = 0, crc = 0, ro = 0;
    store_get_attr_int(r, "/", "step", &step);
    store_get_attr_int(r, "/", "optim_t", &t);
    store_get_attr_int(r, "/", "world_size", &ws);
    store_get_attr_int(r, "/", "rollout_ranks", &ro);
    store_get_attr_int(r, "/", "prompts", &P);
    store_get_attr_int(r, "/", "group_size", &G);
    store_get_attr_int(r, "/", "async", &asy);
    store_get_attr_int(r, "/", "reference_crc32", &crc);
    if (P != tr->P || G != tr->G)
        die_user(EXIT_USAGE, "resume with the deck the run started with (train.prompts and train.group_size)",
                 "'%s' was written with train.prompts=%ld train.group_size=%ld, the deck has %d and %d", path, P, G,
                 tr->P, tr->G);
    if (asy != tr->async)
        die_user(EXIT_USAGE, "keep train.async as it was when the run started", "'%s' was written with train.async=%ld", path, asy);
    if ((uint32_t)crc != tr->ref_crc)
        die_user(EXIT_USAGE, "resume against the SFT base the run started from (train.base)",
                 "'%s' was trained against a reference policy with CRC32 %08lx, but %s has %08x", path,
                 (unsigned long)(uint32_t)crc, tr->base_path, tr->ref_crc);
    if (ws != a->size || ro != tr->roles.n_rollout_only)
        app_log(a, "warning: '%s' was written by %ld ranks (%ld rollout-only); continuing on %d (%d): the run stays "
                "valid but is no longer bit-identical to an uninterrupted run\n", path, ws, ro, a->size,
                tr->roles.n_rollout_only);
    size_t n = model_num_params(tr->policy);
    const char *wname = (tr->async && !tr->roles.is_learner) ? "rollout/params" : "model/params";
    int rc = store_get(r, wname, STORE_F32, model_params(tr->policy), n);
    if (tr->roles.is_learner) {
        rc |= store_get(r, "optim/m", STORE_F32, tr->opt.m, n);
        rc |= store_get(r, "optim/v", STORE_F32, tr->opt.v, n);
        tr->opt.t = t;
        if (tr->async && tr->prev_params) rc |= store_get(r, "rollout/params", STORE_F32, tr->prev_params, n);
        size_t hn = history_state_size(&tr->hist);
        double *hs = xmalloc(sizeof(double) * hn);
        rc |= store_get(r, "pgrpo/history", STORE_F64, hs, hn);
        if (!rc && history_unpack(&tr->hist, hs, hn))
            die_user(EXIT_USAGE, "keep the [pgrpo] history settings the run started with",
                     "'%s': the P-GRPO history was written with different [pgrpo] settings", path);
        free(hs);
    }
    if (rc) die_user(EXIT_RUNTIME, "the checkpoint is incomplete; remove it to fall back to the previous one",
                     "'%s': %s", path, store_reader_error(r) ? store_reader_error(r) : "cannot read a dataset");
    store_close(r);
    return step;
}

// ---- metrics and the log line ----

static void mput(MetricRow *m, double v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mput(MetricRow *m, double v, const char *fmt, ...) {
    CHECK(m->n < MAX_METRICS, "too many metrics");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->name[m->n], sizeof m->name[0], fmt, ap);
    va_end(ap);
    m->v[m->n++] = v;
}

// Learner 0: one metrics row (H5MD series) and the fixed-column log line.
static void log_and_record(Trainer *tr, long s, const StepStats *st, const double *sums, const double *asum,
                           const double *mm, const double *ph, int log_every) {
    MetricRow *m = &tr->row;
    m->n = 0;
    Welford tot = {0, 0, 0};
    int worst = -1;
    double worst_mean = 0;
    for (int g = 0; g < tr->n_groups; g++) {
        const Welford *w = &st->grp[g];
        welford_merge(&tot, w);
        if (w->n > 0) {
            mput(m, w->mean, "reward/group/%d/mean", g);
            mput(m, sqrt(welford_var(w, 0)), "reward/group/%d/std", g);
            if (worst < 0 || w->mean < worst_mean) { worst = g; worst_mean = w->mean; }
        }
        double hm, hs, hn;
        history_get(&tr->hist, g, &hm, &hs, &hn);
        if (hn > 0) {
            mput(m, hm, "history/group/%d/mean", g);
            mput(m, hs, "history/group/%d/std", g);
            mput(m, hn, "history/group/%d/count", g);
        }
    }
    double ntok = sums[S_TOKENS] > 0 ? sums[S_TOKENS] : 1, kl = sums[S_KL] / ntok;
    double a_mean = asum[0] / (asum[2] > 0 ? asum[2] : 1);
    double a_var = asum[1] / (asum[2] > 0 ? asum[2] : 1) - a_mean * a_mean;
    double len_mean = sums[S_LEN] / (sums[S_LEN_N] > 0 ? sums[S_LEN_N] : 1);
    double clip = (sums[S_CLIP_LOW] + sums[S_CLIP_HIGH]) / ntok;
    mput(m, tot.mean, "reward/mean");
    mput(m, sqrt(welford_var(&tot, 0)), "reward/std");
    mput(m, worst_mean, "reward/worst_group_mean");
    mput(m, worst, "reward/worst_group");
    mput(m, a_mean, "advantage/mean");
    mput(m, sqrt(a_var > 0 ? a_var : 0), "advantage/std");
    mput(m, -mm[0], "advantage/min");
    mput(m, mm[1], "advantage/max");
    mput(m, asum[4] / (asum[3] > 0 ? asum[3] : 1), "advantage/frac_zero_std");
    mput(m, asum[5], "advantage/n_cold");
    mput(m, sums[S_LOSS], "loss/total");
    mput(m, sums[S_PG_LOSS], "loss/policy");
    mput(m, kl, "kl");
    mput(m, sums[S_ENT] / (sums[S_ENT_N] > 0 ? sums[S_ENT_N] : 1), "entropy");
    mput(m, sums[S_CLIP_LOW] / ntok, "clip/low");
    mput(m, sums[S_CLIP_HIGH] / ntok, "clip/high");
    mput(m, sums[S_CLIP_REGION] / ntok, "clip/region");
    mput(m, sums[S_RATIO] / ntok, "ratio/mean");
    mput(m, len_mean, "completion/length_mean");
    mput(m, -mm[2], "completion/length_min");
    mput(m, mm[3], "completion/length_max");
    mput(m, sums[S_TRUNC] / (sums[S_LEN_N] > 0 ? sums[S_LEN_N] : 1), "completion/truncated_frac");
    mput(m, sums[S_DROPPED], "completion/dropped_tied");
    mput(m, st->gnorm, "grad_norm");
    mput(m, st->lr, "lr");
    static const char *phase[9] = {"rollout", "reward", "transfer", "learner_fwd_bwd", "allreduce", "broadcast", "io",
                                   "step", "reference"};
    for (int i = 0; i < 9; i++) mput(m, ph[i], "time/%s", phase[i]);
    // The checkpoint (with the output flush and snapshots) written after the previous step: also HDF5 I/O.
    mput(m, tr->last_ckpt_s, "time/checkpoint");
    tr->last_ckpt_s = 0;
    double tok_s = sums[S_LEN] / (ph[7] > 0 ? ph[7] : 1);
    mput(m, tok_s, "tokens_per_s");
    const char *names[MAX_METRICS];
    for (int i = 0; i < m->n; i++) names[i] = m->name[i];
    if (metrics_append(tr->metrics, s, m->n, names, m->v))
        die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", metrics_error(tr->metrics));
    for (int g = 0; g < tr->n_groups; g++) {   // the group's name travels as the description of its series
        char nm[64];
        snprintf(nm, sizeof nm, "reward/group/%d/mean", g);
        if (st->grp[g].n > 0) metrics_set_meta(tr->metrics, nm, "reward", task_group_name(tr->task, g));
    }
    if (0)
        die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", metrics_error(tr->metrics));
    if (s % log_every == 0 || s + 1 == tr->steps) {
        double eta = (comm_now() - tr->t_start) / ph[9] * (double)(tr->steps - s - 1);
        // roll_ms (sampling, on the rollout ranks) beside wait_ms (learners waiting for it) shows the overlap:
        // synchronous, wait >= roll; asynchronous, the rollouts hide behind the update and wait drops to ~0.
        app_log(tr->a, "%6ld %8.4f %8.4f %3d %8.5f %8.4f %6.3f %5.1f %7.3f %8.1f %8.1f %8.1f %8.0f %7.0f\n", s, tot.mean,
                worst_mean, worst, kl, sums[S_LOSS], clip, len_mean, st->gnorm, 1e3 * ph[0], 1e3 * ph[2], 1e3 * ph[7], tok_s, eta);
    }
}

int cmd_train(App *a) {
    Trainer trs, *tr = &trs;
    memset(tr, 0, sizeof *tr);
    tr->a = a;
    tr->d = a->deck;
    tr->t_start = comm_now();
    // From here on a preemption signal means "finish the step, checkpoint, exit 75", never a lost run.
    signal(SIGTERM, on_stop_signal);
    signal(SIGUSR1, on_stop_signal);
    signal(SIGINT, on_stop_signal);
    const Deck *d = a->deck;
    tr->task = app_task(a);
    tr->cfg = app_model_config(a, tr->task);
    setup_config(tr);
    Roles *ro = &tr->roles;

    // The SFT base: train.base, or <out_dir>/sft_base.h5 built now when missing (same deck, same ranks).
    const char *base = deck_str(d, "train.base");
    if (*base) snprintf(tr->base_path, sizeof tr->base_path, "%s", base);
    else app_sft_path(a, tr->base_path, sizeof tr->base_path);
    int have_base = access(tr->base_path, R_OK) == 0;
    MPI_Bcast(&have_base, 1, MPI_INT, 0, a->world);
    if (!have_base) {
        char sft_out[1024];
        app_sft_path(a, sft_out, sizeof sft_out);
        if (strcmp(sft_out, tr->base_path))
            deck_fail(d, "train.base", "run `pgrpo sft DECK` first, or set train.base to the deck's sft.out to build it",
                      "cannot read '%s'", base);
        app_log(a, "train: no SFT base at %s; building it first (pgrpo sft)\n", tr->base_path);
        cmd_sft(a);
    }
    Rng init;
    rng_seed(&init, tr->seed, RNG_INIT, 0, 0);
    tr->policy = app_load_policy(a, tr->base_path, tr->task, &init);
    size_t n_params = model_num_params(tr->policy);
    tr->ref_crc = store_crc32(0, model_params(tr->policy), n_params * sizeof(float));

    comm_split_range(tr->P, ro->n_rollouts, ro->rollout_rank < 0 ? 0 : ro->rollout_rank, &tr->p0_roll, &tr->np_roll);
    comm_split_range(tr->P, ro->n_learners, ro->learner_rank < 0 ? 0 : ro->learner_rank, &tr->p0_learn, &tr->np_learn);
    if (!ro->is_rollout) tr->np_roll = 0;
    if (!ro->is_learner) tr->np_learn = 0;
    build_groups(tr);
    history_init(&tr->hist, &tr->acfg, tr->n_groups);

    int nroll = (int)tr->np_roll * tr->G, nlearn = (int)tr->np_learn * tr->G;
    if (ro->is_rollout) {
        batch_alloc(&tr->roll, (int)tr->np_roll, tr->G, tr->Tc);
        tr->ptok_exp = xcalloc((size_t)(nroll ? nroll : 1) * TASK_MAX_PROMPT, sizeof(int));
        tr->plen_exp = xcalloc((size_t)(nroll ? nroll : 1), sizeof(int));
    }
    // Every per-step buffer is sized here, once: the step loop allocates nothing.
    long wire_prompts = tr->np_roll > tr->np_learn ? tr->np_roll : tr->np_learn;
    tr->wire_cap = ro->n_rollout_only ? wire_bytes((int)wire_prompts, tr->G, tr->Tc) + sizeof(BatchHeader) * (size_t)ro->n_learners : 0;
    tr->wire = tr->wire_cap ? xmalloc(tr->wire_cap) : NULL;
    tr->reqs = xcalloc((size_t)ro->n_learners, sizeof(MPI_Request));
    tr->gathered = xcalloc((size_t)ro->n_learners * TASK_MAX_GROUPS, sizeof(Welford));
    tr->traj_i32 = xcalloc((size_t)(tr->np_learn ? tr->np_learn : 1) * (TASK_MAX_PROMPT + 3), sizeof(int32_t));
    // A checkpoint (weights, two moments, maybe the rollouts' weights) plus the output snapshots, and a flush of
    // buffered trajectory rows (uncompressed bound), with 1 MiB to spare.
    double traj_row = (double)tr->P * (TASK_MAX_PROMPT * 4 + 32 + (double)tr->G * (tr->Tc * 8.0 + 12));
    tr->need_mib = ((double)n_params * 4 * (tr->async ? 4 : 3) + traj_row * 16) / (1024.0 * 1024.0) + 1.0;
    int mb_max = ro->is_learner ? (nlearn + tr->n_mb - 1) / tr->n_mb : nroll;
    tr->micro = (int)deck_int(d, "train.micro_batch");
    if (tr->micro > mb_max) tr->micro = mb_max > 0 ? mb_max : 1;
    tr->T_max = tr->cfg.max_t;
    model_reserve(tr->policy, tr->micro, tr->T_max, ro->is_rollout ? nroll : 0);
    if (ro->is_learner) {
        if (ro->n_rollout_only) batch_alloc(&tr->learn, (int)tr->np_learn, tr->G, tr->Tc);
        else tr->learn = tr->roll;
        AdamWConfig oc = {
            .lr = (float)deck_float(d, "train.lr"), .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
            .weight_decay = (float)deck_float(d, "train.weight_decay"), .grad_clip = (float)deck_float(d, "train.grad_clip"),
            .schedule = strcmp(deck_str(d, "train.schedule"), "cosine") ? SCHED_CONSTANT : SCHED_COSINE,
            .warmup_steps = (int)deck_int(d, "train.warmup"), .total_steps = tr->steps * tr->mu * tr->n_mb,
            .min_lr_frac = 0.1f,
        };
        adamw_init(&tr->opt, &oc, n_params);
        tr->decay = xmalloc(n_params);
        model_decay_mask(tr->policy, tr->decay);
        if (tr->beta_on && !ro->n_rollout_only) {
            tr->ref = app_load_policy(a, tr->base_path, tr->task, &init);
            model_reserve(tr->ref, tr->micro, tr->T_max, 0);
        }
        size_t mbT = (size_t)tr->micro * tr->T_max, kc = (size_t)(nlearn ? nlearn : 1) * tr->Tc;
        tr->tok = xcalloc(mbT, sizeof(int));
        tr->tgt = xcalloc(mbT, sizeof(int));
        tr->logp_full = xcalloc(mbT, sizeof(float));
        tr->ent_full = xcalloc(mbT, sizeof(float));
        tr->dlogp_full = xcalloc(mbT, sizeof(float));
        tr->logp = xcalloc(kc, sizeof(float));
        tr->dlogp = xcalloc(kc, sizeof(float));
        tr->adv_seq = xcalloc((size_t)(nlearn ? nlearn : 1), sizeof(float));
        tr->len_eff = xcalloc((size_t)(nlearn ? nlearn : 1), sizeof(int));
        if (tr->async && a->rank == 0) {
            tr->prev_params = xmalloc(n_params * sizeof(float));
            memcpy(tr->prev_params, model_params(tr->policy), n_params * sizeof(float));
        }
    }
    if (!ro->is_learner && tr->beta_on) {   // the reference lives on the rollout-only ranks
        tr->ref = app_load_policy(a, tr->base_path, tr->task, &init);
        model_reserve(tr->ref, tr->micro, tr->T_max, 0);
        size_t mbT = (size_t)tr->micro * tr->T_max;
        tr->tok = xcalloc(mbT, sizeof(int));
        tr->tgt = xcalloc(mbT, sizeof(int));
        tr->logp_full = xcalloc(mbT, sizeof(float));
    }
    app_print_memory(a, tr->policy, ro->is_learner);
    app_log(a, "train: %s, %d learner%s + %d rollout-only rank%s (%s), P=%d G=%d, max_new=%d, %d steps\n",
            adv_kind_name(tr->acfg.kind), ro->n_learners, ro->n_learners > 1 ? "s" : "", ro->n_rollout_only,
            ro->n_rollout_only == 1 ? "" : "s", ro->n_rollout_only ? (tr->async ? "asynchronous" : "synchronous") : "colocated",
            tr->P, tr->G, tr->Tc, tr->steps);

    // Resume.
    app_out_path(a, "checkpoints", tr->ckpt_dir, sizeof tr->ckpt_dir);
    if (a->rank == 0) mkdir(tr->ckpt_dir, 0775);
    long start = 0;
    if (a->resume) {
        char path[1100] = "", msg[4096] = "";
        int found = 0;
        if (a->rank == 0) {
            if (!strcmp(a->resume, "auto")) {
                long s;
                int rc = store_ckpt_find(tr->ckpt_dir, path, sizeof path, &s, msg, sizeof msg);
                if (*msg) fputs(msg, stdout);
                if (rc < 0) die_user(EXIT_RUNTIME, "check permissions of run.out_dir", "cannot read '%s'", tr->ckpt_dir);
                found = rc == 0;
                if (!found) printf("train: no checkpoint in %s; starting from step 0\n", tr->ckpt_dir);
            } else {
                snprintf(path, sizeof path, "%s", a->resume);
                found = 1;
            }
        }
        MPI_Bcast(&found, 1, MPI_INT, 0, a->world);
        MPI_Bcast(path, sizeof path, MPI_CHAR, 0, a->world);
        if (found) {
            start = load_checkpoint(tr, path);
            app_log(a, "train: resumed from %s at step %ld\n", path, start);
        }
    }

    // Output files: learners only (the trajectory file is collective over the learner communicator).
    char err[1024];
    if (start > 0 && a->rank == 0) snapshot_outputs(tr, 1);
    MPI_Barrier(a->world);
    if (ro->is_learner) {
        char path[1100];
        app_out_path(a, "trajectories.h5", path, sizeof path);
        tr->traj = traj_open(ro->learners, path, deck_text(d), tr->P, tr->G, TASK_MAX_PROMPT, tr->Tc, start, err, sizeof err);
        if (!tr->traj) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
        // Rows are buffered between checkpoints (they would be recomputed after a crash anyway).
        int every = (int)deck_int(d, "checkpoint.every");
        traj_set_batch(tr->traj, every > 0 && every < 16 ? every : 16);
        if (a->rank == 0) {
            app_out_path(a, "metrics.h5", path, sizeof path);
            tr->metrics = metrics_open(path, deck_text(d), start, err, sizeof err);
            if (!tr->metrics) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
        }
    }

    double max_wall = deck_float(d, "run.max_walltime");
    int ckpt_every = (int)deck_int(d, "checkpoint.every"), log_every = (int)deck_int(d, "run.log_every");
    int exit_code = 0;
    long version = start;

    if (!ro->is_learner) {
        // ---- rollout-only rank ----
        int stop = 0;
        long s = start;
        if (tr->async) {
            BatchHeader h;
            if (s < tr->steps) {
                rollout(tr, s, version > 0 ? version - 1 : 0, &h);
                transfer_post_sends(tr, &h);
            }
            for (;;) {
                weights_sync(tr, &version, &stop);
                transfer_wait(tr);
                if (stop) break;
                if (++s < tr->steps) {
                    rollout(tr, s, version, &h);
                    transfer_post_sends(tr, &h);
                }
            }
        } else {
            for (;;) {
                weights_sync(tr, &version, &stop);
                if (stop) break;
                BatchHeader h;
                rollout(tr, s, version, &h);
                transfer_post_sends(tr, &h);
                transfer_wait(tr);
                s++;
            }
        }
        exit_code = stop == 2 ? EXIT_PREEMPTED : 0;
    } else {
        // ---- learner rank (and rollout too when colocated) ----
        int stop = tr->steps <= start ? 1 : 0;
        double t_bcast = 0;
        int in_wsync = ro->wsync != MPI_COMM_NULL;   // learner 0 speaks for the learners
        if (in_wsync) t_bcast = weights_sync(tr, &version, &stop);
        app_log(a, "%6s %8s %8s %3s %8s %8s %6s %5s %7s %8s %8s %8s %8s %7s\n", "step", "reward", "worst", "grp", "kl",
                "loss", "clip", "len", "gnorm", "roll_ms", "wait_ms", "ms/step", "tok/s", "eta_s");
        double steps_time = 0;
        int steps_done = 0;
        unsigned step_timeout = (unsigned)deck_float(d, "run.step_timeout");
        if (step_timeout) signal(SIGALRM, on_step_timeout);
        for (long s = start; s < tr->steps && !stop; s++) {
            double t_step = comm_now();
            alarm(step_timeout);
            BatchHeader h;
            double t_transfer = 0;
            if (ro->n_rollout_only) {
                t_transfer = transfer_recv(tr, &h);
            } else {
                rollout(tr, s, version, &h);
            }
            if (tr->async && a->rank == 0) memcpy(tr->prev_params, model_params(tr->policy), n_params * sizeof(float));
            StepStats st;
            learner_update(tr, &st);
            version = s + 1;
            // Per-step reductions over learners.
            double sums[S_N] = {st.ent_sum, st.ent_n, st.len_sum, st.len_n, st.n_trunc, st.n_dropped, st.ls.loss,
                                st.ls.pg_loss, st.ls.kl_sum, st.ls.ratio_sum, st.ls.n_clip_low, st.ls.n_clip_high,
                                st.ls.n_clip_region, st.ls.n_tokens, 0};
            // Parallel HDF5 can hang when a collective write hits a full disk, so the space for this step's
            // writes is checked first (rank 0's view, shared with every learner through this reduction).
            double free_mib = a->rank == 0 ? output_free_mib(tr) : 0;
            sums[S_FREE_MIB] = free_mib;
            MPI_Allreduce(MPI_IN_PLACE, sums, S_N, MPI_DOUBLE, MPI_SUM, ro->learners);
            if (sums[S_FREE_MIB] < tr->need_mib)
                die_user(EXIT_RUNTIME, "free space there or move run.out_dir, then run again with --resume auto",
                         "output folder '%s' has %.1f MiB free; the next trajectory rows, metrics and checkpoint need "
                         "about %.1f MiB", deck_str(d, "run.out_dir"), sums[S_FREE_MIB], tr->need_mib);
            double asum[6] = {st.as.a_sum, st.as.a_sumsq, st.as.n_a, st.as.n_prompts, st.as.n_zero_std, st.as.n_cold};
            MPI_Allreduce(MPI_IN_PLACE, asum, 6, MPI_DOUBLE, MPI_SUM, ro->learners);
            double mm[4] = {-st.as.a_min, st.as.a_max, -st.len_min, st.len_max};
            MPI_Allreduce(MPI_IN_PLACE, mm, 4, MPI_DOUBLE, MPI_MAX, ro->learners);
            double t_io0 = comm_now();
            // Trajectories (collective over learners).
            TrajStep ts = {
                .prompt_tokens = NULL, .prompt_len = NULL, .user = NULL, .group = NULL,
                .completion_tokens = tr->learn.ctok, .completion_len = tr->learn.clen,
                .behaviour_logp = tr->learn.blogp, .reward = tr->learn.reward, .advantage = tr->learn.adv,
                .policy_version = tr->learn.version,
            };
            int npl = tr->learn.np;
            int32_t *pt = tr->traj_i32, *pl = pt + (size_t)npl * TASK_MAX_PROMPT;
            for (int i = 0; i < npl; i++) {
                memcpy(pt + (size_t)i * TASK_MAX_PROMPT, tr->learn.prompt[i].tok, sizeof(int) * TASK_MAX_PROMPT);
                pl[i] = tr->learn.prompt[i].len;
                pl[npl + i] = tr->learn.prompt[i].user;
                pl[2 * npl + i] = tr->learn.group[i];
            }
            ts.prompt_tokens = pt; ts.prompt_len = pl; ts.user = pl + npl; ts.group = pl + 2 * npl;
            if (traj_write_step(tr->traj, s, (int)tr->p0_learn, npl, &ts))
                die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", traj_error(tr->traj));
            // Stop decision: any signal on any rank, or not enough walltime left for another step + checkpoint.
            double elapsed = comm_now() - tr->t_start;
            int want_stop = g_stop_signal != 0 || h.stop;
            if (max_wall > 0 && a->rank == 0 && steps_done > 0 &&
                elapsed + 2.0 * (steps_time / steps_done) + 5.0 > max_wall) want_stop = 1;
            MPI_Allreduce(MPI_IN_PLACE, &want_stop, 1, MPI_INT, MPI_MAX, ro->learners);
            int last = s + 1 >= tr->steps;
            stop = last ? 1 : (want_stop ? 2 : 0);
            if (ro->n_rollout_only) {
                if (in_wsync) t_bcast = weights_sync(tr, &version, &stop);
                if (stop == 2 && tr->async) {   // the rollouts already made step s+1: take it so their sends complete
                    BatchHeader hh;
                    transfer_recv(tr, &hh);
                }
            }
            double t_io = comm_now() - t_io0 - t_bcast;
            double dt = comm_now() - t_step;
            steps_time += dt;
            steps_done++;
            if (a->rank == 0) {
                double ph[10] = {h.gen_s, h.reward_s, t_transfer, st.t_fwdbwd, st.t_allreduce, t_bcast, t_io, dt,
                                 ro->n_rollout_only ? h.ref_s : st.t_ref, (double)steps_done};
                log_and_record(tr, s, &st, sums, asum, mm, ph, log_every);
            }
            if ((ckpt_every > 0 && (s + 1) % ckpt_every == 0) || stop) {
                // Outputs first: on disk and snapshotted, so a crash before the next checkpoint cannot take the
                // rows of earlier steps with it (a resume restores the snapshot and cuts it back).
                double t0 = comm_now();
                if (traj_sync(tr->traj)) die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", traj_error(tr->traj));
                if (a->rank == 0) {
                    if (metrics_flush(tr->metrics))
                        die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", metrics_error(tr->metrics));
                    snapshot_outputs(tr, 0);
                    write_checkpoint(tr, s + 1);
                    tr->last_ckpt_s = comm_now() - t0;
                    if (s % log_every == 0 || stop)
                        app_log(a, "checkpoint: step %ld in %s (%.0f ms with the output snapshots)\n", s + 1,
                                tr->ckpt_dir, 1e3 * tr->last_ckpt_s);
                }
            }
        }
        alarm(0);
        exit_code = stop == 2 ? EXIT_PREEMPTED : 0;
    }
    // Final policy and clean-up.
    if (ro->is_learner && exit_code == 0 && a->rank == 0) {
        char path[1100];
        app_out_path(a, "final.h5", path, sizeof path);
        app_save_policy(a, path, tr->policy, tr->task, tr->steps, "train");
        app_log(a, "train: wrote %s\n", path);
    }
    if (exit_code == EXIT_PREEMPTED) app_log(a, "train: stopped early after a checkpoint; run again with --resume auto\n");
    if (tr->traj && traj_close(tr->traj)) die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "closing trajectories failed");
    if (tr->metrics && metrics_close(tr->metrics)) die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "closing metrics failed");
    MPI_Barrier(a->world);
    if (ro->is_rollout) { batch_free(&tr->roll); free(tr->ptok_exp); free(tr->plen_exp); }
    if (!ro->is_learner) {
        free(tr->tok); free(tr->tgt); free(tr->logp_full);
        if (tr->ref) model_free(tr->ref);
    }
    if (ro->is_learner) {
        if (ro->n_rollout_only) batch_free(&tr->learn);
        adamw_free(&tr->opt);
        free(tr->tok); free(tr->tgt); free(tr->logp_full); free(tr->ent_full); free(tr->dlogp_full);
        free(tr->logp); free(tr->dlogp); free(tr->adv_seq); free(tr->len_eff);
        free(tr->prev_params);
        free(tr->decay);
        if (tr->ref) model_free(tr->ref);
    }
    history_free(&tr->hist);
    free(tr->wire); free(tr->reqs); free(tr->gathered); free(tr->traj_i32);
    free(tr->user_group);
    model_free(tr->policy);
    comm_roles_free(ro);
    task_free(tr->task);
    return exit_code;
}
