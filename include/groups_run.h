// groups_run.h — preference-group discovery as a job stage (README "Groups"), shared by `pgrpo groups` and
// `train.groups = discover`:
//   load     the feedback of groups.feedback spread over the ranks in contiguous row blocks: the built-in task's
//            simulated users rating groups.probes probes (task_feedback.h, seeded by task.seed), or the rows of
//            groups.feedback_file read as hyperslabs (feedback_file.h) — no rank holds the whole matrix;
//   discover the discover.h pipeline (check, standardise, PCA on ScaLAPACK, [spectral], k-means, K selection);
//   evaluate where the truth is known (the task's groups, or /feedback/truth): ARI, NMI and the contingency table of
//            discovered vs true groups, beside the ARI of a random assignment with the same group sizes;
//   write    groups.out (default <run.out_dir>/groups.h5, a verified pgrpo container whose /user_group is what
//            `train.groups = file` reads) and, for the task's feedback, <run.out_dir>/feedback.h5 (the format a user's
//            own data takes); print the report.
#ifndef PGRPO_GROUPS_RUN_H
#define PGRPO_GROUPS_RUN_H
#include "app.h"
#include "task.h"

typedef struct {
    int *user_group;    // (n_users) group of each user in user-id order, on every rank (free())
    int n_groups;       // the K found
    long n_users;
} GroupsMap;

// Collective over a->world. task: the deck's task (needed for groups.feedback = task; may be NULL otherwise).
// n_users_want >= 0: the map must cover exactly that many users (training: task.n_users), else any count.
// User errors (bad feedback, settings that do not fit the data, an unwritable output) end the job with one line
// naming the file or key: exit 2 for settings, 3 for data and I/O. No output file is left behind on an error.
void groups_discover(const App *a, const Task *task, long n_users_want, GroupsMap *out);

#endif
