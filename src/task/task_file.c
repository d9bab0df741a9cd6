// task_file.c — placeholder (being written).
#include "task.h"
#include "task_impl.h"
#include <stdio.h>
static int fl_build(Task *t, char *err, size_t errlen) { (void)t; snprintf(err, errlen, "task file: not yet"); return 1; }
const TaskFamily task_family_file = { .name = "file", .n_groups = 1, .data = 1, .own_user = 1, .build = fl_build };
