// feedback_file.h — feedback.h5, the users x probes feedback matrix group discovery reads (the user's own data;
// `pgrpo groups` writes it for the built-in tasks too). Plain HDF5, no pgrpo frame; h5py reads and writes it:
//   /feedback/value    2-D (n_users, n_probes), float32 or float64 (either byte order). Required.
//   /feedback/mask     optional, same shape, any integer type: 1 observed, 0 not (the value is then ignored).
//   /feedback/user_id  optional, 1-D (n_users), any integer type: row i's training-user id.
//   /feedback/truth    optional, 1-D (n_users), any integer type, >= 0: true group of row i (evaluation only).
//   root attrs (optional; pgrpo writes them): schema = "pgrpo/feedback", deck = resolved deck text.
//     import h5py, numpy as np
//     with h5py.File("feedback.h5", "w") as f:
//         f["feedback/value"] = values.astype(np.float32); f["feedback/mask"] = observed.astype(np.uint8)
// What is checked here: shapes, ranks and types (feedback_file_info), mask bytes 0/1 and truth >= 0 (while reading).
// Values (NaN, inf, constant columns, rows with no observed entry) are feedback_check's job (feedback.h).
// Every error: -1 and one line naming the file and the dataset (and row/col for a bad element).
#ifndef PGRPO_FEEDBACK_FILE_H
#define PGRPO_FEEDBACK_FILE_H
#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

#define FEEDBACK_FILE_SCHEMA "pgrpo/feedback"

typedef struct {
    long n;          // rows (users) >= 1
    int d;           // columns (probes) >= 1
    int value_f64;   // /feedback/value is float64 (else float32)
    int has_mask, has_user_id, has_truth;
} FeedbackFileInfo;

// Opens path read-only (serial HDF5 in a forked child bounded by store_watchdog_s(), as groups_file_read does: a
// damaged file gives an error line, never a hang or a crash; any rank may call it) and checks every dataset's rank, shape and type against
// the format: value 2-D float32/64 with n >= 1, d >= 1; mask the same shape, integer; user_id / truth 1-D of length
// n, integer. 0, or -1 + one line naming the file and dataset (a missing file, not an HDF5 file, a missing
// /feedback/value included).
int feedback_file_info(const char *path, FeedbackFileInfo *info, char *err, size_t errlen);

// Reads rows [row0, row0 + n_rows) as hyperslabs (only those rows are read; 0 <= row0, row0 + n_rows <= info->n;
// info from feedback_file_info on the same file, whose bounded checks make this direct read safe; serial HDF5, each
// rank opens the file itself):
// values as float (type FEEDBACK_F32) or double (FEEDBACK_F64) whatever the file type (HDF5 converts), mask as
// uint8 (a value other than 0/1 -> error naming file, dataset, row and col), user_id as int64, truth as int32
// (negative or > INT32_MAX -> error naming the row). Integer datasets other than a uint8 mask pass through an int64
// block buffer (64K elements), so HDF5's clipping cannot turn -1 into 0. Any output may be NULL; a wanted
// dataset the file lacks is an error (check info->has_* first). Rows are global indices in messages. 0 or -1 + one line.
int feedback_file_read_rows(const char *path, const FeedbackFileInfo *info, int type /* FeedbackType */, long row0,
                            long n_rows, void *values, uint8_t *mask, int64_t *user_id, int32_t *truth, char *err,
                            size_t errlen);

// Collective over comm: writes path through "<path>.tmp.<pid of rank 0>" with parallel HDF5 (MPI-IO, collective
// writes; contiguous datasets), renamed onto path by rank 0 only after every rank wrote and the file is closed. On
// any error on any rank no file is left at path (nor the temp file) and every rank returns -1 with the same line
// (the lowest failing rank's). A full disk is handled: the doomed temp file is emptied before the close. The ranks' [row0, row0 + n_rows) tile [0, n) (n_rows may be 0).
// Datasets: /feedback/value float32 (n, d); /feedback/mask uint8 (n, d) unless mask == NULL; /feedback/truth
// int32 (n) unless truth == NULL; /feedback/user_id int64 (n) = the row index when write_user_id. Root attrs
// schema = FEEDBACK_FILE_SCHEMA, creator, deck = deck_text (NULL: none; the same text on every rank). n, d and the
// NULL-ness of mask/truth must agree over ranks (checked, with the tiling, before anything is created).
int feedback_file_write(MPI_Comm comm, const char *path, const char *deck_text, long n, int d, long row0,
                        long n_rows, const float *values, const uint8_t *mask, const int32_t *truth,
                        int write_user_id, char *err, size_t errlen);

#endif
