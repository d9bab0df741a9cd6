// trainer.c — the training loop and its stages (see trainer.h).
#include "trainer.h"
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "checkpoint.h"
#include "comm.h"
#include "train_config.h"
#include "guards.h"
#include "learner.h"
#include "policy.h"
#include "rollout.h"
#include "stats.h"
#include "store.h"
#include "transfer.h"

_Static_assert(sizeof(int) == sizeof(int32_t), "trajectory arrays assume 32-bit int");

struct Trainer {
    App *a;
    TrainConfig c;
    Roles roles;
    Task *task;
    Model *policy;
    int *user_group, n_groups;   // (n_users)
    long p0_roll, np_roll;       // this rank's rollout prompts
    long p0_learn, np_learn;     // this rank's learner prompts
    Rollout roll;                // rollout ranks
    Learner learn;               // learner ranks
    Batch *batch;                // the learner's step: its own (split) or the rollout's (colocated)
    Batch own_batch;
    Transfer *xfer;
    float *prev_params;          // async learner 0: the weights rollouts use for the next batch
    int32_t *traj_i32;           // (np_learn, TASK_MAX_PROMPT + 3) prompt rows for trajectories.h5
    MetricsFile *metrics;        // learner 0
    TrajFile *traj;              // learners
    MetricRow *row;              // learner 0
    Timers tm;
    RunIdentity id;              // this run's identity (id.step: the next step)
    char base_path[1024], ckpt_dir[1024];
    double need_mib;             // free space the next writes need in run.out_dir
    double t_start, steps_time, last_ckpt_s;
    int steps_done;
    long start, version;
};

// ---- prolog ----

// The SFT base: train.base, or <out_dir>/sft_base.h5 built now when missing (same deck, same ranks).
static void ensure_base(Trainer *t) {
    App *a = t->a;
    if (*t->c.base) snprintf(t->base_path, sizeof t->base_path, "%s", t->c.base);
    else app_sft_path(a, t->base_path, sizeof t->base_path);
    int have_base = access(t->base_path, R_OK) == 0;
    comm_bcast(&have_base, sizeof have_base, 0, a->world);
    if (have_base) return;
    char sft_out[1024];
    app_sft_path(a, sft_out, sizeof sft_out);
    if (strcmp(sft_out, t->base_path))
        deck_fail(a->deck, "train.base", "run `pgrpo sft DECK` first, or set train.base to the deck's sft.out to build it",
                  "cannot read '%s'", t->c.base);
    app_log(a, "train: no SFT base at %s; building it first (pgrpo sft)\n", t->base_path);
    cmd_sft(a);
}

// Free space a step's writes may need: a checkpoint (weights, two moments, maybe the rollouts' weights) plus the
// output snapshots, and a flush of buffered trajectory rows (uncompressed bound), with 1 MiB to spare.
static double space_needed_mib(const TrainConfig *c, size_t n_params) {
    double traj_row = (double)c->P * (TASK_MAX_PROMPT * 4 + 32 + (double)c->G * (c->Tc * 8.0 + 12));
    return ((double)n_params * 4 * (c->async ? 4 : 3) + traj_row * 16) / (1024.0 * 1024.0) + 1.0;
}

// The frozen reference (a copy of the SFT base) on the ranks that score with it.
static Model *load_reference(Trainer *t, int micro) {
    Model *ref = policy_load(t->a, t->base_path, t->task);
    model_reserve(ref, micro, model_config(t->policy)->max_t, 0);
    model_hold_weights(ref, 1);   // frozen: packed once for the run
    return ref;
}

