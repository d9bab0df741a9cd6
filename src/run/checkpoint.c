// checkpoint.c — checkpoint files of a training run and the output snapshots (see checkpoint.h).
#include "checkpoint.h"
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "rng.h"
#include "store.h"

// The identity's root attributes: one table drives the write and the read.
typedef struct { const char *name; size_t field; } IdentityAttr;
#define A(name, field) {name, offsetof(RunIdentity, field)}
static const IdentityAttr IDENTITY[] = {
    A("step", step), A("optim_t", optim_t), A("world_size", world_size), A("rollout_ranks", rollout_ranks),
    A("async", async), A("prompts", prompts), A("group_size", group_size), A("ckpt_schema", ckpt_schema),
    A("reference_crc32", reference_crc32),
};
#undef A
enum { N_IDENTITY = sizeof IDENTITY / sizeof IDENTITY[0] };
static long *identity_field(RunIdentity *id, int i) { return (long *)((char *)id + IDENTITY[i].field); }

// Every rank's sampling stream for the next step. Streams are re-derived from (seed, role, rank, step) at each
// step, so these are a record (checked on resume against the deck's seed), not state that must be restored.
static int put_sample_streams(StoreWriter *w, const CkptTarget *t, const RunIdentity *id) {
    int size = (int)id->world_size, n_ro = (int)id->rollout_ranks;
    size_t rd[2] = {(size_t)size, 4};
    uint64_t *rs = xmalloc(sizeof(uint64_t) * 4 * (size_t)size);
    for (int r = 0; r < size; r++) {
        Rng g;
        int rr = n_ro ? r - (size - n_ro) : r;
        rng_seed(&g, t->seed, RNG_SAMPLE, (uint64_t)(rr < 0 ? 0 : rr), (uint64_t)id->step);
        memcpy(rs + 4 * r, g.s, sizeof g.s);
    }
    int rc = store_put(w, "rng/sample_streams", STORE_U64, rs, 2, rd);
    free(rs);
    return rc;
}

static int put_state(StoreWriter *w, const CkptState *s) {
    size_t n = s->n_params;
    int rc = store_put(w, "model/params", STORE_F32, s->params, 1, &n);
    rc |= store_put(w, "optim/m", STORE_F32, s->opt_m, 1, &n);
    rc |= store_put(w, "optim/v", STORE_F32, s->opt_v, 1, &n);
    if (s->rollout_params) rc |= store_put(w, "rollout/params", STORE_F32, s->rollout_params, 1, &n);
    size_t hn = history_state_size(s->hist);
    double *hs = xmalloc(sizeof(double) * hn);
    history_pack(s->hist, hs);
    rc |= store_put(w, "pgrpo/history", STORE_F64, hs, 1, &hn);
    free(hs);
    rc |= store_put(w, "groups/user_group", STORE_I32, s->user_group, 1, &s->n_users);
    return rc;
}

void ckpt_write(const CkptTarget *t, const RunIdentity *id, const CkptState *s) {
    char path[1100], err[1024];
    store_ckpt_path(path, sizeof path, t->dir, id->step);
    StoreWriter *w = store_writer_create(path, STORE_KIND_CKPT, t->deck_text, err, sizeof err);
    if (!w) die_user(EXIT_RUNTIME, "check that run.out_dir is writable and has space", "%s", err);
    put_state(w, s);
    put_sample_streams(w, t, id);
    int64_t cursor = (int64_t)id->step * id->prompts;
    store_put(w, "data/cursor", STORE_I64, &cursor, 0, NULL);
    RunIdentity copy = *id;
    for (int i = 0; i < N_IDENTITY; i++) store_put_attr_int(w, "/", IDENTITY[i].name, *identity_field(&copy, i));
    store_put_attr_str(w, "/", "reference_path", t->reference_path);
    store_put_attr_str(w, "/", "task", t->task);
    store_put_attr_str(w, "/", "rng_rule", "xoshiro256** seeded by splitmix64(seed, role, rank, step) at every step");
    // A put error is kept by the writer and reported by the commit.
    if (store_commit(w, err, sizeof err)) die_user(EXIT_RUNTIME, "check disk space and permissions of run.out_dir", "%s", err);
    if (store_ckpt_publish(t->dir, id->step, t->keep_last, t->keep_every, err, sizeof err))
        die_user(EXIT_RUNTIME, "check permissions of the checkpoint folder", "%s", err);
}

