// movielens_io.c — the MovieLens-1M files, parsed exactly (movielens_io.h).
#include "movielens_io.h"
#include "check.h"
#include "task_lines.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ML_MAX_ID 10000000    // ids index a dense table (<= 40 MB): larger ids are not MovieLens

const char *const ml_genre_names[ML_GENRES] = {
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western" };

typedef TaskLines MlFile;   // one file being read (task_lines.h)

static int ml_open(MlFile *m, const char *dir, const char *name, char *err, size_t errlen) {
    return task_lines_open(m, dir, name, "task.path must be a MovieLens-1M folder with users.dat, movies.dat and "
                           "ratings.dat, or a MovieLens-100K folder with u.user, u.item and u.data", err, errlen);
}

// Next line without its end and trailing blanks: 1, 0 at the end, -1 on an error (empty or NUL-carrying line).
static int ml_next(MlFile *m) {
    long n = task_lines_read(m);
    if (n <= 0) return (int)n;
    if ((long)strlen(m->line) != n) return task_lines_fail(m, "the file is binary or damaged", "NUL byte in the line");
    while (n > 0 && (m->line[n - 1] == '\n' || m->line[n - 1] == '\r' || m->line[n - 1] == ' ' || m->line[n - 1] == '\t'))
        m->line[--n] = 0;
    if (!n) return task_lines_fail(m, "remove the empty line", "empty line");
    return 1;
}

// Splits the line at sep ("::" for ML-1M, "|" or "\t" for ML-100K) into exactly n fields.
static int ml_split_line(MlFile *m, char **f, int n, const char *sep, const char *layout) {
    char *p = m->line;
    size_t k = strlen(sep);
    for (int i = 0; i < n; i++) {
        f[i] = p;
        char *e = i < n - 1 ? strstr(p, sep) : NULL;
        if (i < n - 1 && !e) return task_lines_fail(m, layout, "%d fields separated by '%s' expected, found %d", n,
                                            *sep == '\t' ? "\\t" : sep, i + 1);
        if (e) { *e = 0; p = e + k; }
    }
    if (strstr(f[n - 1], sep)) return task_lines_fail(m, layout, "more than %d fields", n);
    return 0;
}
static int ml_fields(MlFile *m, char **f, int n, const char *layout) { return ml_split_line(m, f, n, "::", layout); }

// A whole field as an integer in [lo, hi].
static int ml_int(MlFile *m, const char *s, const char *what, long lo, long hi, long *out, const char *layout) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || *s == ' ' || *s == '+')
        return task_lines_fail(m, layout, "%s '%.40s' is not an integer", what, s);
    if (v < lo || v > hi) return task_lines_fail(m, layout, "%s %ld out of range [%ld, %ld]", what, v, lo, hi);
    *out = v;
    return 0;
}

// 1 when s is valid UTF-8 (no overlongs, no surrogates).
static int ml_is_utf8(const unsigned char *s) {
    while (*s) {
        int n = *s < 0x80 ? 0 : (*s & 0xE0) == 0xC0 && *s >= 0xC2 ? 1 : (*s & 0xF0) == 0xE0 ? 2 :
                (*s & 0xF8) == 0xF0 && *s <= 0xF4 ? 3 : -1;
        if (n < 0) return 0;
        unsigned cp = n == 0 ? *s : n == 1 ? *s & 0x1Fu : n == 2 ? *s & 0x0Fu : *s & 0x07u;
        for (int i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i] & 0x3Fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        s += n + 1;
    }
    return 1;
}

// The title as UTF-8: kept when it already is, else read as Latin-1 (each byte >= 0x80 is U+0080..U+00FF).
static char *ml_title_utf8(const char *s) {
    if (ml_is_utf8((const unsigned char *)s)) { char *c = xmalloc(strlen(s) + 1); strcpy(c, s); return c; }
    char *o = xmalloc(2 * strlen(s) + 1), *q = o;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x80) *q++ = (char)*p;
        else { *q++ = (char)(0xC0 | *p >> 6); *q++ = (char)(0x80 | (*p & 0x3F)); }
    }
    *q = 0;
    return o;
}

static int ml_genres(MlFile *m, char *s, uint32_t *out, const char *layout) {
    *out = 0;
    if (!strcmp(s, "(no genres listed)")) return 0;
    for (char *tok = s;;) {
        char *bar = strchr(tok, '|');
        if (bar) *bar = 0;
        int g = -1;
        for (int i = 0; i < ML_GENRES; i++) if (!strcmp(tok, ml_genre_names[i])) g = i;
        if (g < 0) return task_lines_fail(m, layout, "unknown genre '%.40s' (ML-1M genres: Action, Adventure, ..., Western)", tok);
        *out |= 1u << g;
        if (!bar) return 0;
        tok = bar + 1;
    }
}

