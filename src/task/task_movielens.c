// task_movielens.c — next-movie recommendation on a real MovieLens-1M folder (README "Your own data").
// Prompt:     <bos> m<id> x (up to 12) <sep>        the user's last movies before a cut-off, in time order
// Completion: m<id> x 5 <eos>                       five distinct recommendations
// Users: every user of users.dat with >= 2 ratings (fewer gives no history and no future). task.n_eval_users of
// them, drawn by task.seed, are held out (the eval split); task.n_users does not apply (ignored: the data decides).
// Time split: a user's ratings sorted by (timestamp, movie id). A training prompt cuts a training user's ratings at
// a position c drawn in [min(12, n-1), n-1]; an eval prompt cuts a held-out user at c = max(1, n-5), so the
// held-back "next movies" are the user's last (up to) five ratings.
// Reward: the mean over the five recommendations of the user's REAL rating when the movie is rated after the cut,
// 1 (the worst rating) when it was already watched before the cut, else the matrix-factorisation estimate
// mu + <x_user, y_movie> clipped to [1, 5]; mapped from [1, 5] to [-1, 1]. Anything but five distinct movie tokens
// and <eos> is malformed (-1).
// MF: alternating least squares (8 factors, 10 sweeps, weighted-lambda regularisation 0.05 * count) fitted on every
// rating of the TRAINING users, with OpenBLAS (dsyrk/dgemv) and LAPACK dposv for the 8x8 solves; a held-out user's
// factors are folded in from the ratings before the cut only, so the eval rewards never see the future.
// Groups (task.ml_groups): gender (2), age (the 7 ML-1M age codes), occupation (the 21 codes merged into 8 fields).
#include "task.h"
#include "task_impl.h"
#include "movielens_io.h"
#include "check.h"
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ML_HISTORY 12
#define ML_K 5
#define ML_F 8
#define ML_SWEEPS 10
#define ML_LAMBDA 0.05

void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb,
            int *info);

static const char *const ml_gender_names[] = { "female", "male" };
static const char *const ml_age_names[] = { "under18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+" };
static const int ml_age_codes[] = { 1, 18, 25, 35, 45, 50, 56 };
static const char *const ml_occ_names[] = { "other_home_retired", "education_science", "arts_writing", "student",
                                             "business", "health_law", "tech", "trades_farm" };
// ML-1M occupation code -> field (0 other, 1 academic/educator, 2 artist, 3 clerical/admin, 4 college/grad student,
// 5 customer service, 6 doctor/health care, 7 executive/managerial, 8 farmer, 9 homemaker, 10 K-12 student,
// 11 lawyer, 12 programmer, 13 retired, 14 sales/marketing, 15 scientist, 16 self-employed, 17 technician/engineer,
// 18 tradesman/craftsman, 19 unemployed, 20 writer). Eight fields keep every group within TASK_MAX_GROUPS.
static const int ml_occ_field[21] = { 0, 1, 2, 4, 3, 4, 5, 4, 7, 0, 3, 5, 6, 0, 4, 1, 4, 6, 7, 0, 2 };

typedef struct {
    MlData d;
    int tok0;                 // token of movie 0 (movies.dat order); movie tokens are contiguous
    int n_kept;               // users with >= 2 ratings, "dense" index k
    int *kept;                // [n_kept] index into d.users
    long *off;                // [n_kept + 1] slice of the rating arrays
    int *movie;               // [n_ratings] time order within a user
    unsigned char *rating;    // [n_ratings]
    int *bym;                 // [n_ratings] per user: positions (0-based in the slice) sorted by movie
    int *cut;                 // [n_kept] eval cut of a held-out user (0 for training users)
    int *dense[2];            // [n_users[s]] split user -> k
    double mu, *X, *Y;        // MF: global mean, user factors [n_kept][ML_F], movie factors [n_movies][ML_F]
    double *pop_cum;          // [n_movies] cumulative training rating counts
    char summary[320];
} MlWorld;

// ---------------------------------------------------------------------------------------------------------------
// ratings per user: time order, and a movie-sorted index for lookups (duplicates are refused here)

// Sort keys with the payload inside (qsort has no context argument and the module keeps no sort state).
typedef struct { long a, b; int c; long row; } MlKey;   // compared on (a, b, c)
static int ml_cmp_key(const void *x, const void *y) {
    const MlKey *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return p->c < q->c ? -1 : p->c > q->c;
}

