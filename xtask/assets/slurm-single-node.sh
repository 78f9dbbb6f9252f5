#!/usr/bin/env bash
# Starts a single-node Slurm cluster on this machine (slurmctld and slurmd on localhost, as
# root, with Debian's slurm-wlm and munge), its configuration and state in DIR, and prints the
# SLURM_CONF that clients (sbatch, squeue) need. `stop` ends the daemons it started.
#   slurm-single-node.sh start DIR    |    slurm-single-node.sh stop DIR
set -euo pipefail
action=${1:?start or stop}
dir=$(realpath -m "${2:?the cluster directory}")
conf="$dir/slurm.conf"

if [ "$action" = stop ]; then
    for pid in "$dir"/slurmd.pid "$dir"/slurmctld.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    exit 0
fi

mkdir -p "$dir/spool/slurmd" "$dir/spool/slurmctld" "$dir/log"
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
cat > "$conf" <<CONF
ClusterName=proxyless
SlurmctldHost=localhost
SlurmctldPort=6917
SlurmdPort=6918
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmdSpoolDir=$dir/spool/slurmd
StateSaveLocation=$dir/spool/slurmctld
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

# munge: the daemon authenticates Slurm's messages (its key comes with Debian's package).
if ! munge -n >/dev/null 2>&1; then
    mkdir -p /run/munge
    munged --force
fi
export SLURM_CONF="$conf"
slurmctld -f "$conf"
slurmd -f "$conf" -N localhost
for _ in $(seq 1 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
        echo "SLURM_CONF=$conf"
        exit 0
    fi
    sleep 0.2
done
echo "slurm-single-node: the node did not come up; logs in $dir/log" >&2
sinfo >&2 || true
exit 1