// A table from ids to indexes, for duplicates and the ratings' references.
typedef struct { int *idx; long n; } MlIndex;
static void ml_index_put(MlIndex *x, long id, int i) {
    if (id >= x->n) {
        long n = x->n ? x->n : 1024;
        while (n <= id) n *= 2;
        int *v = xmalloc(sizeof(int) * (size_t)n);
        for (long k = 0; k < n; k++) v[k] = k < x->n ? x->idx[k] : -1;
        free(x->idx);
        x->idx = v, x->n = n;
    }
    x->idx[id] = i;
}
static int ml_index_get(const MlIndex *x, long id) { return id >= 0 && id < x->n ? x->idx[id] : -1; }

#define ML_USERS_LAYOUT "users.dat lines are UserID::Gender::Age::Occupation::Zip-code, e.g. 1::F::1::10::48067"
static int ml_user_line(MlFile *m, MlUser *u, MlIndex *ix, int i) {
    char *f[5];
    long id, age, occ;
    if (ml_fields(m, f, 5, ML_USERS_LAYOUT) || ml_int(m, f[0], "UserID", 1, ML_MAX_ID, &id, ML_USERS_LAYOUT)) return -1;
    if (strcmp(f[1], "M") && strcmp(f[1], "F")) return task_lines_fail(m, ML_USERS_LAYOUT, "Gender '%.20s' is not M or F", f[1]);
    if (ml_int(m, f[2], "Age", 1, 56, &age, ML_USERS_LAYOUT)) return -1;
    if (age != 1 && age != 18 && age != 25 && age != 35 && age != 45 && age != 50 && age != 56)
        return task_lines_fail(m, ML_USERS_LAYOUT, "Age %ld is not an ML-1M age code (1, 18, 25, 35, 45, 50, 56)", age);
    if (ml_int(m, f[3], "Occupation", 0, 20, &occ, ML_USERS_LAYOUT)) return -1;
    if (!*f[4]) return task_lines_fail(m, ML_USERS_LAYOUT, "empty Zip-code");
    if (ml_index_get(ix, id) >= 0) return task_lines_fail(m, "each UserID once", "duplicate UserID %ld", id);
    ml_index_put(ix, id, i);
    *u = (MlUser){.id = (int)id, .gender = f[1][0], .age = (int)age, .occupation = (int)occ};
    return 0;
}

#define ML_MOVIES_LAYOUT "movies.dat lines are MovieID::Title::Genres, e.g. 1::Toy Story (1995)::Animation|Comedy"
static int ml_movie_line(MlFile *m, MlMovie *mv, MlIndex *ix, int i) {
    // The title sits between the first and the last "::" (a title may contain "::" in derived data sets).
    char *a = strstr(m->line, "::"), *b = NULL;
    for (char *p = a; p && (p = strstr(p + 2, "::"));) b = p;
    if (!a || !b) return task_lines_fail(m, ML_MOVIES_LAYOUT, "3 fields separated by '::' expected");
    *a = 0, *b = 0;
    long id;
    if (ml_int(m, m->line, "MovieID", 1, ML_MAX_ID, &id, ML_MOVIES_LAYOUT)) return -1;
    const char *title = a + 2;
    if (!*title) return task_lines_fail(m, ML_MOVIES_LAYOUT, "empty Title");
    for (const unsigned char *p = (const unsigned char *)title; *p; p++)
        if (*p < 0x20 || *p == 0x7F) return task_lines_fail(m, ML_MOVIES_LAYOUT, "control character 0x%02X in the Title", *p);
    uint32_t g;
    if (ml_genres(m, b + 2, &g, ML_MOVIES_LAYOUT)) return -1;
    if (ml_index_get(ix, id) >= 0) return task_lines_fail(m, "each MovieID once", "duplicate MovieID %ld", id);
    ml_index_put(ix, id, i);
    *mv = (MlMovie){.id = (int)id, .title = ml_title_utf8(title), .genres = g};
    return 0;
}

