// gpt2_io.h — GPT-2 checkpoints in and out of pgrpo's parameter block (no MPI, no HDF5 here).
// pgrpo's 16 tensors (model.h ParamTensors) are llm.c's, in llm.c's order and (out,in) layout.
//  * Hugging Face: DIR/config.json + DIR/model.safetensors (or model.safetensors.index.json + shards). Names with
//    or without the "transformer." prefix (one prefix for the whole file); the buffers h.N.attn.bias and
//    h.N.attn.masked_bias are skipped by name; lm_head.weight is accepted only when bit-equal to wte (tied);
//    the Conv1D weights c_attn, attn.c_proj, c_fc, mlp.c_proj are stored (in,out) and transposed here.
//    config.json: model_type "gpt2", activation_function gelu_new | gelu_pytorch_tanh, layer_norm_epsilon 1e-5,
//    n_inner null (or 4*n_embd), n_embd % n_head == 0, no cross attention, no inverse-layer-idx scaling, tied
//    embeddings, context <= n_positions (else n_ctx).
//  * llm.c: int32 header[256] {20240326, version 3 (fp32) | 5 (bf16), maxT, V, L, NH, C, Vp}, then the 16 tensors
//    with wte padded to Vp rows (rows >= V dropped here). The file size must be exactly what the header implies.
// Every tensor is converted to fp32 by copy; wpe keeps its first `context` rows. Errors: -1 with one line naming
// the file, the tensor (or key) and expected vs actual.
#ifndef PGRPO_GPT2_IO_H
#define PGRPO_GPT2_IO_H
#include <stddef.h>
#include "model.h"

#define LLMC_MAGIC 20240326

typedef struct {
    ModelConfig cfg;     // vocab = V (unpadded), max_t = the context kept
    int n_positions;     // positions the checkpoint has (wpe rows before truncation)
    int eos_id;          // config.json eos_token_id; -1 when absent (llm.c files have none)
    float *params;       // (n_params) in model_param_sizes order; malloc'd, free with gpt2_weights_free
    size_t n_params;
} Gpt2Weights;

// context 0: keep all n_positions positions; otherwise 1 <= context <= n_positions.
int gpt2_hf_read(const char *dir, int context, Gpt2Weights *w, char *err, size_t errlen);
int gpt2_llmc_read(const char *path, int context, Gpt2Weights *w, char *err, size_t errlen);
void gpt2_weights_free(Gpt2Weights *w);

// Writes DIR/model.safetensors (F32, hub names without prefix, Conv1D weights (in,out), no lm_head: tied) and
// DIR/config.json (n_positions = cfg->max_t; eos/bos = eos_id when >= 0). DIR must exist.
int gpt2_hf_write(const char *dir, const ModelConfig *cfg, const float *params, int eos_id, char *err, size_t errlen);

// ---- GPT-2 tokenizer files as tables (what a policy file stores; encoding/decoding is bpe.h's) ----
typedef struct {
    int n_tokens;    // vocabulary size; ids dense 0..n_tokens-1
    int n_merges;
    char **tokens;   // (n_tokens) in id order, UTF-8 exactly as in vocab.json ("Ġthe", "<|endoftext|>")
    char **merges;   // (n_merges) "a b" in rank order (merges.txt line order)
    int eos_id;      // id of "<|endoftext|>", -1 when absent
} Gpt2Tokenizer;

// DIR/vocab.json + DIR/merges.txt (Hugging Face) or DIR/encoder.json + DIR/vocab.bpe (OpenAI). Checks: JSON object
// without duplicate keys, ids dense and unique, merge lines "a b" (an optional first "#version" line), each merge's
// two halves and their concatenation in the vocabulary, at least one merge.
int gpt2_tok_read_dir(const char *dir, Gpt2Tokenizer *t, char *err, size_t errlen);
// Writes DIR/vocab.json (UTF-8, id order) and DIR/merges.txt ("#version: 0.2" then one merge a line).
int gpt2_tok_write_dir(const char *dir, const Gpt2Tokenizer *t, char *err, size_t errlen);
// Strings <-> one blob of NUL-terminated strings (how a policy file stores them, bit-exact both ways).
char *gpt2_tok_blob(char *const *strs, int n, size_t *nbytes);
int gpt2_tok_unblob(const char *blob, size_t nbytes, int n, char ***strs, char *err, size_t errlen);
void gpt2_tok_free(Gpt2Tokenizer *t);

#endif
