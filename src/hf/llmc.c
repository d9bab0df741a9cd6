// llmc.c — llm.c model files (train_gpt2.py write_model; versions 3 = fp32, 5 = bf16) into pgrpo's block.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
#include "gpt2_io.h"
#include "safetensors.h"

// n elements of size es (4: fp32, 2: bf16) at byte off into out as fp32, in chunks (no full-size second copy).
static int read_conv(int fd, uint64_t off, int es, float *out, size_t n) {
    enum { CHUNK = 1 << 16 };
    uint16_t buf[CHUNK];
    for (size_t i = 0; i < n;) {
        size_t m = es == 4 ? n - i : (n - i < CHUNK ? n - i : CHUNK);
        char *dst = es == 4 ? (char *)(out + i) : (char *)buf;
        size_t want = m * (size_t)es, got = 0;
        while (got < want) {
            ssize_t k = pread(fd, dst + got, want - got, (off_t)(off + got));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) return -1;
            got += (size_t)k;
        }
        if (es == 2)
            for (size_t j = 0; j < m; j++) out[i + j] = st_bf16_to_f32(buf[j]);
        i += m;
        off += want;
    }
    return 0;
}

// Header fields into cfg (vocab = V) with Vp and the element size; checks magic, version and the values.
static int parse_header(const int32_t *h, const char *path, ModelConfig *cfg, int *vp, int *es, char *err, size_t errlen) {
    if (h[0] != LLMC_MAGIC)
        return check_errf(err, errlen, "%s: bad magic %d, expected %d (an llm.c GPT-2 model file)", path, h[0], LLMC_MAGIC);
    if (h[1] != 3 && h[1] != 5)
        return check_errf(err, errlen, "%s: version %d, expected 3 (fp32) or 5 (bf16)", path, h[1]);
    static const char *const names[] = {"maxT", "vocab_size", "num_layers", "num_heads", "channels", "padded_vocab_size"};
    for (int i = 0; i < 6; i++)
        if (h[2 + i] <= 0) return check_errf(err, errlen, "%s: header %s is %d, expected > 0", path, names[i], h[2 + i]);
    if (h[7] < h[3]) return check_errf(err, errlen, "%s: padded_vocab_size %d is below vocab_size %d", path, h[7], h[3]);
    double np = (double)h[7] * h[6] + (double)h[2] * h[6] + (double)h[4] * (12.0 * h[6] * h[6] + 13.0 * h[6]) + 2.0 * h[6];
    if (np > 1099511627776.0)   // before any size arithmetic, which would overflow
        return check_errf(err, errlen, "%s: header sizes make %.3g parameters (expected < 2^40)", path, np);
    *cfg = (ModelConfig){.max_t = h[2], .vocab = h[3], .n_layer = h[4], .n_head = h[5], .d_model = h[6]};
    const char *e = model_config_error(cfg);
    if (e) return check_errf(err, errlen, "%s: header: %s", path, e);
    *vp = h[7];
    *es = h[1] == 3 ? 4 : 2;
    return 0;
}

static int read_body(int fd, const char *path, const ModelConfig *file_cfg, int vp, int es, Gpt2Weights *w,
                     char *err, size_t errlen) {
    size_t fs[MODEL_NUM_TENSORS], total, C = (size_t)file_cfg->d_model;
    ModelConfig padded = *file_cfg;
    padded.vocab = vp;
    model_param_sizes(&padded, fs, &total);
    uint64_t off = 1024;
    float *p = w->params;
    int bad = read_conv(fd, off, es, p, (size_t)w->cfg.vocab * C);           // wte: rows >= V are padding
    off += (uint64_t)fs[0] * (uint64_t)es;
    p += (size_t)w->cfg.vocab * C;
    bad |= read_conv(fd, off, es, p, (size_t)w->cfg.max_t * C);              // wpe: the first max_t positions
    off += (uint64_t)fs[1] * (uint64_t)es;
    p += (size_t)w->cfg.max_t * C;
    size_t rest = total - fs[0] - fs[1];
    bad |= read_conv(fd, off, es, p, rest);                                   // the other 14, as they are
    return bad ? check_errf(err, errlen, "%s: read failed: %s", path, strerror(errno)) : 0;
}

int gpt2_llmc_read(const char *path, int context, Gpt2Weights *w, char *err, size_t errlen) {
    memset(w, 0, sizeof *w);
    w->eos_id = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return check_errf(err, errlen, "%s: %s", path, strerror(errno));
    struct stat st;
    int32_t h[256];
    int rc = 0, vp = 0, es = 4;
    ModelConfig fc;
    if (fstat(fd, &st) || st.st_size < 1024 || pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h)
        rc = check_errf(err, errlen, "%s: truncated: %lld bytes, an llm.c file starts with a 1024-byte header", path,
                  (long long)st.st_size);
    if (!rc) rc = parse_header(h, path, &fc, &vp, &es, err, errlen);
    if (!rc) {
        ModelConfig padded = fc;
        padded.vocab = vp;
        size_t sizes[MODEL_NUM_TENSORS], total;
        model_param_sizes(&padded, sizes, &total);
        uint64_t want = 1024 + (uint64_t)total * (uint64_t)es;
        if ((uint64_t)st.st_size != want)
            rc = check_errf(err, errlen, "%s: %lld bytes but the header (V=%d padded %d, L=%d, C=%d, maxT=%d, %s) implies %llu (%s)",
                      path, (long long)st.st_size, fc.vocab, vp, fc.n_layer, fc.d_model, fc.max_t, es == 4 ? "fp32" : "bf16",
                      (unsigned long long)want, (uint64_t)st.st_size < want ? "truncated" : "trailing bytes");
    }
    if (!rc && (context < 0 || context > fc.max_t))
        rc = check_errf(err, errlen, "%s: the file has maxT=%d positions but a context of %d was asked for (expected <= maxT)",
                  path, fc.max_t, context);
    if (!rc) {
        w->cfg = fc;
        w->n_positions = fc.max_t;
        w->cfg.max_t = context ? context : fc.max_t;
        size_t sizes[MODEL_NUM_TENSORS];
        model_param_sizes(&w->cfg, sizes, &w->n_params);
        w->params = malloc(w->n_params * sizeof *w->params);
        rc = w->params ? read_body(fd, path, &fc, vp, es, w, err, errlen)
                       : check_errf(err, errlen, "%s: out of memory for %zu parameters", path, w->n_params);
    }
    close(fd);
    if (rc) gpt2_weights_free(w);
    return rc;
}