#define ML_RATINGS_LAYOUT "ratings.dat lines are UserID::MovieID::Rating::Timestamp, e.g. 1::1193::5::978300760"
#define ML_UDATA_LAYOUT "u.data lines are user id<TAB>item id<TAB>rating<TAB>timestamp, e.g. 196\t242\t3\t881250949"
static int ml_rating_line(MlFile *m, MlRow *r, const MlIndex *users, const MlIndex *movies, int k100) {
    char *f[4];
    long u, mv, rating, ts;
    const char *L = k100 ? ML_UDATA_LAYOUT : ML_RATINGS_LAYOUT, *uf = k100 ? "u.user" : "users.dat";
    if (ml_split_line(m, f, 4, k100 ? "\t" : "::", L) || ml_int(m, f[0], "UserID", 1, ML_MAX_ID, &u, L) ||
        ml_int(m, f[1], "MovieID", 1, ML_MAX_ID, &mv, L) || ml_int(m, f[2], "Rating", 1, 5, &rating, L) ||
        ml_int(m, f[3], "Timestamp", 0, 4000000000L, &ts, L))
        return -1;
    int ui = ml_index_get(users, u), mi = ml_index_get(movies, mv);
    if (ui < 0) return task_lines_fail(m, "every rating's user must be in the users file", "UserID %ld is not in %s", u, uf);
    if (mi < 0)
        return task_lines_fail(m, "every rating's movie must be in the movies file", "MovieID %ld is not in %s", mv,
                       k100 ? "u.item" : "movies.dat");
    *r = (MlRow){.user = ui, .movie = mi, .rating = (int)rating, .ts = ts};
    return 0;
}

// ---- the 100K layout: u.user, u.item, u.data (read into the same tables, codes mapped to ML-1M's) ----
#define ML_UUSER_LAYOUT "u.user lines are user id|age|gender|occupation|zip code, e.g. 1|24|M|technician|85711"
#define ML_UITEM_LAYOUT "u.item lines are movie id|title|release date|video release date|IMDb URL|19 genre flags"
static const char *const ml_occ100k[21] = { "other", "educator", "artist", "administrator", "student", "marketing",
    "doctor", "executive", "none", "homemaker", "librarian", "lawyer", "programmer", "retired", "salesman",
    "scientist", "entertainment", "engineer", "healthcare", "technician", "writer" };
// ML-100K occupation (index in ml_occ100k) -> the nearest ML-1M code.
static const int ml_occ100k_code[21] = { 0, 1, 2, 3, 4, 14, 6, 7, 19, 9, 1, 11, 12, 13, 14, 15, 2, 17, 6, 17, 20 };

static int ml_user100k_line(MlFile *m, MlUser *u, MlIndex *ix, int i) {
    char *f[5];
    long id, age;
    if (ml_split_line(m, f, 5, "|", ML_UUSER_LAYOUT) || ml_int(m, f[0], "user id", 1, ML_MAX_ID, &id, ML_UUSER_LAYOUT) ||
        ml_int(m, f[1], "age", 1, 150, &age, ML_UUSER_LAYOUT))
        return -1;
    if (strcmp(f[2], "M") && strcmp(f[2], "F")) return task_lines_fail(m, ML_UUSER_LAYOUT, "gender '%.20s' is not M or F", f[2]);
    int occ = -1;
    for (int k = 0; k < 21; k++) if (!strcmp(f[3], ml_occ100k[k])) occ = ml_occ100k_code[k];
    if (occ < 0) return task_lines_fail(m, ML_UUSER_LAYOUT, "occupation '%.30s' is not one of u.occupation's", f[3]);
    if (ml_index_get(ix, id) >= 0) return task_lines_fail(m, "each user id once", "duplicate user id %ld", id);
    ml_index_put(ix, id, i);
    int code = age < 18 ? 1 : age < 25 ? 18 : age < 35 ? 25 : age < 45 ? 35 : age < 50 ? 45 : age < 56 ? 50 : 56;
    *u = (MlUser){.id = (int)id, .gender = f[2][0], .age = code, .occupation = occ};
    return 0;
}

