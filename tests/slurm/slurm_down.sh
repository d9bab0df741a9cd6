#!/usr/bin/env bash
# tests/slurm/slurm_down.sh STATE_DIR — stop what slurm_up.sh started, by its pid files (never by name):
# slurmd, slurmctld (after cancelling this cluster's jobs), and munged only if a slurm_up.sh started it and
# no other live cluster registered in /run/munge/pgrpo-users still uses it.
# SIGTERM, wait up to SLURM_DOWN_TIMEOUT s (default 15), then SIGKILL. Safe to run twice.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: slurm_down.sh STATE_DIR" >&2; exit 1; }
S=$1
[ -d "$S" ] || exit 0
TIMEOUT=${SLURM_DOWN_TIMEOUT:-15}
rc=0

stop_pidfile() {  # NAME PIDFILE
    local name=$1 f=$2 pid i
    [ -s "$f" ] || return 0
    pid=$(tr -dc '0-9' < "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < TIMEOUT * 5; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "slurm_down: $name (pid $pid) ignored SIGTERM for ${TIMEOUT}s; sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null; sleep 0.2
            kill -0 "$pid" 2>/dev/null && { echo "slurm_down: $name (pid $pid) still alive" >&2; rc=1; }
        fi
    fi
    rm -f "$f"
}

# Cancel every job of this private cluster first: stopping slurmd leaves running job steps behind.
if [ -s "$S/slurm.conf" ] && [ -s "$S/slurmctld.pid" ] && kill -0 "$(tr -dc '0-9' < "$S/slurmctld.pid")" 2>/dev/null; then
    export SLURM_CONF=$S/slurm.conf
    jobs=$(squeue -h -o %i 2>/dev/null)
    if [ -n "$jobs" ]; then
        scancel $jobs 2>/dev/null
        for ((i = 0; i < TIMEOUT * 5; i++)); do
            [ -z "$(squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null)" ] && break; sleep 0.2
        done
    fi
fi

stop_pidfile slurmd "$S/slurmd.pid"
stop_pidfile slurmctld "$S/slurmctld.pid"
# munged: only if a slurm_up started it and no other live cluster of ours still uses it.
rm -f "/run/munge/pgrpo-users/$(printf '%s' "$(cd "$S" && pwd)" | md5sum | cut -c1-16)"
others=0
for u in /run/munge/pgrpo-users/*; do
    [ -e "$u" ] || continue
    d=$(head -n1 "$u")
    if [ -s "$d/slurmctld.pid" ] && kill -0 "$(tr -dc '0-9' < "$d/slurmctld.pid")" 2>/dev/null; then
        others=$((others + 1))
    else rm -f "$u"; fi
done
if [ "$others" -eq 0 ] && [ -s /run/munge/pgrpo-started ] && [ -s /run/munge/munged.pid ] \
        && [ "$(cat /run/munge/pgrpo-started)" = "$(cat /run/munge/munged.pid)" ]; then
    cp /run/munge/pgrpo-started "$S/munged.pid"
    stop_pidfile munged "$S/munged.pid"
    rm -f /run/munge/pgrpo-started
fi
exit $rc