// Roles, prompt ranges, the rollout and learner stages and every per-step buffer: the loop allocates nothing.
static void setup_stages(Trainer *t) {
    const TrainConfig *c = &t->c;
    Roles *ro = &t->roles;
    comm_split_range(c->P, ro->n_rollouts, ro->rollout_rank < 0 ? 0 : ro->rollout_rank, &t->p0_roll, &t->np_roll);
    comm_split_range(c->P, ro->n_learners, ro->learner_rank < 0 ? 0 : ro->learner_rank, &t->p0_learn, &t->np_learn);
    if (!ro->is_rollout) t->np_roll = 0;
    if (!ro->is_learner) t->np_learn = 0;
    int nroll = (int)t->np_roll * c->G, nlearn = (int)t->np_learn * c->G;
    int mb_max = ro->is_learner ? (nlearn + c->n_mb - 1) / c->n_mb : nroll;
    int micro = c->micro > mb_max ? (mb_max > 0 ? mb_max : 1) : c->micro, T_max = model_config(t->policy)->max_t;
    model_reserve(t->policy, micro, T_max, ro->is_rollout ? nroll : 0);
    int ref_here = c->beta_on && (ro->n_rollout_only ? !ro->is_learner : 1);
    if (ro->is_rollout)
        rollout_init(&t->roll, c, t->a->deck, t->task, t->policy, ref_here && !ro->is_learner ? load_reference(t, micro) : NULL,
                     ro->rollout_rank, t->p0_roll, t->np_roll, micro, T_max);
    if (ro->is_learner) {
        learner_init(&t->learn, c, ro, t->policy, ref_here ? load_reference(t, micro) : NULL, t->user_group,
                     t->n_groups, t->p0_learn, t->np_learn, micro, T_max);
        if (ro->n_rollout_only) { batch_alloc(&t->own_batch, (int)t->np_learn, c->G, c->Tc); t->batch = &t->own_batch; }
        else t->batch = &t->roll.batch;
        if (c->async && t->a->rank == 0) {
            size_t n = model_num_params(t->policy);
            t->prev_params = xmalloc(n * sizeof(float));
            memcpy(t->prev_params, model_params(t->policy), n * sizeof(float));
        }
    }
    t->xfer = transfer_create(ro, c->P, t->p0_roll, t->np_roll, t->p0_learn, t->np_learn, c->G, c->Tc);
    t->traj_i32 = xcalloc((size_t)(t->np_learn ? t->np_learn : 1) * (TASK_MAX_PROMPT + 3), sizeof(int32_t));
    t->need_mib = space_needed_mib(c, model_num_params(t->policy));
}

// This rank's part of the checkpoint state (arrays it does not hold stay NULL).
static CkptState ckpt_state(Trainer *t) {
    int learner = t->roles.is_learner;
    return (CkptState){
        .n_params = model_num_params(t->policy), .params = model_params(t->policy),
        .opt_m = learner ? t->learn.opt.m : NULL, .opt_v = learner ? t->learn.opt.v : NULL,
        .opt_t = learner ? &t->learn.opt.t : NULL, .rollout_params = t->prev_params,
        .hist = learner ? &t->learn.hist : NULL, .user_group = t->user_group,
        .n_users = (size_t)task_n_users(t->task, SPLIT_TRAIN),
    };
}

// --resume: rank 0 picks the checkpoint, every rank loads its part. Sets t->start.
// The checkpoint a resume starts from (found = 0: none, a fresh start), the same on every rank.
static int resume_find(Trainer *t, char *path, size_t n) {
    App *a = t->a;
    if (!a->resume) return 0;
    int found = a->rank == 0 ? ckpt_resolve(a->resume, t->ckpt_dir, path, n) : 0;
    comm_bcast(&found, sizeof found, 0, a->world);
    comm_bcast(path, n, 0, a->world);
    return found;
}

static void resume(Trainer *t, const char *path) {
    App *a = t->a;
    CkptState s = ckpt_state(t);
    RunIdentity got;
    ckpt_load(a, path, &t->id, t->c.async && !t->roles.is_learner, &s, &got);
    t->start = got.step;
    app_log(a, "train: resumed from %s at step %ld\n", path, t->start);
}

// Output files: learners only (the trajectory file is collective over the learner communicator).
static void open_outputs(Trainer *t) {
    App *a = t->a;
    const TrainConfig *c = &t->c;
    char err[1024], path[1100];
    if (t->start > 0 && a->rank == 0) ckpt_snapshot_outputs(a, t->ckpt_dir, 1);
    comm_barrier(a->world);
    if (!t->roles.is_learner) return;
    app_out_path(a, "trajectories.h5", path, sizeof path);
    t->traj = traj_open(t->roles.learners, path, deck_text(a->deck), c->P, c->G, TASK_MAX_PROMPT, c->Tc, t->start, err, sizeof err);
    if (!t->traj) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
    // Rows are buffered between checkpoints (they would be recomputed after a crash anyway).
    traj_set_batch(t->traj, c->ckpt_every > 0 && c->ckpt_every < 16 ? c->ckpt_every : 16);
    if (a->rank != 0) return;
    app_out_path(a, "metrics.h5", path, sizeof path);
    t->metrics = metrics_open(path, deck_text(a->deck), t->start, err, sizeof err);
    if (!t->metrics) die_user(EXIT_RUNTIME, "check run.out_dir", "%s", err);
    t->row = metric_row_create(t->n_groups);
}

