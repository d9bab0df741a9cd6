// task_lines.c — line-numbered reading of the data families' files (task_lines.h).
#include "task_lines.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int task_lines_open(TaskLines *m, const char *dir, const char *name, const char *hint, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->err = err, m->errlen = errlen;
    snprintf(m->path, sizeof m->path, "%s/%s", dir, name);
    m->f = fopen(m->path, "rb");
    if (m->f) return 0;
    snprintf(err, errlen, "cannot read %s: %s (HINT: %s)", m->path, strerror(errno), hint);
    return -1;
}

void task_lines_close(TaskLines *m) {
    if (m->f) fclose(m->f);
    free(m->line);
    m->f = NULL, m->line = NULL;
}

long task_lines_read(TaskLines *m) {
    errno = 0;
    ssize_t n = getline(&m->line, &m->cap, m->f);
    if (n < 0) return errno ? task_lines_fail(m, "check the file system", "read error: %s", strerror(errno)) : 0;
    m->lineno++;
    return (long)n;
}

int task_lines_fail(TaskLines *m, const char *hint, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(m->err, m->errlen, "%s:%ld: %s (HINT: %s)", m->path, m->lineno, msg, hint);
    return -1;
}
