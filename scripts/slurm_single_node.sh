#!/usr/bin/env bash
# A one-machine SLURM cluster, to run scripts/slurm-fetch.sbatch for real (scripts/slurm_check.sh does).
# Debian/Ubuntu, as root; never run in CI (it starts daemons and writes /etc/slurm/slurm.conf).
#
#   apt-get install -y slurm-wlm munge
#   bash scripts/slurm_single_node.sh start     # munged, slurmctld and slurmd; waits until sinfo says idle
#   bash scripts/slurm_single_node.sh stop      # ends the three daemons this script started
#
# This host is the only node, with the CPUs and memory `slurmd -C` finds, in one partition "debug". No
# cgroups and no accounting: processes are tracked by their parent ids, so it works in a container too.
# Job steps inherit the daemons' nice level: start it under `nice -n 19` to keep jobs in the background.
# State, spool, logs and pid files go under /tmp/slurm-*.
set -euo pipefail

CONF="${SLURM_CONF:-/etc/slurm/slurm.conf}"
RUN=/tmp/slurm-run
LOG=/tmp/slurm-log

write_config() {
    local node
    node="$(slurmd -C | head -n 1)" # NodeName=HOST CPUs=... RealMemory=...
    mkdir -p "$(dirname "$CONF")" /tmp/slurm-state /tmp/slurm-spool "$RUN" "$LOG"
    cat >"$CONF.tmp" <<EOF
ClusterName=single
SlurmctldHost=$(hostname)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/tmp/slurm-state
SlurmdSpoolDir=/tmp/slurm-spool
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOG/slurmctld.log
SlurmdLogFile=$LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

start() {
    [ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
    write_config
    [ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- munged
    slurmctld # each daemonises and writes its pid file
    slurmd
    for _ in $(seq 60); do # the node registers within a few seconds
        if [ "$(sinfo -h -N -o %t 2>/dev/null)" = idle ]; then
            sinfo
            return
        fi
        sleep 1
    done
    echo "the node did not become idle; see $LOG/*.log" >&2
    exit 1
}

stop() {
    local name
    for name in slurmd slurmctld; do # only what start() started, by its pid file
        if [ -s "$RUN/$name.pid" ]; then
            kill "$(cat "$RUN/$name.pid")" 2>/dev/null || true
        fi
    done
    runuser -u munge -- munged --stop || true # the munged bound to the default socket
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop" >&2 && exit 2 ;;
esac
