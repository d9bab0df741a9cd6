# shellcheck shell=bash
# tests/slurm/lib.sh — helpers for the Slurm tests and scripts (source it; bash only).
#
#   slurm_need_pkgs                 exit 2 naming the apt package when a Slurm/munge binary is missing
#   job_field JOBID FIELD           one field of `scontrol show job` (JobState, ExitCode, Restarts, ...)
#   job_state JOBID                 JobState, or "GONE" when slurmctld no longer knows the job
#   wait_job_state JOBID REGEX SECS wait until the state matches ^(REGEX)$; prints it; 1 on timeout
#   wait_job_done JOBID SECS        wait for a terminal state (COMPLETED, FAILED, ...); prints it
#   wait_job_restarts JOBID N SECS  wait until Restarts >= N
#   wait_file PATH SECS             wait until PATH exists (and is non-empty)
#   wait_grep REGEX FILE SECS       wait until FILE contains a line matching REGEX
#   tap_ok NAME / tap_not_ok NAME [why] / tap_check NAME CMD...   TAP lines; failures counted in TAP_FAILS
#   now_s                           seconds since the epoch with fraction (for timings)

TAP_FAILS=${TAP_FAILS:-0}

now_s() { date +%s.%N; }
elapsed_s() { awk -v a="$1" -v b="$(now_s)" 'BEGIN{printf "%.1f", b-a}'; }

tap_ok()     { echo "ok - $1"; }
tap_not_ok() { echo "not ok - $1${2:+ # $2}"; TAP_FAILS=$((TAP_FAILS+1)); }
tap_check()  { local name=$1; shift; if "$@"; then tap_ok "$name"; else tap_not_ok "$name"; fi; }

# slurm_need_pkgs: every binary the harness uses, with the Debian package that ships it.
slurm_need_pkgs() {
    local missing="" b pkg
    for b in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client sinfo:slurm-client \
             scontrol:slurm-client squeue:slurm-client scancel:slurm-client srun:slurm-client \
             munged:munge munge:munge unmunge:munge runuser:util-linux; do
        pkg=${b#*:}; b=${b%%:*}
        if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
            missing="$missing $pkg"
        fi
    done
    if [ -n "$missing" ]; then
        missing=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')
        echo "slurm: missing programs; install with:" >&2
        echo "  apt-get install -y slurm-wlm munge    # (provides:$missing)" >&2
        return 2
    fi
    return 0
}

job_field() {  # JOBID FIELD
    scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1
}

job_state() {
    local s
    s=$(job_field "$1" JobState)
    echo "${s:-GONE}"
}

wait_job_state() {  # JOBID REGEX SECS
    local id=$1 re=$2 secs=${3:-60} t0 s
    t0=$(date +%s)
    while :; do
        s=$(job_state "$id")
        if [[ $s =~ ^($re)$ ]]; then echo "$s"; return 0; fi
        if [ $(( $(date +%s) - t0 )) -ge "$secs" ]; then echo "$s"; return 1; fi
        sleep 0.3
    done
}

SLURM_TERMINAL='COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED|GONE'

wait_job_done() {  # JOBID SECS
    wait_job_state "$1" "$SLURM_TERMINAL" "${2:-120}"
}

wait_job_restarts() {  # JOBID N SECS
    local id=$1 n=$2 secs=${3:-60} t0 r
    t0=$(date +%s)
    while :; do
        r=$(job_field "$id" Restarts); r=${r:-0}
        [ "$r" -ge "$n" ] && return 0
        [ $(( $(date +%s) - t0 )) -ge "$secs" ] && return 1
        sleep 0.3
    done
}

wait_file() {  # PATH SECS
    local p=$1 secs=${2:-60} t0
    t0=$(date +%s)
    until [ -s "$p" ]; do
        [ $(( $(date +%s) - t0 )) -ge "$secs" ] && return 1
        sleep 0.2
    done
}

wait_grep() {  # REGEX FILE SECS
    local re=$1 f=$2 secs=${3:-60} t0
    t0=$(date +%s)
    until [ -f "$f" ] && grep -Eq -- "$re" "$f"; do
        [ $(( $(date +%s) - t0 )) -ge "$secs" ] && return 1
        sleep 0.2
    done
}

# pid_alive PIDFILE: the process named in PIDFILE exists
pid_alive() {
    local pid
    [ -s "$1" ] || return 1
    pid=$(tr -dc '0-9' < "$1")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}