// Rows by (user, timestamp, movie): each user's ratings contiguous and in time order; .row = the row index.
static MlKey *ml_sorted_rows(const MlData *d) {
    MlKey *k = xmalloc(sizeof(MlKey) * (size_t)(d->n_rows ? d->n_rows : 1));
    for (long i = 0; i < d->n_rows; i++)
        k[i] = (MlKey){d->rows[i].user, d->rows[i].ts, d->rows[i].movie, i};
    qsort(k, (size_t)d->n_rows, sizeof(MlKey), ml_cmp_key);
    return k;
}

// One kept user's movie-sorted index (bym) from its time-ordered slice; a movie rated twice is an error naming
// both lines (line = row index + 1: the parser refuses empty lines).
static int ml_index_user(MlWorld *w, const MlKey *rows, long o, long n, const char *path, char *err, size_t errlen) {
    MlKey *k = xmalloc(sizeof(MlKey) * (size_t)n);
    for (long j = 0; j < n; j++) k[j] = (MlKey){w->movie[o + j], 0, 0, j};
    qsort(k, (size_t)n, sizeof(MlKey), ml_cmp_key);
    int rc = 0;
    for (long j = 0; j < n; j++) {
        w->bym[o + j] = (int)k[j].row;
        if (j && k[j].a == k[j - 1].a && !rc) {
            long la = rows[k[j - 1].row].row + 1, lb = rows[k[j].row].row + 1;
            snprintf(err, errlen, "%s/%s:%ld: UserID %d rated MovieID %d twice (also on line %ld) (HINT: "
                     "keep one rating per user and movie)", path, w->d.ratings_file, la > lb ? la : lb,
                     w->d.users[w->d.rows[rows[k[j].row].row].user].id, w->d.movies[k[j].a].id, la < lb ? la : lb);
            rc = -1;
        }
    }
    free(k);
    return rc;
}

// Fills the kept users' (>= 2 ratings) slices: time-ordered movies and ratings, and the movie-sorted index.
static int ml_build_ratings(MlWorld *w, const char *path, char *err, size_t errlen) {
    const MlData *d = &w->d;
    MlKey *rows = ml_sorted_rows(d);
    w->kept = xmalloc(sizeof(int) * (size_t)(d->n_users ? d->n_users : 1));
    w->off = xcalloc((size_t)d->n_users + 1, sizeof(long));
    size_t nr = (size_t)(d->n_rows ? d->n_rows : 1);
    w->movie = xmalloc(sizeof(int) * nr), w->rating = xmalloc(nr), w->bym = xmalloc(sizeof(int) * nr);
    int rc = 0;
    for (long i = 0; i < d->n_rows && !rc;) {
        long e = i;
        while (e < d->n_rows && rows[e].a == rows[i].a) e++;
        long n = e - i, o = w->off[w->n_kept];
        if (n >= 2) {
            for (long j = 0; j < n; j++) {
                w->movie[o + j] = rows[i + j].c;
                w->rating[o + j] = (unsigned char)d->rows[rows[i + j].row].rating;
            }
            rc = ml_index_user(w, rows + i, o, n, path, err, errlen);
            w->kept[w->n_kept++] = (int)rows[i].a;
            w->off[w->n_kept] = o + n;
        }
        i = e;
    }
    free(rows);
    return rc;
}

