#!/usr/bin/env bash
# tests/slurm/slurm_up.sh STATE_DIR — start a private single-node Slurm (and munged if none runs).
#
# Writes STATE_DIR/slurm.conf, starts slurmctld and `slurmd -N localhost` with their state, spool, logs and
# pid files inside STATE_DIR, waits until the node `localhost` is idle, and prints on stdout
#     export SLURM_CONF=STATE_DIR/slurm.conf
# so callers do:   eval "$(tests/slurm/slurm_up.sh "$dir")"
# Never touches /etc/slurm. Needs root (slurmd launches jobs). Safe to run twice: live daemons are reused.
# Environment: SLURM_UP_TIMEOUT (s, default 30), SLURM_UP_PORT (slurmctld port; slurmd uses +1;
# default: first free pair from 6817).
# Stop with tests/slurm/slurm_down.sh STATE_DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"

die() { echo "slurm_up: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: slurm_up.sh STATE_DIR"
slurm_need_pkgs || exit 2
[ "$(id -u)" -eq 0 ] || die "must run as root (slurmd starts jobs as their users); try sudo"

mkdir -p "$1"
S=$(cd "$1" && pwd)
CONF=$S/slurm.conf
TIMEOUT=${SLURM_UP_TIMEOUT:-30}
PATH=$PATH:/usr/sbin:/sbin
export SLURM_CONF=$CONF
mkdir -p "$S/state" "$S/spool" "$S/log"

# ---- munge -------------------------------------------------------------------------------------------
munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_ok; then
    if [ ! -s /etc/munge/munge.key ]; then
        mkdir -p /etc/munge
        if ! mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null; then
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
        fi
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
        echo "slurm_up: created /etc/munge/munge.key" >&2
    fi
    mkdir -p /run/munge /var/lib/munge /var/log/munge
    chown munge:munge /run/munge /var/lib/munge /var/log/munge
    chmod 0755 /run/munge
    # --force on the second try: a stale socket or pid file left by a killed munged blocks a plain start
    runuser -u munge -- /usr/sbin/munged 2>/dev/null || runuser -u munge -- /usr/sbin/munged --force \
        || die "munged failed to start; see /var/log/munge/munged.log"
    for _ in $(seq 1 50); do munge_ok && break; sleep 0.1; done
    munge_ok || die "munged started but munge -n | unmunge fails; see /var/log/munge/munged.log"
    cp /run/munge/munged.pid /run/munge/pgrpo-started   # marks: a slurm_up started it; the last slurm_down stops it
    echo "slurm_up: started munged (pid $(cat /run/munge/pgrpo-started))" >&2
fi
# Register this cluster as a munged user (several test clusters may share one munged).
mkdir -p /run/munge/pgrpo-users
printf '%s\n' "$S" > "/run/munge/pgrpo-users/$(printf '%s' "$S" | md5sum | cut -c1-16)"

# ---- slurm.conf ---------------------------------------------------------------------------------------
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! pid_alive "$S/slurmctld.pid"; then
    if [ -n "${SLURM_UP_PORT:-}" ]; then
        port=$SLURM_UP_PORT
    else
        port=6817
        while port_busy "$port" || port_busy $((port + 1)); do
            port=$((port + 2)); [ "$port" -lt 6999 ] || die "no free port pair in 6817..6999"
        done
    fi
    node=$(slurmd -C | head -n1 | sed 's/^NodeName=[^ ]*/NodeName=localhost/')
    case $node in NodeName=localhost*CPUs=*) ;; *) die "unexpected 'slurmd -C' output: $node";; esac
    cat > "$CONF" <<CONF
# Written by tests/slurm/slurm_up.sh — a one-node test cluster; do not use in production.
ClusterName=pgrpotest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also the delay before a requeued job may start again (default 120 s).
AuthInfo=cred_expire=${SLURM_UP_CRED_EXPIRE:-5}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
JobRequeue=1
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
SchedulerType=sched/backfill
# Main loop every 2 s so a requeued job starts as soon as its begin time passes (default 60 s).
SchedulerParameters=sched_interval=2,bf_interval=5
# Keep finished jobs visible to scontrol for 10 minutes so tests can read their final state.
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
MessageTimeout=10
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$node
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
fi

# ---- daemons ------------------------------------------------------------------------------------------
if ! pid_alive "$S/slurmctld.pid"; then
    slurmctld -f "$CONF" || die "slurmctld failed to start; see $S/log/slurmctld.log"
fi
if ! pid_alive "$S/slurmd.pid"; then
    slurmd -N localhost -f "$CONF" || die "slurmd failed to start; see $S/log/slurmd.log"
fi

t0=$(date +%s); st=""
while :; do
    st=$(sinfo -h -N -n localhost -o '%T' 2>/dev/null | head -n1 || true)
    case $st in idle|mixed|allocated) break;; esac
    if [ $(( $(date +%s) - t0 )) -ge "$TIMEOUT" ]; then
        echo "slurm_up: node 'localhost' not idle after ${TIMEOUT}s (state: '${st:-none}')" >&2
        tail -n 15 "$S/log/slurmctld.log" "$S/log/slurmd.log" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 0.2
done
echo "export SLURM_CONF=$CONF" > "$S/env.sh"
echo "export SLURM_CONF=$CONF"
