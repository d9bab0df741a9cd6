// ckpt_edit — rewrites a training checkpoint through the store (so its frame and checksums are valid again) with
// one change, to test what a resume checks beyond the checksums (tests/restart/test_resume_identity.sh):
//   ckpt_edit IN OUT drop:ATTR      the root attribute ATTR (e.g. step) left out
//   ckpt_edit IN OUT nan:DATASET    element 3 of a float dataset (model/params, optim/m, pgrpo/history ...) = NaN
//   ckpt_edit IN OUT bump:DATASET   element 0 of an integer dataset (data/cursor, rng/sample_streams, ...) + 1
// Exit 0, or 3 with the store's message.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store.h"

typedef struct { const char *name; StoreType type; } Ds;
static const Ds DATASETS[] = {
    {"model/params", STORE_F32}, {"optim/m", STORE_F32}, {"optim/v", STORE_F32}, {"rollout/params", STORE_F32},
    {"pgrpo/history", STORE_F64}, {"groups/user_group", STORE_I32}, {"rng/sample_streams", STORE_U64},
    {"data/cursor", STORE_I64},
};
static const char *const INT_ATTRS[] = {"step", "optim_t", "world_size", "rollout_ranks", "async", "prompts",
                                        "group_size", "ckpt_schema", "reference_crc32"};
static const char *const STR_ATTRS[] = {"reference_path", "task", "rng_rule"};

static void edit(const Ds *d, void *buf, const char *mode, const char *arg) {
    if (strcmp(arg, d->name)) return;
    if (!strcmp(mode, "nan") && d->type == STORE_F32) ((float *)buf)[3] = NAN;
    if (!strcmp(mode, "nan") && d->type == STORE_F64) ((double *)buf)[3] = NAN;
    if (!strcmp(mode, "bump") && d->type == STORE_I32) ((int32_t *)buf)[0] += 1;
    if (!strcmp(mode, "bump") && d->type == STORE_I64) ((int64_t *)buf)[0] += 1;
    if (!strcmp(mode, "bump") && d->type == STORE_U64) ((uint64_t *)buf)[0] += 1;
}

static int copy_datasets(StoreReader *r, StoreWriter *w, const char *mode, const char *arg) {
    for (size_t i = 0; i < sizeof DATASETS / sizeof DATASETS[0]; i++) {
        const Ds *d = &DATASETS[i];
        int nd;
        size_t dims[STORE_MAX_DIMS], n = 1;
        if (store_dims(r, d->name, &nd, dims)) continue;
        for (int k = 0; k < nd; k++) n *= dims[k];
        void *buf = calloc(n ? n : 1, store_type_size(d->type));
        if (store_get(r, d->name, d->type, buf, n)) return -1;
        edit(d, buf, mode, arg);
        store_put(w, d->name, d->type, buf, nd, dims);
        free(buf);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4 || !strchr(argv[3], ':')) {
        fprintf(stderr, "usage: ckpt_edit IN OUT drop:ATTR|nan:DATASET|bump:DATASET\n");
        return 2;
    }
    char mode[16], err[1024];
    const char *arg = strchr(argv[3], ':') + 1;
    snprintf(mode, sizeof mode, "%.*s", (int)(arg - 1 - argv[3]), argv[3]);
    StoreReader *r = store_open(argv[1], STORE_KIND_CKPT, err, sizeof err);
    if (!r) { fprintf(stderr, "%s\n", err); return 3; }
    char *deck = store_get_attr_strdup(r, "/", "deck");
    StoreWriter *w = store_writer_create(argv[2], STORE_KIND_CKPT, deck ? deck : "", err, sizeof err);
    if (!w) { fprintf(stderr, "%s\n", err); return 3; }
    if (copy_datasets(r, w, mode, arg)) { fprintf(stderr, "%s\n", store_reader_error(r)); return 3; }
    for (size_t i = 0; i < sizeof INT_ATTRS / sizeof INT_ATTRS[0]; i++) {
        long v;
        if (!(strcmp(mode, "drop") == 0 && !strcmp(arg, INT_ATTRS[i])) && !store_get_attr_int(r, "/", INT_ATTRS[i], &v))
            store_put_attr_int(w, "/", INT_ATTRS[i], v);
    }
    for (size_t i = 0; i < sizeof STR_ATTRS / sizeof STR_ATTRS[0]; i++) {
        char *v = store_get_attr_strdup(r, "/", STR_ATTRS[i]);
        if (v && !(strcmp(mode, "drop") == 0 && !strcmp(arg, STR_ATTRS[i]))) store_put_attr_str(w, "/", STR_ATTRS[i], v);
        free(v);
    }
    free(deck);
    store_close(r);
    if (store_commit(w, err, sizeof err)) { fprintf(stderr, "%s\n", err); return 3; }
    return 0;
}
