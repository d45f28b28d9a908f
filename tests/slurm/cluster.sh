#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for tests/slurm/test_slurm.py and for trying
# `snakemake --profile profiles/slurm` without a cluster. Debian/Ubuntu, run as root.
#
#   tests/slurm/cluster.sh start    install slurmctld/slurmd/slurm-client/munge if missing, write
#                                   the config, start munged + slurmctld + slurmd, wait for `idle`
#   tests/slurm/cluster.sh status   daemons, node state, queue
#   tests/slurm/cluster.sh stop     cancel all jobs, stop the daemons by their pid files, remove
#                                   the config files it wrote
#
# Where things go:
#   /etc/slurm/slurm.conf, /etc/slurm/gres.conf  SLURM's default config path, so every client
#       (sbatch/squeue/scontrol called by snakemake, srun inside jobs) finds the cluster with no
#       environment variable. Both files start with a charfolio marker line; an existing file
#       without it belongs to someone else and `start` refuses to touch it. `stop` removes them:
#       a config naming a controller that no longer runs makes every SLURM client call wait
#       about 9 s for it, and the snakemake slurm plugin runs `scontrol show config` when it is
#       loaded, so every `snakemake` start on this machine (any executor) would pay those 9 s.
#   $CHARFOLIO_SLURM_DIR (default /tmp/charfolio-slurm)  state, spool, logs, pid files and the
#       fake GPU devices (character devices made with mknod; gres.conf points at them).
#
# The node: NodeName=$(hostname -s), CPUs=$(nproc), RealMemory=90% of MemAvailable,
# Gres=gpu:fake:2. Override with CHARFOLIO_SLURM_CPUS / CHARFOLIO_SLURM_MEM_MB /
# CHARFOLIO_SLURM_GPUS (fake GPUs cost nothing); CPU and memory values above
# what the machine has are accepted (SlurmdParameters=config_overrides) but nothing enforces
# them: there are no cgroups, jobs simply share the machine.
# No accounting daemon (slurmdbd): `sacct` has no data, so the snakemake profile must use
# `slurm-status-command: squeue`; MinJobAge=3600 keeps finished jobs visible to squeue.
set -euo pipefail

DIR=${CHARFOLIO_SLURM_DIR:-/tmp/charfolio-slurm}
GPUS=${CHARFOLIO_SLURM_GPUS:-2}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
GRES_CONF=$CONF_DIR/gres.conf
MARKER="# charfolio test cluster: written by tests/slurm/cluster.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

say() { printf 'cluster.sh: %s\n' "$*"; }
die() { printf 'cluster.sh: error: %s\n' "$*" >&2; exit 1; }