static void log_setup(const Trainer *t) {
    const Roles *ro = &t->roles;
    const TrainConfig *c = &t->c;
    app_print_memory(t->a, t->policy, ro->is_learner);
    app_log(t->a, "train: %s, %d learner%s + %d rollout-only rank%s (%s), P=%d G=%d, max_new=%d, %d steps\n",
            adv_kind_name(c->acfg.kind), ro->n_learners, ro->n_learners > 1 ? "s" : "", ro->n_rollout_only,
            ro->n_rollout_only == 1 ? "" : "s", ro->n_rollout_only ? (c->async ? "asynchronous" : "synchronous") : "colocated",
            c->P, c->G, c->Tc, c->steps);
}

Trainer *trainer_create(App *a) {
    Trainer *t = xcalloc(1, sizeof *t);
    t->a = a;
    t->t_start = comm_now();
    t->task = app_task(a);
    app_model_config(a, t->task);   // the [model] keys are checked before anything runs
    train_config_load(a, t->task, &t->c);
    comm_roles_init(&t->roles, a->world, t->c.rollout_ranks);
    app_out_path(a, "checkpoints", t->ckpt_dir, sizeof t->ckpt_dir);   // creates run.out_dir on rank 0
    if (a->rank == 0) mkdir(t->ckpt_dir, 0775);
    comm_barrier(a->world);
    guards_lock_out_dir(a->cfg.run.out_dir, a->rank, a->world);
    ensure_base(t);
    t->policy = policy_load(a, t->base_path, t->task);
    size_t n_params = model_num_params(t->policy);
    char ckpt[1100] = "";
    int found = resume_find(t, ckpt, sizeof ckpt);
    t->user_group = xmalloc(sizeof(int) * (size_t)task_n_users(t->task, SPLIT_TRAIN));
    train_groups_build(a, &t->c, t->task, found ? ckpt : NULL, t->user_group, &t->n_groups);
    setup_stages(t);
    log_setup(t);
    t->id = (RunIdentity){.world_size = a->size, .rollout_ranks = t->roles.n_rollout_only, .async = t->c.async,
                          .prompts = t->c.P, .group_size = t->c.G, .ckpt_schema = CKPT_SCHEMA,
                          .reference_crc32 = store_crc32(0, model_params(t->policy), n_params * sizeof(float))};
    if (found) resume(t, ckpt);
    open_outputs(t);
    t->version = t->start;
    return t;
}

// ---- the step's stages (learner ranks) ----

static void stage_checkpoint(Trainer *t, long s, int stop);

// ---- a reward source that failed: the job ends with its message, never with its rewards used ----

// Colocated ranks (collective over the learners, which are every rank): step s's rewards failed on some rank.
// Steps before s are complete and nothing of step s has been applied, so the checkpoint of step s (the state after
// step s-1, what a periodic checkpoint would hold) is written first unless it exists; then the lowest failing rank's
// message ends the job (exit 3).
static void reward_failed(Trainer *t, long s, int bad) {
    App *a = t->a;
    int m = comm_max_int(bad ? INT_MAX - a->rank : -1, t->roles.learners), who = INT_MAX - m;
    char msg[sizeof t->roll.err + 32], hint[1400];
    snprintf(msg, sizeof msg, "rank %d: %s", a->rank, t->roll.err);
    comm_bcast(msg, sizeof msg, who, t->roles.learners);
    int every = t->c.ckpt_every, exists = s > 0 && (s == t->start || (every > 0 && s % every == 0));
    if (s > t->start && !exists) stage_checkpoint(t, s - 1, 1);
    if (s > 0)
        snprintf(hint, sizeof hint, "fix the reward, then run again with --resume auto: the checkpoint of step %ld "
                 "(steps 0..%ld done) is in %s", s, s - 1, t->ckpt_dir);
    else
        snprintf(hint, sizeof hint, "fix the reward and run again: no step had completed");
    // One line: rank 0 says it and its abort ends the others (a stop signal may cut a sleep short; 30 s at most).
    for (int i = 0; a->rank != 0 && i < 30; i++) sleep(1);
    die_user(EXIT_RUNTIME, hint, "%s", msg);
}

