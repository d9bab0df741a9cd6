// task_lines.h — a data file read line by line, its errors one line "path:line: message (HINT: ...)". Shared by the
// data-driven families (movielens_io.c, task_file.c); private to src/task.
#ifndef PGRPO_TASK_LINES_H
#define PGRPO_TASK_LINES_H
#include <stddef.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    char path[1024];
    char *line;      // the current line (getline's buffer, reused)
    size_t cap;
    long lineno;     // 1-based number of the current line
    char *err;       // where messages go
    size_t errlen;
} TaskLines;

// Opens dir/name. On failure writes "cannot read PATH: <reason> (HINT: hint)" and returns -1.
int task_lines_open(TaskLines *m, const char *dir, const char *name, const char *hint, char *err, size_t errlen);
void task_lines_close(TaskLines *m);
// Reads the next line into m->line (end of line kept): its length in bytes, 0 at the end of the file, -1 on a read
// error (message written).
long task_lines_read(TaskLines *m);
// Writes "path:lineno: <fmt...> (HINT: hint)" into m->err; returns -1.
int task_lines_fail(TaskLines *m, const char *hint, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
