#!/usr/bin/env bash
# SLURM on this machine, for the opt-in integration tests (`pytest -m slurm`): Debian's slurm-wlm and munge, a one-node
# cluster (this host, proctrack/linuxproc, task/none, no cgroups), daemons started WITHOUT systemd.
#
#   tests/integration/slurm/setup_slurm.sh              install (if needed), configure, start, wait for the node idle
#   tests/integration/slurm/setup_slurm.sh --stop       stop slurmctld, slurmd and munged
#   tests/integration/slurm/setup_slurm.sh --status     what runs
#
# Running it twice is fine: packages, munge key and a slurm.conf written by this script are kept, running daemons are
# left alone. A slurm.conf NOT written by this script is never overwritten (the script stops instead).
#
# Environment: SLURM_CPUS (default 2), SLURM_MEMORY_MB (default 80 % of MemTotal, at most 8000),
# SLURM_STATE_DIR (default /var/spool/gaprss-slurm), SLURM_LOG_DIR (default /var/log/slurm).
#
# Accounting: Debian bookworm's slurm 22.05 has no file-based accounting storage; `sacct` needs slurmdbd (+ MariaDB).
# This script configures JobCompType=jobcomp/filetxt: every finished job is one line of $SLURM_LOG_DIR/jobcomp.log,
# and `sacct --completion` (22.05) reads that file.  See docs/cluster.md.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

HOST=$(hostname -s)
CPUS=${SLURM_CPUS:-2}
MEM_TOTAL_MB=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 ))
DEFAULT_MEM=$(( MEM_TOTAL_MB * 8 / 10 ))
if [ "$DEFAULT_MEM" -gt 8000 ]; then DEFAULT_MEM=8000; fi
MEMORY=${SLURM_MEMORY_MB:-$DEFAULT_MEM}
STATE=${SLURM_STATE_DIR:-/var/spool/gaprss-slurm}
LOGS=${SLURM_LOG_DIR:-/var/log/slurm}
CONF=/etc/slurm/slurm.conf
MARKER='# written by aiida-gaprss tests/integration/slurm/setup_slurm.sh'

log() { echo "==> $*"; }

running() {  # running <pidfile>: the process named in the pid file is alive
  [ -s "$1" ] && $SUDO kill -0 "$(cat "$1")" 2>/dev/null
}

stop_all() {
  if command -v scontrol >/dev/null && scontrol ping 2>/dev/null | grep -q UP; then
    log "scontrol shutdown (slurmctld and slurmd)"
    $SUDO scontrol shutdown || true
  fi
  for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    if running "$pidfile"; then
      log "stopping $(basename "$pidfile" .pid) (pid $(cat "$pidfile"))"
      $SUDO kill "$(cat "$pidfile")" || true
    fi
  done
  for _ in $(seq 1 20); do
    if ! running /run/slurmd.pid && ! running /run/slurmctld.pid && ! running /run/munge/munged.pid; then
      log "stopped"
      return 0
    fi
    sleep 0.5
  done
  echo "some daemons are still running" >&2
  return 1
}

status() {
  for pidfile in /run/munge/munged.pid /run/slurmctld.pid /run/slurmd.pid; do
    if running "$pidfile"; then echo "$(basename "$pidfile" .pid): running (pid $(cat "$pidfile"))";
    else echo "$(basename "$pidfile" .pid): not running"; fi
  done
  if command -v sinfo >/dev/null; then sinfo -N -l || true; fi
}

case "${1:-}" in
  --stop) stop_all; exit $? ;;
  --status) status; exit 0 ;;
  "") ;;
  *) echo "unknown option: $1 (use --stop or --status)" >&2; exit 2 ;;
esac

START=$(date +%s)

# 1. Packages.  policy-rc.d / a missing systemd keep the postinst scripts from starting anything, which is what we want.
missing=""
for p in slurm-wlm slurmctld slurmd slurm-client munge; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
log "packages ready ($(( $(date +%s) - START )) s): $(dpkg-query -W -f='${Package} ${Version}  ' slurmctld munge)"

# 2. Munge key and munged (as the munge user, like the packaged service).
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  $SUDO mungekey --create --keyfile /etc/munge/munge.key
fi
$SUDO chown munge:munge /etc/munge/munge.key
$SUDO chmod 0400 /etc/munge/munge.key
$SUDO install -d -o munge -g munge -m 0755 /run/munge
$SUDO install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if running /run/munge/munged.pid; then
  log "munged runs already (pid $(cat /run/munge/munged.pid))"
else
  log "starting munged"
  $SUDO runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 1 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
munge -n | unmunge >/dev/null || { echo "munge does not work: see /var/log/munge/munged.log" >&2; exit 1; }

# 3. slurm.conf: one node (this host), no cgroups.
$SUDO install -d -m 0755 /etc/slurm "$STATE" "$STATE/ctld" "$STATE/d" "$LOGS"
NEW_CONF=$(mktemp)
trap 'rm -f "$NEW_CONF"' EXIT
cat >"$NEW_CONF" <<EOF
$MARKER
# One-node cluster on $HOST for the opt-in integration tests; stop it with setup_slurm.sh --stop.
ClusterName=gaprss
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# jobs stay in squeue for 5 min after they end (AiiDA polls squeue; sacct needs no more)
MinJobAge=300
InactiveLimit=0
KillWait=10
Waittime=0
# accounting: no slurmdbd here; job completion records in a text file (sacct --completion reads them)
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
RECONFIGURE=0
if [ -f "$CONF" ] && ! grep -qF "$MARKER" "$CONF"; then
  echo "$CONF exists and was not written by this script: not touching it (move it away to proceed)" >&2
  exit 1
fi
if [ -f "$CONF" ] && cmp -s "$NEW_CONF" "$CONF"; then
  log "$CONF is up to date"
else
  log "writing $CONF (node $HOST, $CPUS CPUs, $MEMORY MB)"
  $SUDO install -m 0644 "$NEW_CONF" "$CONF"
  RECONFIGURE=1
fi

# 4. slurmctld and slurmd (they daemonise themselves).
if running /run/slurmctld.pid; then
  if [ "$RECONFIGURE" = 1 ]; then log "slurm.conf changed: restarting"; stop_all; exec "$0"; fi
  log "slurmctld runs already (pid $(cat /run/slurmctld.pid))"
else
  log "starting slurmctld"
  $SUDO /usr/sbin/slurmctld
fi
if running /run/slurmd.pid; then
  log "slurmd runs already (pid $(cat /run/slurmd.pid))"
else
  log "starting slurmd"
  $SUDO /usr/sbin/slurmd
fi

# 5. Wait for the node to be idle (resume it if an earlier stop left it down or drained).
state=""
for i in $(seq 1 60); do
  state=$(sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | head -n1 || true)
  case "$state" in
    idle|mixed|allocated) break ;;
    down*|drain*|fail*) $SUDO scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
  esac
  sleep 1
done
case "$state" in
  idle|mixed|allocated) ;;
  *) echo "node $HOST is '$state' after 60 s: see $LOGS/slurmctld.log and $LOGS/slurmd.log" >&2; exit 1 ;;
esac
sinfo -N -l
log "SLURM ready in $(( $(date +%s) - START )) s: node $HOST is $state"
echo "stop it with: $0 --stop"