// Position of movie m in user k's ratings (time order), or -1.
static int ml_find(const MlWorld *w, int k, int m) {
    long o = w->off[k];
    int lo = 0, hi = (int)(w->off[k + 1] - o) - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, pos = w->bym[o + mid], x = w->movie[o + pos];
        if (x == m) return pos;
        if (x < m) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

// ---------------------------------------------------------------------------------------------------------------
// matrix factorisation

// Solves (G^T G + lambda n I) x = G^T (r - mu) for one row: G = the fixed factors of the n rated counterparts
// (gathered into scratch), r their ratings. n = 0 gives x = 0.
static void ml_als_row(const double *fixed, const int *idx, const unsigned char *val, int n, double mu,
                       double *scratch, double *res, double *x) {
    memset(x, 0, sizeof(double) * ML_F);
    if (n == 0) return;
    for (int i = 0; i < n; i++) {
        memcpy(scratch + (size_t)i * ML_F, fixed + (size_t)idx[i] * ML_F, sizeof(double) * ML_F);
        res[i] = val[i] - mu;
    }
    double A[ML_F * ML_F];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, ML_F, n, 1.0, scratch, ML_F, 0.0, A, ML_F);
    for (int f = 0; f < ML_F; f++) A[f * ML_F + f] += ML_LAMBDA * n;
    cblas_dgemv(CblasRowMajor, CblasTrans, n, ML_F, 1.0, scratch, ML_F, res, 1, 0.0, x, 1);
    // Row-major upper = column-major lower of the same symmetric matrix.
    int nf = ML_F, one = 1, info = 0;
    dposv_("L", &nf, &one, A, &nf, x, &nf, &info);
    CHECK(info == 0, "ALS: dposv info %d (the regularised Gram matrix is positive definite)", info);
}

// Movie -> (training user, rating) lists, CSR.
typedef struct { long *off; int *user; unsigned char *val; } MlByMovie;

static MlByMovie ml_by_movie(const MlWorld *w, const int *is_train) {
    int nm = w->d.n_movies;
    MlByMovie b = {xcalloc((size_t)nm + 1, sizeof(long)), NULL, NULL};
    for (int k = 0; k < w->n_kept; k++)
        if (is_train[k]) for (long j = w->off[k]; j < w->off[k + 1]; j++) b.off[w->movie[j] + 1]++;
    for (int m = 0; m < nm; m++) b.off[m + 1] += b.off[m];
    long *fill = xmalloc(sizeof(long) * (size_t)(nm + 1));
    memcpy(fill, b.off, sizeof(long) * (size_t)(nm + 1));
    b.user = xmalloc(sizeof(int) * (size_t)(b.off[nm] + 1)), b.val = xmalloc((size_t)b.off[nm] + 1);
    for (int k = 0; k < w->n_kept; k++)
        if (is_train[k])
            for (long j = w->off[k]; j < w->off[k + 1]; j++) {
                long q = fill[w->movie[j]]++;
                b.user[q] = k, b.val[q] = w->rating[j];
            }
    free(fill);
    return b;
}

static void ml_fit(MlWorld *w, const int *is_train, uint64_t seed) {
    int nm = w->d.n_movies, nk = w->n_kept;
    MlByMovie bm = ml_by_movie(w, is_train);
    long n_train = bm.off[nm], maxn = 1;
    double sum = 0;
    for (long q = 0; q < n_train; q++) sum += bm.val[q];
    w->mu = n_train ? sum / (double)n_train : 3.0;
    for (int m = 0; m < nm; m++) if (bm.off[m + 1] - bm.off[m] > maxn) maxn = bm.off[m + 1] - bm.off[m];
    for (int k = 0; k < nk; k++) if (w->off[k + 1] - w->off[k] > maxn) maxn = w->off[k + 1] - w->off[k];
    double *scratch = xmalloc(sizeof(double) * (size_t)maxn * ML_F), *res = xmalloc(sizeof(double) * (size_t)maxn);
    w->X = xcalloc((size_t)nk * ML_F, sizeof(double));
    w->Y = xmalloc(sizeof(double) * (size_t)(nm ? nm : 1) * ML_F);
    Rng r;
    rng_seed(&r, seed, RNG_TASK, 60, 0);
    for (long i = 0; i < (long)nm * ML_F; i++) w->Y[i] = 0.1 * rng_normal(&r);
    for (int s = 0; s < ML_SWEEPS; s++) {
        for (int k = 0; k < nk; k++)
            if (is_train[k])
                ml_als_row(w->Y, w->movie + w->off[k], w->rating + w->off[k], (int)(w->off[k + 1] - w->off[k]), w->mu,
                           scratch, res, w->X + (size_t)k * ML_F);
        for (int m = 0; m < nm; m++)
            ml_als_row(w->X, bm.user + bm.off[m], bm.val + bm.off[m], (int)(bm.off[m + 1] - bm.off[m]), w->mu,
                       scratch, res, w->Y + (size_t)m * ML_F);
    }
    // Held-out users: folded in from the ratings before their cut only.
    for (int k = 0; k < nk; k++)
        if (!is_train[k])
            ml_als_row(w->Y, w->movie + w->off[k], w->rating + w->off[k], w->cut[k], w->mu, scratch, res,
                       w->X + (size_t)k * ML_F);
    w->pop_cum = xmalloc(sizeof(double) * (size_t)(nm ? nm : 1));
    for (int m = 0; m < nm; m++) w->pop_cum[m] = (m ? w->pop_cum[m - 1] : 0) + (double)(bm.off[m + 1] - bm.off[m]);
    free(scratch); free(res); free(bm.off); free(bm.user); free(bm.val);
}

