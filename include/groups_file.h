// groups_file.h — reading a user-supplied groups file (train.groups = file, train.groups_file = PATH).
//
// Format (plain HDF5; h5py example below). Nothing pgrpo-specific is needed:
//   /user_group   1-D dataset of length n_users (the task's training users, in user-id order), ANY integer type
//                 (int8/16/32/64 or uint8/16/32/64, either byte order); element u = group of training user u.
//   n_groups      optional root attribute, integer scalar, 1..TASK_MAX_GROUPS (16). Absent: max(user_group) + 1.
//   Every value must satisfy 0 <= g < n_groups; n_groups <= TASK_MAX_GROUPS.
//   Refused, with one line naming the file and the problem: float or non-numeric types (so no NaN can enter), any
//   other rank or length, values out of range, a non-integer n_groups, a file HDF5 cannot read.
//   /user_group may carry a uint32 `checksum` attribute (CRC-32 of its little-endian bytes, what
//   postproc/groups_file.py writes); when present it is verified. Files pgrpo writes are accepted too: a framed pgrpo container is verified whole (its CRC) first, and a
//   checkpoint's /groups/user_group is used when /user_group is absent.
//     import h5py, numpy as np
//     with h5py.File("groups.h5", "w") as f:
//         f["user_group"] = np.array(groups, dtype=np.int64); f.attrs["n_groups"] = 4
// Bounded: the HDF5 parsing runs in a forked child with a 15 s deadline (environment PGRPO_WATCHDOG_S overrides),
// so a damaged file whose metadata makes HDF5 loop or crash gives an error line, never a hang or a crash.
#ifndef PGRPO_GROUPS_FILE_H
#define PGRPO_GROUPS_FILE_H
#include <stddef.h>

// user_group: out, n_users ints. n_groups: out. Returns 0, or -1 with one line in err (user_group untouched).
int groups_file_read(const char *path, int n_users, int *user_group, int *n_groups, char *err, size_t errlen);

#endif
