// process.c — the reward process: a child started with posix_spawn, fed batches in the line protocol of reward.h
// over its stdin and answering on its stdout (see reward_impl.h).
//
// Its stdin is one end of a socket pair rather than a pipe so that writing to a child that has died returns EPIPE
// (send with MSG_NOSIGNAL) instead of raising SIGPIPE in pgrpo; the child sees an ordinary stream. Every descriptor
// pgrpo opens here is close-on-exec, and the child closes every descriptor above 2 (other children's pipes, MPI's
// sockets) before its program starts, with SIGTERM, SIGINT and SIGUSR1 blocked (see spawn). Timeouts use poll();
// a child that failed is SIGKILLed and reaped (waitpid), so no zombie is left.
#define _GNU_SOURCE   // pipe2, posix_spawn_file_actions_addclosefrom_np
#include "reward_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "reward.h"

extern char **environ;

#define MAX_ARGS 64

struct RewardProc {
    pid_t pid;          // 0 once reaped
    int wfd, rfd;       // our end of the child's stdin (socket) and stdout (pipe); -1 when closed
    long batch_id;      // batches sent so far
    char *wbuf, *rbuf;  // the outgoing batch; answers read so far
    size_t wlen, wcap, rlen, rcap;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    char *nb = xmalloc(c);
    if (*buf) { memcpy(nb, *buf, *cap); free(*buf); }
    *buf = nb;
    *cap = c;
}

void reward_escape_append(char **buf, size_t *len, size_t *cap, const char *s) {
    grow(buf, cap, *len + 2 * strlen(s) + 2);
    char *o = *buf + *len;
    for (; *s; s++) {
        char c = *s, e = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : 0;
        if (e) { *o++ = '\\'; *o++ = e; }
        else *o++ = c;
    }
    *o = 0;
    *len = (size_t)(o - *buf);
}

static void append(RewardProc *p, const char *s) {
    size_t n = strlen(s);
    grow(&p->wbuf, &p->wcap, p->wlen + n + 1);
    memcpy(p->wbuf + p->wlen, s, n + 1);
    p->wlen += n;
}