int ckpt_resolve(const char *resume, const char *dir, char *path, size_t n) {
    if (strcmp(resume, "auto")) {
        snprintf(path, n, "%s", resume);
        return 1;
    }
    char msg[4096] = "";
    long s;
    int rc = store_ckpt_find(dir, path, n, &s, msg, sizeof msg);
    if (*msg) fputs(msg, stdout);
    if (rc < 0) die_user(EXIT_RUNTIME, "check permissions of run.out_dir", "cannot read '%s'", dir);
    if (rc) printf("train: no checkpoint in %s; starting from step 0\n", dir);
    return rc == 0;
}

void ckpt_check_identity(const App *a, const char *path, const RunIdentity *got, const RunIdentity *want) {
    if (got->prompts != want->prompts || got->group_size != want->group_size)
        die_user(EXIT_USAGE, "resume with the deck the run started with (train.prompts and train.group_size)",
                 "'%s' was written with train.prompts=%ld train.group_size=%ld, the deck has %ld and %ld", path,
                 got->prompts, got->group_size, want->prompts, want->group_size);
    if (got->async != want->async)
        die_user(EXIT_USAGE, "keep train.async as it was when the run started", "'%s' was written with train.async=%ld",
                 path, got->async);
    if ((uint32_t)got->reference_crc32 != (uint32_t)want->reference_crc32)
        die_user(EXIT_USAGE, "resume against the SFT base the run started from (train.base)",
                 "'%s' was trained against a reference policy with CRC32 %08lx, but the base has %08lx", path,
                 (unsigned long)(uint32_t)got->reference_crc32, (unsigned long)(uint32_t)want->reference_crc32);
    if (got->world_size != want->world_size || got->rollout_ranks != want->rollout_ranks)
        app_log(a, "warning: '%s' was written by %ld ranks (%ld rollout-only); continuing on %ld (%ld): the run stays "
                "valid but is no longer bit-identical to an uninterrupted run\n", path, got->world_size,
                got->rollout_ranks, want->world_size, want->rollout_ranks);
}

// Learner state: moments, optimiser step, rollouts' weights (async learner 0) and the P-GRPO history.
static int get_learner_state(StoreReader *r, const char *path, const RunIdentity *id, CkptState *s) {
    size_t n = s->n_params;
    int rc = store_get(r, "optim/m", STORE_F32, s->opt_m, n);
    rc |= store_get(r, "optim/v", STORE_F32, s->opt_v, n);
    *s->opt_t = id->optim_t;
    if (s->rollout_params) rc |= store_get(r, "rollout/params", STORE_F32, s->rollout_params, n);
    size_t hn = history_state_size(s->hist);
    double *hs = xmalloc(sizeof(double) * hn);
    rc |= store_get(r, "pgrpo/history", STORE_F64, hs, hn);
    if (!rc && history_unpack(s->hist, hs, hn))
        die_user(EXIT_USAGE, "keep the [pgrpo] history settings the run started with",
                 "'%s': the P-GRPO history was written with different [pgrpo] settings", path);
    free(hs);
    return rc;
}

void ckpt_load(const App *a, const char *path, const RunIdentity *want, int rollout_weights, CkptState *s, RunIdentity *id) {
    char err[1024];
    StoreReader *r = store_open(path, STORE_KIND_CKPT, err, sizeof err);
    if (!r) die_user(EXIT_RUNTIME, "pass another checkpoint, or --resume auto to take the newest valid one", "%s", err);
    memset(id, 0, sizeof *id);
    for (int i = 0; i < N_IDENTITY; i++) store_get_attr_int(r, "/", IDENTITY[i].name, identity_field(id, i));
    ckpt_check_identity(a, path, id, want);
    int rc = store_get(r, rollout_weights ? "rollout/params" : "model/params", STORE_F32, s->params, s->n_params);
    if (s->opt_m) rc |= get_learner_state(r, path, id, s);
    if (rc) die_user(EXIT_RUNTIME, "the checkpoint is incomplete; remove it to fall back to the previous one",
                     "'%s': %s", path, store_reader_error(r) ? store_reader_error(r) : "cannot read a dataset");
    store_close(r);
}

void ckpt_snapshot_outputs(const App *a, const char *dir, int restore) {
    static const char *const names[2] = {"metrics", "trajectories"};
    for (int i = 0; i < 2; i++) {
        char live[1100], snap[1100], err[2400], file[64];
        snprintf(file, sizeof file, "%s.h5", names[i]);
        app_out_path(a, file, live, sizeof live);
        snprintf(snap, sizeof snap, "%s/%s.snapshot.h5", dir, names[i]);
        if (restore && access(snap, R_OK)) continue;   // a run from before snapshots: keep the live file
        if (app_copy_file(restore ? snap : live, restore ? live : snap, err, sizeof err))
            die_user(EXIT_RUNTIME, "check disk space and permissions of run.out_dir", "%s", err);
    }
}