// A rollout-only rank: the learners are waiting for this batch; the job ends from here (the last periodic
// checkpoint is the one to resume from).
static void reward_failed_rollout(Trainer *t) {
    char hint[1400];
    snprintf(hint, sizeof hint, "fix the reward, then run again with --resume auto from the last periodic checkpoint "
             "in %s (checkpoint.every = %d)", t->ckpt_dir, t->c.ckpt_every);
    die_user(EXIT_RUNTIME, hint, "rank %d: %s", t->a->rank, t->roll.err);
}

// The step's trajectories: received from the rollout ranks, or sampled here when colocated.
static void stage_trajectories(Trainer *t, long s, TransferHeader *h) {
    timers_reset(&t->tm);
    if (t->roles.n_rollout_only) {
        timer_set(&t->tm, TIMER_TRANSFER, transfer_recv(t->xfer, t->batch, h));
    } else {
        int bad = rollout_step(&t->roll, s, t->version, h) != 0;
        if (comm_max_int(bad, t->roles.learners)) reward_failed(t, s, bad);
        h->stop = guards_stop_requested();
    }
    timer_set(&t->tm, TIMER_ROLLOUT, h->gen_s);
    timer_set(&t->tm, TIMER_REWARD, h->reward_s);
    // async: keep the weights the rollouts now sample step s+1 with (checkpointed as rollout/params)
    if (t->prev_params) memcpy(t->prev_params, model_params(t->policy), model_num_params(t->policy) * sizeof(float));
}

// Sums and maxima over learners. Parallel HDF5 can hang when a collective write hits a full disk, so the space
// for this step's writes is checked first (rank 0's view, shared with every learner through the sum).
static void stage_reduce(Trainer *t, const StepStats *st, StepSums *sums, StepMax *mx) {
    double free_mib = t->a->rank == 0 ? guards_free_mib(t->ckpt_dir) : 0;
    step_stats_local(st, free_mib, sums, mx);
    comm_sum_doubles((double *)sums, STEP_SUMS_N, t->roles.learners);
    comm_max_doubles((double *)mx, STEP_MAX_N, t->roles.learners);
    if (sums->free_mib < t->need_mib)
        die_user(EXIT_RUNTIME, "free space there or move run.out_dir, then run again with --resume auto",
                 "output folder '%s' has %.1f MiB free; the next trajectory rows, metrics and checkpoint need about "
                 "%.1f MiB", t->a->cfg.run.out_dir, sums->free_mib, t->need_mib);
}

// The step's row of trajectories.h5 (collective over learners).
static void stage_write_trajectories(Trainer *t, long s) {
    const Batch *b = t->batch;
    int np = b->np;
    int32_t *pt = t->traj_i32, *pl = pt + (size_t)np * TASK_MAX_PROMPT;
    for (int i = 0; i < np; i++) {
        memcpy(pt + (size_t)i * TASK_MAX_PROMPT, b->prompt[i].tok, sizeof(int) * TASK_MAX_PROMPT);
        pl[i] = b->prompt[i].len;
        pl[np + i] = b->prompt[i].user;
        pl[2 * np + i] = b->group[i];
    }
    TrajStep ts = {
        .prompt_tokens = pt, .prompt_len = pl, .user = pl + np, .group = pl + 2 * np,
        .completion_tokens = b->ctok, .completion_len = b->clen, .behaviour_logp = b->blogp, .reward = b->reward,
        .advantage = b->adv, .policy_version = b->version,
    };
    if (traj_write_step(t->traj, s, (int)t->p0_learn, np, &ts))
        die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", traj_error(t->traj));
}