// How the child ended, in words ("exited with status 1", "was killed by signal 9"); reaps it.
static void reap(RewardProc *p, int block_s, char *how, size_t n) {
    snprintf(how, n, "ended");
    if (p->pid <= 0) return;
    int st = 0;
    pid_t got = 0;
    for (int i = 0; i < block_s * 100 && (got = waitpid(p->pid, &st, WNOHANG)) == 0; i++) usleep(10000);
    if (got == 0) {
        kill(p->pid, SIGKILL);
        got = waitpid(p->pid, &st, 0);
        snprintf(how, n, "was killed (it did not exit)");
    } else if (got > 0 && WIFEXITED(st)) {
        snprintf(how, n, "exited with status %d", WEXITSTATUS(st));
    } else if (got > 0 && WIFSIGNALED(st)) {
        snprintf(how, n, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    }
    p->pid = 0;
}

static void close_fds(RewardProc *p) {
    if (p->wfd >= 0) close(p->wfd);
    if (p->rfd >= 0) close(p->rfd);
    p->wfd = p->rfd = -1;
}

// Ends a child that misbehaved: SIGKILL, reaped.
static void kill_child(RewardProc *p) {
    close_fds(p);
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

static int spawn(RewardProc *p, const char *command, char *err, size_t errlen) {
    char line[4096], *argv[MAX_ARGS], why[128];
    snprintf(line, sizeof line, "%s", command);
    if (reward_split_command(line, argv, MAX_ARGS, why, sizeof why) < 0) {
        snprintf(err, errlen, "cannot be split into words: %s", why);
        return -1;
    }
    int sv[2], pp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) { snprintf(err, errlen, "socketpair: %s", strerror(errno)); return -1; }
    if (pipe2(pp, O_CLOEXEC)) { snprintf(err, errlen, "pipe: %s", strerror(errno)); close(sv[0]); close(sv[1]); return -1; }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, pp[1], 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    // The stop signals stay blocked in the child: a scheduler that signals every process of the job (Slurm's
    // SIGUSR1/SIGTERM before the time limit) must not kill the reward process while pgrpo finishes its step and
    // checkpoints; pgrpo ends the child by closing its stdin (or SIGKILL).
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    posix_spawnattr_setsigmask(&at, &mask);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawnp(&p->pid, argv[0], &fa, &at, argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    close(pp[1]);
    p->wfd = sv[0];
    p->rfd = pp[0];
    if (rc) {
        p->pid = 0;
        snprintf(err, errlen, "cannot be started: %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return 0;
}

// One answer line (NUL-terminated, without its newline) -> *v; -1 when it is not exactly one number.
static int parse_line(char *line, float *v) {
    char *end;
    double x = strtod(line, &end);
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    if (end == line || *end) return -1;
    *v = (float)x;
    return 0;
}

// Writes wbuf and reads until `lines` answer lines have come, each parsed into out[i] as it arrives (out NULL: the
// header's one raw line, left in rbuf). 0; -1 timeout; -2 the child closed its end or died; -3 a read/write error
// (errno text in err); -4 line *got is not a number (rbuf + *bad: the line); -5 more lines than asked for.
static int exchange(RewardProc *p, int lines, double timeout, float *out, int *got, size_t *bad, char *err, size_t errlen) {
    double deadline = now_s() + timeout;
    size_t sent = 0, line0 = 0;
    p->rlen = 0;
    *got = 0;
    while (*got < lines) {
        struct pollfd fds[2] = {{.fd = p->rfd, .events = POLLIN}, {.fd = p->wfd, .events = POLLOUT}};
        int nfds = sent < p->wlen ? 2 : 1;
        double left = deadline - now_s();
        if (left <= 0) return -1;
        int r = poll(fds, (nfds_t)nfds, (int)ceil(left * 1e3));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) { snprintf(err, errlen, "poll: %s", strerror(errno)); return -3; }
        if (r == 0) return -1;
        if (nfds == 2 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = send(p->wfd, p->wbuf + sent, p->wlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) return -2;
            if (w < 0 && errno != EAGAIN && errno != EINTR) { snprintf(err, errlen, "write: %s", strerror(errno)); return -3; }
            if (w > 0) sent += (size_t)w;
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        grow(&p->rbuf, &p->rcap, p->rlen + 4097);
        ssize_t n = read(p->rfd, p->rbuf + p->rlen, 4096);
        if (n == 0) return -2;
        if (n < 0 && errno != EINTR && errno != EAGAIN) { snprintf(err, errlen, "read: %s", strerror(errno)); return -3; }
        if (n < 0) continue;
        size_t end = p->rlen + (size_t)n;
        for (size_t i = p->rlen; i < end; i++) {
            if (p->rbuf[i] != '\n') continue;
            if (*got == lines) return -5;
            p->rbuf[i] = 0;
            if (out && parse_line(p->rbuf + line0, &out[*got])) { *bad = line0; return -4; }
            ++*got;
            line0 = i + 1;
        }
        p->rlen = end;
        if (*got == lines && line0 < end) return -5;   // the start of another line
    }
    p->rbuf[p->rlen] = 0;
    return 0;
}

// The message of a failed exchange; the child is killed (or reaped, when it ended by itself).
static void exchange_failed(RewardProc *p, int rc, int got, int lines, double timeout, const char *phase,
                            char *err, size_t errlen) {
    char how[160];
    if (rc == -1) {
        kill_child(p);
        snprintf(err, errlen, "did not answer %s within reward.timeout = %g s (%d of %d lines came)", phase, timeout, got, lines);
    } else if (rc == -2) {
        close_fds(p);
        reap(p, 2, how, sizeof how);
        snprintf(err, errlen, "%s before answering %s (%d of %d lines came)", how, phase, got, lines);
    } else {
        kill_child(p);
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " while talking to it (%s)", phase);
    }
}

RewardProc *reward_proc_start(const char *command, const char *config, double timeout, char *err, size_t errlen) {
    RewardProc *p = xcalloc(1, sizeof *p);
    p->wfd = p->rfd = -1;
    if (spawn(p, command, err, errlen)) { reward_proc_stop(p); return NULL; }
    append(p, "pgrpo-reward 1\t");
    reward_escape_append(&p->wbuf, &p->wlen, &p->wcap, config);
    append(p, "\n");
    int got;
    size_t bad;
    int rc = exchange(p, 1, timeout, NULL, &got, &bad, err, errlen);
    if (rc == -5) rc = 0;   // lines after "ready" are the next batch's problem (reported there)
    if (rc) {
        exchange_failed(p, rc, got, 1, timeout, "the header line with \"ready\"", err, errlen);
        reward_proc_stop(p);
        return NULL;
    }
    size_t n = strlen(p->rbuf);
    while (n && p->rbuf[n - 1] == '\r') p->rbuf[--n] = 0;
    if (strcmp(p->rbuf, "ready")) {
        char shown[80];
        snprintf(shown, sizeof shown, "%s", p->rbuf);
        for (char *c = shown; *c; c++) if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
        snprintf(err, errlen, "answered '%s' to the header line instead of \"ready\" (is it a pgrpo reward process? "
                 "see the protocol in include/reward.h)", shown);
        kill_child(p);
        reward_proc_stop(p);
        return NULL;
    }
    return p;
}

// The batch's text: the header line and one escaped line per item.
static void format_batch(RewardProc *p, int n, const PgrpoRewardItem *items) {
    char head[96];
    p->wlen = 0;
    snprintf(head, sizeof head, "batch %ld %d\n", p->batch_id, n);
    append(p, head);
    for (int i = 0; i < n; i++) {
        const PgrpoRewardItem *it = &items[i];
        snprintf(head, sizeof head, "%d\t%d\t%d\t%d\t", it->user, it->group, it->split, it->complete);
        append(p, head);
        reward_escape_append(&p->wbuf, &p->wlen, &p->wcap, it->prompt);
        append(p, "\t");
        reward_escape_append(&p->wbuf, &p->wlen, &p->wcap, it->completion);
        append(p, "\n");
    }
}

// The item's answer line as shown in a message: printable ASCII, at most 40 characters.
static void shown_line(const char *line, char *buf, size_t n) {
    snprintf(buf, n, "%.40s", line);
    for (char *c = buf; *c; c++) if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
}

int reward_proc_score(RewardProc *p, int n, const PgrpoRewardItem *items, long first, double timeout, float *out,
                      char *err, size_t errlen) {
    if (p->pid <= 0) { snprintf(err, errlen, "is not running"); return -1; }
    // Lines left over from the previous batch mean the child answered more than it was asked.
    struct pollfd pf = {.fd = p->rfd, .events = POLLIN};
    if (poll(&pf, 1, 0) > 0 && (pf.revents & POLLIN)) {
        snprintf(err, errlen, "batch %ld: the process wrote more answer lines than items in batch %ld", p->batch_id,
                 p->batch_id - 1);
        kill_child(p);
        return -1;
    }
    format_batch(p, n, items);
    int got;
    size_t bad;
    int rc = exchange(p, n, timeout, out, &got, &bad, err, errlen);
    char phase[64], line[48];
    snprintf(phase, sizeof phase, "batch %ld of %d items", p->batch_id, n);
    if (rc == -4) {
        shown_line(p->rbuf + bad, line, sizeof line);
        snprintf(err, errlen, "batch %ld: answer line %d for item %ld (user %d, group %d) is '%s', not a number",
                 p->batch_id, got + 1, first + got, items[got].user, items[got].group, line);
    } else if (rc == -5) {
        snprintf(err, errlen, "batch %ld: more answer lines than its %d items (one number per item)", p->batch_id, n);
    }
    if (rc == -4 || rc == -5) { kill_child(p); return -1; }
    if (rc) { exchange_failed(p, rc, got, n, timeout, phase, err, errlen); return -1; }
    p->batch_id++;
    return 0;
}

void reward_proc_stop(RewardProc *p) {
    if (!p) return;
    if (p->wfd >= 0) { close(p->wfd); p->wfd = -1; }   // EOF: the protocol's end
    char how[160];
    reap(p, 5, how, sizeof how);
    close_fds(p);
    free(p->wbuf);
    free(p->rbuf);
    free(p);
}