static double ml_estimate(const MlWorld *w, int k, int m) {
    double r = w->mu + cblas_ddot(ML_F, w->X + (size_t)k * ML_F, 1, w->Y + (size_t)m * ML_F, 1);
    return r < 1 ? 1 : r > 5 ? 5 : r;
}

// ---------------------------------------------------------------------------------------------------------------
// users, splits, groups

static int ml_group_of(const MlUser *u, const char *by) {
    if (!strcmp(by, "age")) {
        for (int i = 0; i < 7; i++) if (ml_age_codes[i] == u->age) return i;
        return 0;
    }
    if (!strcmp(by, "occupation")) return ml_occ_field[u->occupation];
    return u->gender == 'M';
}

// Held-out users: the first n_eval by a hash of (task.seed, UserID); each split in UserID order. is_train[k] out.
static void ml_split(Task *t, MlWorld *w, int n_eval, int *is_train) {
    MlKey *k = xmalloc(sizeof(MlKey) * (size_t)w->n_kept);
    uint64_t salt = rng_hash(t->cfg.seed, 0x6D6C686F6C64ULL);
    for (int i = 0; i < w->n_kept; i++) {
        int id = w->d.users[w->kept[i]].id;
        k[i] = (MlKey){(long)(rng_hash(salt, (uint64_t)id) >> 1), id, 0, i};
    }
    qsort(k, (size_t)w->n_kept, sizeof(MlKey), ml_cmp_key);
    int n[2] = { w->n_kept - n_eval, n_eval };
    for (int s = 0; s < 2; s++) {
        MlKey *part = k + (s ? 0 : n_eval);
        for (int i = 0; i < n[s]; i++) part[i].a = part[i].b;   // then by UserID
        qsort(part, (size_t)n[s], sizeof(MlKey), ml_cmp_key);
        w->dense[s] = xmalloc(sizeof(int) * (size_t)n[s]);
        for (int i = 0; i < n[s]; i++) w->dense[s][i] = (int)part[i].row;
    }
    free(k);
    w->cut = xcalloc((size_t)w->n_kept, sizeof(int));
    for (int s = 0; s < 2; s++) {
        t->n_users[s] = n[s];
        t->users[s] = xcalloc((size_t)n[s], sizeof(TaskUser));
        for (int i = 0; i < n[s]; i++) {
            int kk = w->dense[s][i], cnt = (int)(w->off[kk + 1] - w->off[kk]);
            const MlUser *u = &w->d.users[w->kept[kk]];
            t->users[s][i].group = ml_group_of(u, t->cfg.ml_groups);
            t->users[s][i].uid = (uint64_t)u->id;
            is_train[kk] = s == 0;
            if (s == 1) w->cut[kk] = cnt - ML_K > 1 ? cnt - ML_K : 1;
        }
    }
}