need_root() {
    [[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and starts daemons)"
}

host() { hostname -s 2>/dev/null || uname -n | cut -d. -f1; }

# A pid file's process, if it is alive.
live_pid() {
    local file=$1 pid
    [[ -s $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    command -v apt-get >/dev/null || die "SLURM is not installed and apt-get is unavailable: install ${PACKAGES[*]}"
    mkdir -p "$DIR"
    say "installing ${PACKAGES[*]} (apt-get, log: $DIR/apt.log)"
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${PACKAGES[@]}"; } >"$DIR/apt.log" 2>&1; then
        tail -n 20 "$DIR/apt.log" >&2
        die "apt-get install failed (full log: $DIR/apt.log)"
    fi
}

# Write $2 to $1 if it differs; returns 0 if the file changed.
write_if_changed() {
    local path=$1 content=$2
    [[ -e $path ]] && [[ "$(cat "$path")" == "$content" ]] && return 1
    printf '%s\n' "$content" >"$path"
}

make_fake_gpus() {
    mkdir -p "$DIR/dev"
    local i
    for ((i = 0; i < GPUS; i++)); do
        # Character devices (1,3 is /dev/null's major/minor): gres.conf refuses plain files.
        if [[ ! -c $DIR/dev/gpu$i ]]; then
            rm -f "$DIR/dev/gpu$i"
            mknod "$DIR/dev/gpu$i" c 1 3
        fi
    done
}

# Prints 1 if the configuration changed.
write_config() {
    local h cpus mem avail_kb real_cpus overrides=""
    h=$(host)
    real_cpus=$(nproc)
    cpus=${CHARFOLIO_SLURM_CPUS:-$real_cpus}
    avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    mem=${CHARFOLIO_SLURM_MEM_MB:-$((avail_kb * 9 / 10 / 1024))}
    if ((cpus > real_cpus)) || ((mem > avail_kb / 1024)); then
        overrides="SlurmdParameters=config_overrides"
    fi
    mkdir -p "$CONF_DIR" "$DIR"/{state,spool,log,run}
    make_fake_gpus
    local slurm_conf gres_conf changed=0
    slurm_conf="$MARKER
# Scratch files live in $DIR. Stop with: $HERE/cluster.sh stop
ClusterName=charfolio
SlurmctldHost=$h(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for an hour: the profile's squeue status
# check needs them (>= 120 s) and the test reads the SLURM record of every job it submitted.
MinJobAge=3600
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
SchedulerType=sched/backfill
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
GresTypes=gpu
$overrides
NodeName=$h NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem Gres=gpu:fake:$GPUS Features=fakegpu State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    gres_conf="$MARKER
NodeName=$h Name=gpu Type=fake File=$DIR/dev/gpu[0-$((GPUS - 1))]"
    # Check both before writing either, so a refusal leaves nothing half-written.
    local f
    for f in "$CONF" "$GRES_CONF"; do
        if [[ -e $f ]] && ! head -n 1 "$f" | grep -qxF "$MARKER"; then
            die "$f exists and was not written by this script; refusing to overwrite it \
(a throwaway test machine? move it away and rerun)"
        fi
    done
    write_if_changed "$CONF" "$slurm_conf" && changed=1
    write_if_changed "$GRES_CONF" "$gres_conf" && changed=1
    echo "$changed"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return  # already running (ours from an earlier start, or the system's)
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 0400 /etc/munge/munge.key
    fi
    mkdir -p /run/munge
    chown munge:munge /run/munge
    chmod 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    local _
    for _ in $(seq 50); do
        if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
            cp /run/munge/munged.pid "$DIR/run/munged.pid"  # ours, so `stop` stops it
            return
        fi
        sleep 0.1
    done
    die "munged does not answer (log: /var/log/munge/munged.log)"
}

node_state() { sinfo -h -n "$(host)" -o %T 2>/dev/null | head -n 1; }

wait_idle() {
    local h state i
    h=$(host)
    for i in $(seq 120); do
        local d
        for d in slurmctld slurmd; do
            if ! live_pid "$DIR/run/$d.pid" >/dev/null && ((i > 4)); then
                tail -n 15 "$DIR/log/$d.log" >&2 || true
                die "$d is not running (log: $DIR/log/$d.log)"
            fi
        done
        state=$(node_state || true)
        case $state in
            idle | mixed | allocated) return 0 ;;
            *inval* | *drain* | *down* | *fail*)
                if ((i % 4 == 1)); then
                    scontrol update nodename="$h" state=resume >/dev/null 2>&1 || true
                fi
                ;;
        esac
        sleep 0.5
    done
    say "node $h is '$state' after 60 s; scontrol show node:" >&2
    scontrol show node "$h" >&2 || true
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    die "the node did not become idle"
}

cmd_start() {
    need_root
    install_packages
    local changed
    changed=$(write_config)
    if [[ $changed == 1 ]] && { live_pid "$DIR/run/slurmctld.pid" >/dev/null || live_pid "$DIR/run/slurmd.pid" >/dev/null; }; then
        say "configuration changed: restarting the daemons"
        stop_slurm_daemons
    fi
    start_munge
    if ! live_pid "$DIR/run/slurmctld.pid" >/dev/null; then
        # -c: start from a clean state (no jobs or node states left from an earlier run).
        /usr/sbin/slurmctld -c
    fi
    if ! live_pid "$DIR/run/slurmd.pid" >/dev/null; then
        /usr/sbin/slurmd -N "$(host)"
    fi
    wait_idle
    cat <<EOF
cluster.sh: SLURM is up: node $(host), partition debug, $(sinfo -h -o '%c CPUs, %m MB, %G')
  Config: $CONF (default path: sbatch/squeue/srun need no SLURM_CONF). Scratch: $DIR
  Try:    sinfo; sbatch --gpus=1 --mem 100 --wrap 'env | grep -i gpu'; squeue
  Run:    .venv/bin/snakemake --profile profiles/slurm --configfile config/demo.yaml
  Stop:   $HERE/cluster.sh stop
EOF
}

step_sockets() { find "$DIR/spool" -maxdepth 1 -type s 2>/dev/null || true; }

# Cancel every job and wait until no job step (slurmstepd) is left, then stop slurmd/slurmctld
# (and any other pid files given, e.g. munged's).
stop_slurm_daemons() {
    local i
    if live_pid "$DIR/run/slurmctld.pid" >/dev/null; then
        local jobs
        jobs=$(squeue -h -o %i 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            # shellcheck disable=SC2086
            scancel $jobs 2>/dev/null || true
        fi
        for i in $(seq 60); do
            [[ -z $(squeue -h -t running,completing -o %i 2>/dev/null || true) ]] && break
            sleep 0.5
        done
    fi
    # A running step (slurmstepd) keeps a socket in the spool dir; wait for the steps to exit.
    for i in $(seq 40); do
        [[ -z $(step_sockets) ]] && break
        sleep 0.5
    done
    stop_pids "$DIR/run/slurmd.pid" "$DIR/run/slurmctld.pid" "$@"
}

# Stop daemons by their pid files: SIGTERM to all at once, SIGKILL to any still alive after 10 s.
stop_pids() {
    local file pid i alive
    local -a pids=() names=()
    for file in "$@"; do
        if pid=$(live_pid "$file"); then
            kill "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$(basename "$file" .pid)")
        fi
        rm -f "$file"
    done
    for i in $(seq 100); do
        alive=0
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[i]}" 2>/dev/null; then
            say "${names[i]} (${pids[i]}) ignored SIGTERM for 10 s: SIGKILL"
            kill -9 "${pids[i]}" 2>/dev/null || true
        fi
        say "stopped ${names[i]} (${pids[i]})"
    done
}

# Remove the config files this script wrote (marker line), never anyone else's.
remove_config() {
    local f
    for f in "$CONF" "$GRES_CONF"; do
        if [[ -e $f ]] && head -n 1 "$f" | grep -qxF "$MARKER"; then
            rm -f "$f"
        fi
    done
}

cmd_stop() {
    need_root
    # munged only if this script started it (its pid file is in $DIR), never the system's.
    stop_slurm_daemons "$DIR/run/munged.pid"
    remove_config
    local left
    left=$(step_sockets)
    if [[ -n $left ]]; then
        say "warning: job steps may still be running (sockets: $left)" >&2
        return 1
    fi
}

cmd_status() {
    local name pid rc=0
    for name in munged slurmctld slurmd; do
        if pid=$(live_pid "$DIR/run/$name.pid"); then
            echo "$name: running (pid $pid)"
        elif [[ $name == munged ]] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
            echo "munged: running (not started by this script)"
        else
            echo "$name: stopped"
            rc=1
        fi
    done
    if ((rc == 0)); then
        sinfo -h -N -o 'node %N: %T, %c CPUs, %m MB, %G'
        squeue -a
    fi
    return $rc
}

case ${1:-} in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 start|stop|status" >&2
        exit 2
        ;;
esac