// 0 go on, 1 the last step is done, 2 stop early: any rank's stop signal, or not enough walltime for another
// step and a checkpoint.
static int stage_decide_stop(Trainer *t, long s, const TransferHeader *h) {
    int want = guards_stop_requested() || h->stop;
    if (t->a->rank == 0 && !guards_walltime_left(t->c.max_wall, comm_now() - t->t_start, t->steps_time, t->steps_done))
        want = 1;
    want = comm_max_int(want, t->roles.learners);
    return s + 1 >= t->c.steps ? 1 : (want ? 2 : 0);
}

// Weights (and the stop decision) to the rollout-only ranks; when stopping early in async mode, the rollouts'
// already generated step s+1 is taken so their sends complete.
static void stage_sync_rollouts(Trainer *t, int *stop) {
    if (!t->roles.n_rollout_only) return;
    if (t->roles.in_wsync)
        timer_set(&t->tm, TIMER_BROADCAST, transfer_weights(&t->roles, model_params(t->policy),
                                                          model_num_params(t->policy), &t->version, stop));
    if (*stop == 2 && t->c.async) {
        TransferHeader hh;
        transfer_recv(t->xfer, t->batch, &hh);
    }
}

// Learner 0: the metrics row (H5MD series) and the fixed-column log line.
static void stage_record(Trainer *t, long s, const StepStats *st, const StepSums *sums, const StepMax *mx) {
    MetricRow *m = t->row;
    timer_set(&t->tm, TIMER_CHECKPOINT, t->last_ckpt_s);   // the checkpoint written after the previous step
    t->last_ckpt_s = 0;
    metric_row_fill(m, st, sums, mx, &t->learn.hist, &t->tm, t->c.n_mb);
    if (metrics_append(t->metrics, s, m->n, m->name, m->v))
        die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", metrics_error(t->metrics));
    for (int g = 0; g < t->n_groups; g++)   // the group's name travels as the description of its series
        if (st->grp[g].n > 0)
            metrics_set_meta(t->metrics, metric_row_group_mean_name(m, g), "reward", task_group_name(t->task, g));
    if (s % t->c.log_every == 0 || s + 1 == t->c.steps) {
        char line[256];
        double eta = (comm_now() - t->t_start) / t->steps_done * (double)(t->c.steps - s - 1);
        metric_row_log_line(m, s, st->gnorm, &t->tm, eta, line, sizeof line);
        app_log(t->a, "%s\n", line);
    }
}

// Outputs first: on disk and snapshotted, so a crash before the next checkpoint cannot take the rows of earlier
// steps with it (a resume restores the snapshot and cuts it back).
static void stage_checkpoint(Trainer *t, long s, int stop) {
    const TrainConfig *c = &t->c;
    if (!((c->ckpt_every > 0 && (s + 1) % c->ckpt_every == 0) || stop)) return;
    double t0 = comm_now();
    if (traj_sync(t->traj)) die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", traj_error(t->traj));
    if (t->a->rank != 0) return;
    if (metrics_flush(t->metrics)) die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "%s", metrics_error(t->metrics));
    ckpt_snapshot_outputs(t->a, t->ckpt_dir, 0);
    CkptTarget target = {.dir = t->ckpt_dir, .deck_text = deck_text(t->a->deck), .reference_path = t->base_path,
                         .task = task_name(t->task), .seed = c->seed, .keep_last = c->keep_last, .keep_every = c->keep_every};
    RunIdentity id = t->id;
    id.step = s + 1;
    id.optim_t = t->learn.opt.t;
    CkptState state = ckpt_state(t);
    ckpt_write(&target, &id, &state);
    t->last_ckpt_s = comm_now() - t0;
    if (s % c->log_every == 0 || stop)
        app_log(t->a, "checkpoint: step %ld in %s (%.0f ms with the output snapshots)\n", s + 1, t->ckpt_dir, 1e3 * t->last_ckpt_s);
}

