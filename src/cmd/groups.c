// groups.c — `pgrpo groups DECK`: discover preference groups from users' feedback (README "Groups").
#include <stdlib.h>
#include "app.h"
#include "comm.h"
#include "groups_run.h"
#include "guards.h"

int cmd_groups(App *a) {
    // The task is needed only to simulate feedback; a user's own feedback.h5 stands alone.
    if (a->cfg.task.kind == TASK_KIND_FILE && a->cfg.groups.feedback == FEEDBACK_FROM_TASK)
        deck_fail(a->deck, "groups.feedback", "use groups.feedback = file with a feedback.h5 of your users (README, Groups)",
                  "task.name = file has no built-in reward to probe the users with");
    Task *t = a->cfg.groups.feedback == FEEDBACK_FROM_TASK ? app_task(a) : NULL;
    char dummy[1100];
    app_out_path(a, "groups.h5", dummy, sizeof dummy);   // creates run.out_dir on rank 0
    comm_barrier(a->world);
    guards_lock_out_dir(a->cfg.run.out_dir, a->rank, a->world);
    GroupsMap m;
    groups_discover(a, t, -1, &m);
    free(m.user_group);
    if (t) task_free(t);
    return 0;
}
