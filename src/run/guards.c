// guards.c — signals, step timeout, walltime, disk space and the out_dir lock (see guards.h).
#include "guards.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include "check.h"

// The one piece of process state the signal handler may touch (owned by this module).
static volatile sig_atomic_t g_stop_signal;

// Only async-signal-safe calls here.
static void on_stop_signal(int sig) {
    if (g_stop_signal && (sig == SIGTERM || sig == SIGINT)) {
        static const char msg[] = "pgrpo: error: a second stop signal: ending now without a checkpoint "
                                  "(HINT: run again with --resume auto to continue from the last checkpoint)\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        signal(sig, SIG_DFL);
        raise(sig);
        _exit(128 + sig);
    }
    g_stop_signal = sig;
}

void guards_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

int guards_stop_requested(void) { return g_stop_signal != 0; }

static void on_step_timeout(int sig) {
    (void)sig;
    static const char msg[] = "pgrpo: error: a training step exceeded run.step_timeout; a rank, the network or the "
                              "file system has stalled (HINT: check the other ranks' output; resume with --resume auto)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(EXIT_RUNTIME);
}

void guards_step_timeout(unsigned seconds) {
    static int installed;   // the handler is set once, the alarm re-armed every step
    if (seconds && !installed) { signal(SIGALRM, on_step_timeout); installed = 1; }
    alarm(seconds);
}

int guards_walltime_left(double max_wall, double elapsed, double steps_time, int steps_done) {
    if (max_wall <= 0 || steps_done <= 0) return 1;
    return elapsed + 2.0 * (steps_time / steps_done) + 5.0 <= max_wall;
}

double guards_free_mib(const char *path) {
    struct statvfs v;
    if (statvfs(path, &v)) return 1e30;
    return (double)v.f_bavail * (double)v.f_frsize / (1024.0 * 1024.0);
}

// Who holds a lock on fd (any byte): 0 none, else the holder's pid (as the kernel reports it) in *pid.
static int lock_holder(int fd, long *pid) {
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fcntl(fd, F_GETLK, &fl) || fl.l_type == F_UNLCK) return 0;
    *pid = (long)fl.l_pid;
    return 1;
}

// The holder's own words, "pid P on host H", written by its rank 0 when it took the lock.
static void lock_owner_text(int fd, char *buf, size_t n) {
    ssize_t r = pread(fd, buf, n - 1, 0);
    buf[r > 0 ? r : 0] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
}

static void lock_refuse(const char *out_dir, const char *path, int fd, long pid) {
    char owner[256];
    lock_owner_text(fd, owner, sizeof owner);
    die_user(EXIT_USAGE, "wait for the other run to end or stop it (the ranks of a killed mpirun can outlive it: "
             "look for pgrpo processes), or choose another run.out_dir",
             "run.out_dir '%s' is in use by another pgrpo run (%s; lock %s held by pid %ld)", out_dir,
             *owner ? owner : "owner unknown", path, pid);
}

// The lowest rank of world where flag is set, or -1 (collective).
static int lowest_rank_with(int flag, int rank, MPI_Comm world) {
    int m = comm_max_int(flag ? INT_MAX - rank : -1, world);
    return m < 0 ? -1 : INT_MAX - m;
}

void guards_lock_out_dir(const char *out_dir, int rank, MPI_Comm world) {
    static int held;   // closing any descriptor of the file would drop this process's locks: open it once
    if (held) return;
    char path[1100];
    snprintf(path, sizeof path, "%s/pgrpo.lock", out_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die_user(EXIT_RUNTIME, "check permissions of run.out_dir", "cannot open lock file '%s': %s", path, strerror(errno));
    // First every rank looks for a holder, so the ranks of this run do not see each other's locks; then each
    // rank locks its own byte (two runs starting together collide on rank 0's byte). The lowest rank that finds
    // the lock taken speaks; its fatal exit ends the others, waiting in the barrier.
    long pid = 0;
    int busy = lock_holder(fd, &pid);
    int first_busy = lowest_rank_with(busy, rank, world);
    if (first_busy >= 0) {
        if (rank == first_busy) lock_refuse(out_dir, path, fd, pid);
        comm_barrier(world);
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1 + rank, .l_len = 1};
    int rc = fcntl(fd, F_SETLK, &fl), err = errno;
    busy = rc != 0 && (err == EACCES || err == EAGAIN);
    if (rc != 0 && !busy)   // a file system without POSIX locks (e.g. Lustre mounted without flock): run unguarded
        fprintf(stderr, "pgrpo: warning: cannot lock '%s' (%s): a second run into run.out_dir would not be refused\n",
                path, strerror(err));
    first_busy = lowest_rank_with(busy, rank, world);
    if (first_busy >= 0) {
        if (rank == first_busy) { lock_holder(fd, &pid); lock_refuse(out_dir, path, fd, pid); }
        comm_barrier(world);
    }
    if (rank == 0) {
        char me[256], host[128] = "?";
        gethostname(host, sizeof host - 1);
        int len = snprintf(me, sizeof me, "pid %ld on host %s\n", (long)getpid(), host);
        if (ftruncate(fd, 0) == 0 && pwrite(fd, me, (size_t)len, 0) != len) { /* the lock holds without the text */ }
    }
    held = 1;
}