static int ml_set_groups(Task *t, char *err, size_t errlen) {
    const char *by = t->cfg.ml_groups && *t->cfg.ml_groups ? t->cfg.ml_groups : "gender";
    t->cfg.ml_groups = by;
    if (!strcmp(by, "gender")) t->n_groups = 2, t->group_names = ml_gender_names;
    else if (!strcmp(by, "age")) t->n_groups = 7, t->group_names = ml_age_names;
    else if (!strcmp(by, "occupation")) t->n_groups = 8, t->group_names = ml_occ_names;
    else {
        snprintf(err, errlen, "task movielens: ml_groups '%s' unknown (HINT: gender, age or occupation; "
                 "train.groups = random or discover for the others)", by);
        return 1;
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// the family

static int ml_vocab(Task *t, MlWorld *w, char *err, size_t errlen) {
    if (w->d.n_movies < ML_K) {
        snprintf(err, errlen, "task movielens: %d movies, fewer than the %d a recommendation names (HINT: check "
                 "movies.dat)", w->d.n_movies, ML_K);
        return 1;
    }
    if (w->d.n_movies + t->n_vocab > t->vocab_max) {
        snprintf(err, errlen, "task movielens: %d movies exceed the vocabulary limit %d (HINT: use a smaller "
                 "catalogue)", w->d.n_movies, t->vocab_max);
        return 1;
    }
    for (int m = 0; m < w->d.n_movies; m++) {
        char word[TASK_WORD_MAX];
        snprintf(word, sizeof word, "m%d", w->d.movies[m].id);
        int id = task_vocab_add(t, word);
        if (m == 0) w->tok0 = id;
        CHECK(id == w->tok0 + m, "movie tokens must be contiguous");
    }
    return 0;
}

static int ml_build(Task *t, char *err, size_t errlen) {
    const char *path = t->cfg.path;
    if (!path || !*path) {
        snprintf(err, errlen, "task movielens: task.path is empty (HINT: name the MovieLens-1M folder with "
                 "ratings.dat, movies.dat and users.dat)");
        return 1;
    }
    if (ml_set_groups(t, err, errlen)) return 1;
    MlWorld *w = xcalloc(1, sizeof *w);
    t->world = w;
    if (ml_load(path, &w->d, err, errlen) || ml_build_ratings(w, path, err, errlen)) return 1;
    if (t->cfg.n_eval_users >= w->n_kept) {
        snprintf(err, errlen, "task movielens: n_eval_users %d leaves no training user: %s has %d users with >= 2 "
                 "ratings (HINT: lower task.n_eval_users)", t->cfg.n_eval_users, path, w->n_kept);
        return 1;
    }
    if (ml_vocab(t, w, err, errlen)) return 1;
    int *is_train = xcalloc((size_t)w->n_kept, sizeof(int));
    ml_split(t, w, t->cfg.n_eval_users, is_train);
    ml_fit(w, is_train, t->cfg.seed);
    free(is_train);
    snprintf(w->summary, sizeof w->summary, "movielens %s: %d movies, %ld ratings, %d users (%d train, %d held out, "
             "%d with < 2 ratings left out), groups by %s", path, w->d.n_movies, w->d.n_rows, w->d.n_users,
             t->n_users[0], t->n_users[1], w->d.n_users - w->n_kept, t->cfg.ml_groups);
    return 0;
}

static void ml_destroy(Task *t) {
    MlWorld *w = t->world;
    if (!w) return;
    ml_free(&w->d);
    free(w->kept); free(w->off); free(w->movie); free(w->rating); free(w->bym); free(w->cut);
    free(w->dense[0]); free(w->dense[1]); free(w->X); free(w->Y); free(w->pop_cum);
    free(w);
    t->world = NULL;
}

static int ml_k_of(const Task *t, const Prompt *p) {
    const MlWorld *w = t->world;
    CHECK(p->split == SPLIT_TRAIN || p->split == SPLIT_EVAL, "prompt split %d", p->split);
    CHECK(p->user >= 0 && p->user < t->n_users[p->split], "prompt user %d", p->user);
    return w->dense[p->split][p->user];
}

// meta[0] = the cut c: positions [0, c) are the past, [c, n) the held-back future.
static void ml_prompt(const Task *t, Rng *r, Prompt *p) {
    const MlWorld *w = t->world;
    int k = ml_k_of(t, p), n = (int)(w->off[k + 1] - w->off[k]), c;
    if (p->split == SPLIT_EVAL) c = w->cut[k];
    else {
        int lo = n - 1 < ML_HISTORY ? n - 1 : ML_HISTORY;
        c = lo + (int)rng_below(r, (uint32_t)(n - lo));
    }
    int h0 = c > ML_HISTORY ? c - ML_HISTORY : 0, len = 0;
    p->tok[len++] = TOK_BOS;
    for (int j = h0; j < c; j++) p->tok[len++] = w->tok0 + w->movie[w->off[k] + j];
    p->tok[len++] = TOK_SEP;
    p->len = len;
    p->meta[0] = c;
}

// The rating the reward counts for movie m after prompt p (see the top of the file).
static double ml_value(const MlWorld *w, int k, int cut, int m) {
    int pos = ml_find(w, k, m);
    if (pos >= 0 && pos < cut) return 1.0;
    if (pos >= 0) return w->rating[w->off[k] + pos];
    return ml_estimate(w, k, m);
}

static float ml_reward(const Task *t, const Prompt *p, const int *c, int n) {
    const MlWorld *w = t->world;
    if (task_find_eos(c, n) != ML_K) return -1.0f;
    int k = ml_k_of(t, p);
    double sum = 0;
    for (int j = 0; j < ML_K; j++) {
        int m = c[j] - w->tok0;
        if (m < 0 || m >= w->d.n_movies) return -1.0f;
        for (int i = 0; i < j; i++) if (c[i] == c[j]) return -1.0f;
        sum += ml_value(w, k, p->meta[0], m);
    }
    return (float)((sum / ML_K - 3.0) / 2.0);
}

static float ml_oracle(const Task *t, const Prompt *p) {
    const MlWorld *w = t->world;
    int k = ml_k_of(t, p);
    double best[ML_K];
    for (int j = 0; j < ML_K; j++) best[j] = 1.0;   // the worst rating: catalogues smaller than 5 movies
    for (int m = 0; m < w->d.n_movies; m++) {
        double v = ml_value(w, k, p->meta[0], m);
        for (int j = 0; j < ML_K; j++)
            if (v > best[j]) { for (int i = ML_K - 1; i > j; i--) best[i] = best[i - 1]; best[j] = v; break; }
    }
    double sum = 0;
    for (int j = 0; j < ML_K; j++) sum += best[j];
    return (float)((sum / ML_K - 3.0) / 2.0);
}

// A movie by training popularity (binary search in the cumulative counts).
static int ml_draw(const MlWorld *w, Rng *r) {
    int nm = w->d.n_movies;
    double x = rng_uniform(r) * w->pop_cum[nm - 1];
    int lo = 0, hi = nm - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (w->pop_cum[mid] > x) hi = mid; else lo = mid + 1;
    }
    return lo;
}

// Popular movies the user has not watched before the cut: what a non-personalised recommender does.
static int ml_sft(const Task *t, Rng *r, const Prompt *p, int *c, int max) {
    const MlWorld *w = t->world;
    CHECK(max >= ML_K + 1, "no room for a completion");
    int k = ml_k_of(t, p);
    for (int j = 0, tries = 0; j < ML_K; tries++) {
        // Tiny catalogues: after 1000 tries a watched movie is allowed, after 10000 any movie (build: >= 5 movies).
        int m = tries < 10000 ? ml_draw(w, r) : (int)rng_below(r, (uint32_t)w->d.n_movies);
        int pos = ml_find(w, k, m), dup = tries < 1000 && pos >= 0 && pos < p->meta[0];
        for (int i = 0; i < j; i++) dup |= c[i] == w->tok0 + m;
        if (!dup) c[j++] = w->tok0 + m;
    }
    c[ML_K] = TOK_EOS;
    return ML_K + 1;
}

static int ml_next_items(const Task *t, const Prompt *p, int *tok, int max) {
    const MlWorld *w = t->world;
    int k = ml_k_of(t, p), n = (int)(w->off[k + 1] - w->off[k]), q = 0;
    for (int j = p->meta[0]; j < n && j < p->meta[0] + ML_K && q < max; j++) tok[q++] = w->tok0 + w->movie[w->off[k] + j];
    return q;
}

static const char *ml_label(const Task *t, int tok) {
    const MlWorld *w = t->world;
    int m = tok - w->tok0;
    return m >= 0 && m < w->d.n_movies ? w->d.movies[m].title : NULL;
}

static const char *ml_summary(const Task *t) { return ((const MlWorld *)t->world)->summary; }

const TaskFamily task_family_movielens = {
    .name = "movielens", .n_groups = 2, .group_names = ml_gender_names, .default_max_new = ML_K + 3,
    .min_new = ML_K + 1, .data = 1, .build = ml_build, .destroy = ml_destroy, .prompt = ml_prompt,
    .reward = ml_reward, .oracle = ml_oracle, .sft_completion = ml_sft, .token_label = ml_label,
    .next_items = ml_next_items, .summary = ml_summary };
