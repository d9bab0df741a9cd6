// safetensors.h — Hugging Face's safetensors format, read and written (no MPI, no HDF5 here).
// File: u64 little-endian N, then N bytes of JSON header {"NAME": {"dtype", "shape", "data_offsets": [B, E]},
// "__metadata__": {str: str}}, then the byte buffer. The reader checks everything the reference reader
// (safetensors/src/tensor.rs) checks: N <= 100,000,000 and 8 + N <= file size, JSON without duplicate keys
// (Jansson, JSON_REJECT_DUPLICATES; JSON whitespace allowed at both ends), __metadata__ string -> string only,
// non-negative integer shapes and offsets, E - B == prod(shape) * dtype size with checked arithmetic, offsets
// sorted, contiguous from 0, no holes, ending exactly at the end of the file. Tensor data are copied (pread)
// into the caller's memory, never cast from a mapping, so unaligned files (writers before v0.3.1) work.
// A sharded checkpoint (model.safetensors.index.json: {"weight_map": {name: file}}) opens as one set.
// Errors: NULL / -1 with one line naming the file, the tensor and expected vs actual.
#ifndef PGRPO_SAFETENSORS_H
#define PGRPO_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#define ST_MAX_HEADER 100000000ull   // the reference reader's MAX_HEADER_SIZE
#define ST_MAX_DIMS 8

typedef struct {
    const char *name;
    const char *dtype;          // as in the file: "F32", "F16", "BF16", "F64", "U8", ...
    int ndim;                   // 0: a scalar
    uint64_t shape[ST_MAX_DIMS];
    uint64_t n_elems;           // prod(shape) (1 for a scalar)
    uint64_t begin, end;        // data_offsets, relative to the byte buffer
    const char *file;           // the file holding it (a shard of a sharded set)
} StTensor;

typedef struct StFile StFile;

// One .safetensors file.
StFile *st_open(const char *path, char *err, size_t errlen);
// A folder: model.safetensors, else model.safetensors.index.json and its shards (each validated; every tensor
// in exactly the shard the index names, no shard tensor missing from the index).
StFile *st_open_dir(const char *dir, char *err, size_t errlen);
void st_close(StFile *f);

int st_count(const StFile *f);
const StTensor *st_tensor(const StFile *f, int i);          // in file order (sorted by offset), shard by shard
const StTensor *st_find(const StFile *f, const char *name); // NULL when absent
// __metadata__ value of the (first) file, NULL when absent.
const char *st_metadata(const StFile *f, const char *key);
// 1 for the dtypes st_read_f32 converts: F32, F16, BF16, F64.
int st_dtype_is_float(const char *dtype);
// Copies the tensor into out (n_elems floats), converting F16/BF16/F64 to fp32. n must equal t->n_elems.
int st_read_f32(const StFile *f, const StTensor *t, float *out, size_t n, char *err, size_t errlen);
// Raw bytes of the tensor (t->end - t->begin of them) into out.
int st_read_raw(const StFile *f, const StTensor *t, void *out, char *err, size_t errlen);

// Writing: F32 tensors in the order given; the header is padded with spaces to a multiple of 8 (data 8-aligned).
typedef struct {
    const char *name;
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
    const float *data;          // prod(shape) floats, C order
} StWriteTensor;
// meta: n_meta key/value pairs (keys[i], values[i]) for __metadata__ (n_meta 0: none). Writes path directly;
// callers wanting atomicity write into a temporary folder (pgrpo export does).
int st_write_f32(const char *path, const StWriteTensor *t, int n, const char *const *keys,
                 const char *const *values, int n_meta, char *err, size_t errlen);

// IEEE half / bfloat16 to float (exact, subnormals, inf and NaN kept).
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

#endif