static int ml_movie100k_line(MlFile *m, MlMovie *mv, MlIndex *ix, int i) {
    char *f[24];
    long id;
    if (ml_split_line(m, f, 24, "|", ML_UITEM_LAYOUT) || ml_int(m, f[0], "movie id", 1, ML_MAX_ID, &id, ML_UITEM_LAYOUT))
        return -1;
    if (!*f[1]) return task_lines_fail(m, ML_UITEM_LAYOUT, "empty title");
    for (const unsigned char *p = (const unsigned char *)f[1]; *p; p++)
        if (*p < 0x20 || *p == 0x7F) return task_lines_fail(m, ML_UITEM_LAYOUT, "control character 0x%02X in the title", *p);
    uint32_t g = 0;
    for (int k = 0; k < 19; k++) {   // flag 0 is "unknown"; flags 1..18 are ML-1M's genres in the same order
        if (strcmp(f[5 + k], "0") && strcmp(f[5 + k], "1"))
            return task_lines_fail(m, ML_UITEM_LAYOUT, "genre flag %d is '%.10s', not 0 or 1", k, f[5 + k]);
        if (k && f[5 + k][0] == '1') g |= 1u << (k - 1);
    }
    if (ml_index_get(ix, id) >= 0) return task_lines_fail(m, "each movie id once", "duplicate movie id %ld", id);
    ml_index_put(ix, id, i);
    *mv = (MlMovie){.id = (int)id, .title = ml_title_utf8(f[1]), .genres = g};
    return 0;
}

// Reads every line of one file through `one`, growing the array (elem bytes each); n_out: the count.
typedef int (*MlLineFn)(MlFile *m, void *slot, void *ctx, long i);
static int ml_read_all(const char *dir, const char *name, size_t elem, void **arr, long *n_out, MlLineFn one,
                       void *ctx, char *err, size_t errlen) {
    MlFile m;
    if (ml_open(&m, dir, name, err, errlen)) return -1;
    long n = 0, cap = 0;
    char *a = NULL;
    int rc;
    while ((rc = ml_next(&m)) > 0) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            char *b = xmalloc(elem * (size_t)cap);
            if (n) memcpy(b, a, elem * (size_t)n);
            free(a);
            a = b;
        }
        if ((rc = one(&m, a + elem * (size_t)n, ctx, n)) < 0) break;
        n++;
    }
    if (rc == 0 && n == 0) rc = task_lines_fail(&m, "the file must hold at least one line", "empty file");
    task_lines_close(&m);
    *arr = a, *n_out = n;
    return rc < 0 ? -1 : 0;
}

typedef struct { MlIndex users, movies; int k100; } MlCtx;
static int ml_user_cb(MlFile *m, void *slot, void *ctx, long i) {
    MlCtx *c = ctx;
    return c->k100 ? ml_user100k_line(m, slot, &c->users, (int)i) : ml_user_line(m, slot, &c->users, (int)i);
}
static int ml_movie_cb(MlFile *m, void *slot, void *ctx, long i) {
    MlCtx *c = ctx;
    return c->k100 ? ml_movie100k_line(m, slot, &c->movies, (int)i) : ml_movie_line(m, slot, &c->movies, (int)i);
}
static int ml_rating_cb(MlFile *m, void *slot, void *ctx, long i) {
    (void)i;
    MlCtx *c = ctx;
    return ml_rating_line(m, slot, &c->users, &c->movies, c->k100);
}

// The 100K layout when the folder has u.data and no ratings.dat.
static int ml_is_100k(const char *dir) {
    char a[1100], b[1100];
    snprintf(a, sizeof a, "%s/ratings.dat", dir);
    snprintf(b, sizeof b, "%s/u.data", dir);
    return access(a, F_OK) != 0 && access(b, F_OK) == 0;
}

int ml_load(const char *dir, MlData *d, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    MlCtx c = {{0}, {0}, ml_is_100k(dir)};
    const char *fu = c.k100 ? "u.user" : "users.dat", *fm = c.k100 ? "u.item" : "movies.dat";
    const char *fr = c.k100 ? "u.data" : "ratings.dat";
    long nu = 0, nm = 0;
    void *u = NULL, *mv = NULL, *r = NULL;
    int rc = ml_read_all(dir, fu, sizeof(MlUser), &u, &nu, ml_user_cb, &c, err, errlen);
    d->users = u, d->n_users = (int)nu;
    if (!rc) rc = ml_read_all(dir, fm, sizeof(MlMovie), &mv, &nm, ml_movie_cb, &c, err, errlen);
    d->movies = mv, d->n_movies = (int)nm;
    if (!rc) rc = ml_read_all(dir, fr, sizeof(MlRow), &r, &d->n_rows, ml_rating_cb, &c, err, errlen);
    d->rows = r;
    d->ratings_file = fr;
    free(c.users.idx);
    free(c.movies.idx);
    if (rc) ml_free(d);
    return rc;
}

void ml_free(MlData *d) {
    for (int i = 0; i < d->n_movies; i++) free(d->movies[i].title);
    free(d->movies);
    free(d->users);
    free(d->rows);
    memset(d, 0, sizeof *d);
}