// One training step on a learner rank: the stages of trainer.h in order. Returns the stop decision.
static int learner_step(Trainer *t, long s) {
    double t_step = comm_now();
    TransferHeader h;
    StepStats st;
    StepSums sums;
    StepMax mx;
    stage_trajectories(t, s, &h);
    if (learner_update(&t->learn, s, t->batch, &st, &t->tm))
        die_user(EXIT_RUNTIME, "nothing of this step was written and the last checkpoint is intact: fix the "
                 "cause (e.g. a smaller train.lr) and run again with --resume auto", "%s", t->learn.err);
    t->version = s + 1;
    stage_reduce(t, &st, &sums, &mx);
    double t_io0 = comm_now();
    stage_write_trajectories(t, s);
    int stop = stage_decide_stop(t, s, &h);
    stage_sync_rollouts(t, &stop);
    timer_set(&t->tm, TIMER_IO, comm_now() - t_io0 - t->tm.sec[TIMER_BROADCAST]);
    timer_set(&t->tm, TIMER_REFERENCE, t->roles.n_rollout_only ? h.ref_s : t->tm.sec[TIMER_REFERENCE]);
    double dt = comm_now() - t_step;
    timer_set(&t->tm, TIMER_STEP, dt);
    t->steps_time += dt;
    t->steps_done++;
    if (t->a->rank == 0) stage_record(t, s, &st, &sums, &mx);
    stage_checkpoint(t, s, stop);
    return stop;
}

static int run_learner(Trainer *t) {
    int stop = t->c.steps <= t->start ? 1 : 0;
    if (t->roles.in_wsync)   // learner 0 speaks for the learners
        transfer_weights(&t->roles, model_params(t->policy), model_num_params(t->policy), &t->version, &stop);
    char header[256];
    metric_log_header(header, sizeof header);
    app_log(t->a, "%s\n", header);
    for (long s = t->start; s < t->c.steps && !stop; s++) {
        guards_step_timeout(t->c.step_timeout);
        stop = learner_step(t, s);
    }
    guards_step_timeout(0);
    return stop == 2 ? EXIT_PREEMPTED : 0;
}

// A rollout-only rank: sample, send, and wait for the next weights until learner 0 says stop. Asynchronous: the
// batch of step s+1 is generated with version s while the learners update, so it is sent before the sync.
static int run_rollout_only(Trainer *t) {
    int stop = 0;
    long s = t->start;
    TransferHeader h;
    if (t->c.async && s < t->c.steps) {
        if (rollout_step(&t->roll, s, t->version > 0 ? t->version - 1 : 0, &h)) reward_failed_rollout(t);
        h.stop = guards_stop_requested();
        transfer_send(t->xfer, &t->roll.batch, &h);
    }
    for (;;) {
        transfer_weights(&t->roles, model_params(t->policy), model_num_params(t->policy), &t->version, &stop);
        if (t->c.async) transfer_wait(t->xfer);
        if (stop) break;
        if (t->c.async && ++s >= t->c.steps) continue;
        if (rollout_step(&t->roll, s, t->version, &h)) reward_failed_rollout(t);
        h.stop = guards_stop_requested();
        transfer_send(t->xfer, &t->roll.batch, &h);
        if (!t->c.async) { transfer_wait(t->xfer); s++; }
    }
    return stop == 2 ? EXIT_PREEMPTED : 0;
}

int trainer_run(Trainer *t) { return t->roles.is_learner ? run_learner(t) : run_rollout_only(t); }

// ---- epilog ----

int trainer_finish(Trainer *t, int rc) {
    App *a = t->a;
    if (t->roles.is_learner && rc == 0 && a->rank == 0) {
        char path[1100];
        app_out_path(a, "final.h5", path, sizeof path);
        policy_save(a, path, t->policy, t->task, t->c.steps, "train");
        app_log(a, "train: wrote %s\n", path);
    }
    if (rc == EXIT_PREEMPTED) app_log(a, "train: stopped early after a checkpoint; run again with --resume auto\n");
    if (t->traj && traj_close(t->traj)) die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "closing trajectories failed");
    if (t->metrics && metrics_close(t->metrics)) die_user(EXIT_RUNTIME, "check disk space in run.out_dir", "closing metrics failed");
    comm_barrier(a->world);
    if (t->roles.is_rollout) rollout_free(&t->roll);
    if (t->roles.is_learner) learner_free(&t->learn);
    if (t->own_batch.prompt) batch_free(&t->own_batch);
    transfer_free(t->xfer);
    metric_row_free(t->row);
    free(t->prev_params); free(t->traj_i32); free(t->user_group);
    model_free(t->policy);
    comm_roles_free(&t->roles);
    task_free(t->task);
    free(t);
    return rc;
}
