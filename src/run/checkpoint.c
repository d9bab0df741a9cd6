// checkpoint.c — checkpoint files of a training run and the output snapshots (see checkpoint.h).
#include "checkpoint.h"
#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "finite.h"
#include "resume.h"
#include "rng.h"
#include "snapshot.h"
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
static void sample_streams(uint64_t seed, const RunIdentity *id, uint64_t *rs /*(world_size, 4)*/) {
    int size = (int)id->world_size, n_ro = (int)id->rollout_ranks;
    for (int r = 0; r < size; r++) {
        Rng g;
        int rr = n_ro ? r - (size - n_ro) : r;
        rng_seed(&g, seed, RNG_SAMPLE, (uint64_t)(rr < 0 ? 0 : rr), (uint64_t)id->step);
        memcpy(rs + 4 * r, g.s, sizeof g.s);
    }
}

static int put_sample_streams(StoreWriter *w, const CkptTarget *t, const RunIdentity *id) {
    size_t rd[2] = {(size_t)id->world_size, 4};
    uint64_t *rs = xmalloc(sizeof(uint64_t) * 4 * rd[0]);
    sample_streams(t->seed, id, rs);
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

// A resume trusts nothing it has not checked: every helper below refuses with one line naming the file and what.
#define HINT_DECK "resume with the deck the run started with, or start a new run in another run.out_dir"
#define HINT_FILE "pass an earlier checkpoint with --resume PATH, or remove this one so --resume auto takes the one before"

// The stored deck against this run's: RESUME_REFUSE keys by name (exit 2), RESUME_WARN keys as a warning.
static void check_deck(const App *a, StoreReader *r, const char *path) {
    char *stored = store_get_attr_strdup(r, "/", "deck");
    if (!stored) die_user(EXIT_RUNTIME, HINT_FILE, "'%s' has no root attribute 'deck' (the run's settings)", path);
    char err[2048], warn[2048];
    int rc = resume_compare_decks(stored, deck_text(a->deck), err, sizeof err, warn, sizeof warn);
    free(stored);
    if (rc) die_user(EXIT_USAGE, HINT_DECK, "cannot resume from '%s': changed settings that would change the result: %s",
                     path, err);
    if (*warn)
        app_log(a, "warning: resuming '%s' with changed settings (%s): the run stays valid but is no longer "
                "bit-identical to an uninterrupted run\n", path, warn);
}

// Every identity attribute must be there and make sense (a missing step used to mean step 0 on trained weights).
static void read_identity(StoreReader *r, const char *path, RunIdentity *id) {
    memset(id, 0, sizeof *id);
    for (int i = 0; i < N_IDENTITY; i++)
        if (store_get_attr_int(r, "/", IDENTITY[i].name, identity_field(id, i)))
            die_user(EXIT_RUNTIME, HINT_FILE, "'%s' has no valid root attribute '%s'", path, IDENTITY[i].name);
    const char *bad = id->ckpt_schema != CKPT_SCHEMA ? "ckpt_schema" : id->step < 0 ? "step"
                    : id->optim_t < 0 ? "optim_t" : id->world_size < 1 ? "world_size"
                    : id->rollout_ranks < 0 || id->rollout_ranks >= id->world_size ? "rollout_ranks"
                    : id->prompts < 1 ? "prompts" : id->group_size < 1 ? "group_size" : NULL;
    if (bad) die_user(EXIT_RUNTIME, HINT_FILE, "'%s' has an invalid root attribute '%s'", path, bad);
}

static void read_array(StoreReader *r, const char *path, const char *name, StoreType type, void *out, size_t n) {
    if (store_get(r, name, type, out, n))
        die_user(EXIT_RUNTIME, HINT_FILE, "'%s': %s", path,
                 store_reader_error(r) ? store_reader_error(r) : "cannot read a dataset");
}

// A valid CRC only says the bytes are the ones written: NaN/inf weights, moments or history are refused too.
static void check_finite(const char *path, const char *name, const float *x, const double *xd, size_t n) {
    size_t i;
    if (x ? finite_check(x, n, &i) : finite_check_f64(xd, n, &i)) {
        double v = x ? x[i] : xd[i];
        die_user(EXIT_RUNTIME, HINT_FILE, "'%s': /%s[%zu] is %s (a checkpoint holds finite values only)", path, name, i,
                 v != v ? "nan" : v > 0 ? "inf" : "-inf");
    }
}

// The records that must agree with the identity and this run: the sampling streams (recomputed from run.seed when
// the rank layout is the same), the data cursor (step * prompts) and the groups the advantages used.
static void check_records(const App *a, StoreReader *r, const char *path, const RunIdentity *id, const RunIdentity *want,
                          const CkptState *s) {
    int nd;
    size_t dims[STORE_MAX_DIMS], n = (size_t)id->world_size * 4;
    if (store_dims(r, "rng/sample_streams", &nd, dims) || nd != 2 || dims[0] != (size_t)id->world_size || dims[1] != 4)
        die_user(EXIT_RUNTIME, HINT_FILE, "'%s': /rng/sample_streams is missing or not (world_size=%ld, 4)", path, id->world_size);
    uint64_t *got = xmalloc(sizeof(uint64_t) * n), *exp = xmalloc(sizeof(uint64_t) * n);
    read_array(r, path, "rng/sample_streams", STORE_U64, got, n);
    sample_streams(a->cfg.run.seed, id, exp);
    int same_layout = id->world_size == want->world_size && id->rollout_ranks == want->rollout_ranks;
    int streams_ok = !same_layout || !memcmp(got, exp, sizeof(uint64_t) * n);
    free(got);
    free(exp);
    if (!streams_ok)
        die_user(EXIT_RUNTIME, HINT_FILE, "'%s': /rng/sample_streams do not match run.seed = %llu at step %ld", path,
                 (unsigned long long)a->cfg.run.seed, id->step);
    int64_t cursor = -1;
    if (store_dims(r, "data/cursor", &nd, dims) || nd != 0) cursor = -1;
    else read_array(r, path, "data/cursor", STORE_I64, &cursor, 1);
    if (cursor != (int64_t)id->step * id->prompts)
        die_user(EXIT_RUNTIME, HINT_FILE, "'%s': /data/cursor is %lld, but step %ld x %ld prompts is %lld", path,
                 (long long)cursor, id->step, id->prompts, (long long)(id->step * id->prompts));
    int *ug = xmalloc(sizeof(int) * (s->n_users ? s->n_users : 1));
    if (store_dims(r, "groups/user_group", &nd, dims) || nd != 1 || dims[0] != s->n_users)
        die_user(EXIT_USAGE, HINT_DECK, "'%s': /groups/user_group does not hold this run's %zu training users", path, s->n_users);
    read_array(r, path, "groups/user_group", STORE_I32, ug, s->n_users);
    size_t u = 0;
    while (u < s->n_users && ug[u] == s->user_group[u]) u++;
    if (u < s->n_users)
        die_user(EXIT_USAGE, "restore the groups (train.groups, train.groups_file) the run started with, or start a new run "
                 "in another run.out_dir", "cannot resume from '%s': it assigned user %zu to group %d, this run's "
                 "train.groups gives %d", path, u, ug[u], s->user_group[u]);
    free(ug);
}

// Learner state: moments, optimiser step, rollouts' weights (async learner 0) and the P-GRPO history.
static void get_learner_state(StoreReader *r, const char *path, const RunIdentity *id, CkptState *s) {
    size_t n = s->n_params;
    read_array(r, path, "optim/m", STORE_F32, s->opt_m, n);
    read_array(r, path, "optim/v", STORE_F32, s->opt_v, n);
    check_finite(path, "optim/m", s->opt_m, NULL, n);
    check_finite(path, "optim/v", s->opt_v, NULL, n);
    *s->opt_t = id->optim_t;
    if (s->rollout_params) {
        read_array(r, path, "rollout/params", STORE_F32, s->rollout_params, n);
        check_finite(path, "rollout/params", s->rollout_params, NULL, n);
    }
    size_t hn = history_state_size(s->hist);
    double *hs = xmalloc(sizeof(double) * hn);
    read_array(r, path, "pgrpo/history", STORE_F64, hs, hn);
    check_finite(path, "pgrpo/history", NULL, hs, hn);
    if (history_unpack(s->hist, hs, hn))
        die_user(EXIT_USAGE, HINT_DECK, "'%s': the P-GRPO history was written with different [pgrpo] settings", path);
    free(hs);
}

void ckpt_load(const App *a, const char *path, const RunIdentity *want, int rollout_weights, CkptState *s, RunIdentity *id) {
    char err[1024];
    StoreReader *r = store_open(path, STORE_KIND_CKPT, err, sizeof err);
    if (!r) die_user(EXIT_RUNTIME, "pass another checkpoint, or --resume auto to take the newest valid one", "%s", err);
    check_deck(a, r, path);
    read_identity(r, path, id);
    ckpt_check_identity(a, path, id, want);
    check_records(a, r, path, id, want, s);
    const char *pname = rollout_weights ? "rollout/params" : "model/params";
    read_array(r, path, pname, STORE_F32, s->params, s->n_params);
    check_finite(path, pname, s->params, NULL, s->n_params);
    if (s->opt_m) get_learner_state(r, path, id, s);
    store_close(r);
}

// snapshot_save writes "<snap>.tmp.<pid>"; one left by a process killed mid-write can never be renamed, so it is
// removed (this process's own name is the one it is about to write).
static void remove_stale_snapshot_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char mine[32], path[1400];
    snprintf(mine, sizeof mine, ".snapshot.tmp.%ld", (long)getpid());
    for (struct dirent *e; (e = readdir(d));) {
        const char *t = strstr(e->d_name, ".snapshot.tmp.");
        if (!t || strcmp(t, mine) == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

// One snapshot_save, for a thread: its files, its result and message.
typedef struct {
    const char *live, *snap;
    int rc;
    char err[2400];
} SnapshotJob;

static void *snapshot_job(void *arg) {
    SnapshotJob *j = arg;
    j->rc = snapshot_save(j->live, j->snap, j->err, sizeof j->err);
    return NULL;
}

// Snapshots are framed raw copies (snapshot.h): "<ckpt dir>/metrics.snapshot" and "trajectories.snapshot". Both
// are verified before either replaces its live file, and every restored byte is checked against the CRC. The two
// are saved at once, the metrics' in a second thread: each waits on its own fsyncs (file, then directory), about
// 1-2 ms apiece on this machine's disk, and a checkpoint's I/O is held to 5% of a step. Neither file is published
// in the checkpoint until both calls returned.
void ckpt_snapshot_outputs(const App *a, const char *dir, int restore) {
    static const char *const names[2] = {"metrics", "trajectories"};
    char live[2][1100], snap[2][1100], err[2400], file[64];
    for (int i = 0; i < 2; i++) {
        snprintf(file, sizeof file, "%s.h5", names[i]);
        app_out_path(a, file, live[i], sizeof live[i]);
        snprintf(snap[i], sizeof snap[i], "%s/%s.snapshot", dir, names[i]);
    }
    if (!restore) {
        remove_stale_snapshot_tmp(dir);
        SnapshotJob job[2] = {{.live = live[0], .snap = snap[0]}, {.live = live[1], .snap = snap[1]}};
        pthread_t th;
        int threaded = pthread_create(&th, NULL, snapshot_job, &job[0]) == 0;
        if (!threaded) snapshot_job(&job[0]);
        snapshot_job(&job[1]);
        if (threaded) pthread_join(th, NULL);
        for (int i = 0; i < 2; i++)
            if (job[i].rc) die_user(EXIT_RUNTIME, "check disk space and permissions of run.out_dir", "%s", job[i].err);
        return;
    }
    // A checkpoint is only published after both snapshots were written, so a missing one is not a state pgrpo
    // leaves: refuse rather than trust a live file that may have been cut mid-write.
    for (int i = 0; i < 2; i++)
        if (snapshot_verify(snap[i], err, sizeof err))
            die_user(EXIT_RUNTIME, "the outputs cannot be restored to the checkpoint: restore the snapshot from a backup, or "
                     "start a new run in another run.out_dir", "cannot resume: %s", err);
    for (int i = 0; i < 2; i++)
        if (snapshot_restore(snap[i], live[i], err, sizeof err))
            die_user(EXIT_RUNTIME, "restore the snapshot from a backup, or start a new run in another run.out_dir",
                     "cannot resume: %s", err);
}
