#!/usr/bin/env bash
# The Debian package and its unit under a real systemd: systemd runs as PID 1 of new PID, mount,
# network, UTS and cgroup namespaces, the .deb is installed there with dpkg (its maintainer
# scripts create the user, enable and start s7rtd.service), and the script checks what the
# unit promises:
#   - active, so READY=1 arrived (Type=notify);
#   - the RT thread (only it) runs SCHED_FIFO at the configured priority on its CPU, memory
#     locked, /dev/cpu_dma_latency held through the udev-granted group;
#   - python-snap7 (a real S7 client) writes and reads on port 102;
#   - SIGSTOP of the daemon starves the watchdog, systemd kills and restarts it, it serves again;
#   - `systemctl stop` ends it cleanly within TimeoutStopSec;
#   - the journal holds the one start-up line naming every real-time measure, at priority info
#     and without a second timestamp;
#   - systemd-analyze security exposure <= 2.2; Limit*= checked statically (PID 1 here lacks
#     CAP_SYS_RESOURCE, so it caps them silently);
#   - dpkg -r stops the service and keeps config and state, dpkg -P deletes them.
# Nothing reaches the host: /usr, /etc and /var are overlays whose upper layers live under
# target/, /run, /tmp, /dev and the unit directories are private tmpfs, the unit path holds only
# stub targets, journald and s7rtd (no distro units, no generators), the network is private.
# Teardown kills the namespace's PID 1 (never a poweroff), on every exit path.
#
# Usage: scripts/test-systemd.sh [DEB]   (default: the newest target/debian/s7rt_*.deb)
# Needs root, util-linux unshare/nsenter and systemd; skips with the reason otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
STEP_TIMEOUT=30 # seconds any single wait may take

skip() {
    echo "test-systemd: skipped: $*"
    exit 0
}
[[ $(id -u) == 0 ]] || skip "needs root (namespaces, mounts, a cgroup of its own)"
for tool in unshare nsenter dpkg /lib/systemd/systemd /lib/systemd/systemd-journald; do
    command -v "$tool" >/dev/null || skip "$tool not found"
done

DEB=${1:-$(ls -t target/debian/s7rt_*.deb 2>/dev/null | head -1 || true)}
[[ -n $DEB && -f $DEB ]] || {
    echo "test-systemd: no package: run scripts/package.sh first" >&2
    exit 1
}
DEB=$(realpath "$DEB")

# A real S7 client: python-snap7 3.3.0 (pure Python), in the venv scripts/test.sh also uses.
PY=$REPO/target/venv/snap7-3/bin/python
if ! "$PY" -c 'import snap7' 2>/dev/null; then
    rm -rf "$REPO/target/venv/snap7-3"
    python3 -m venv "$REPO/target/venv/snap7-3"
    "$PY" -m pip install --quiet --disable-pip-version-check python-snap7==3.3.0 pytest
    echo "python-snap7==3.3.0 pytest" >"$REPO/target/venv/snap7-3/.requirements"
fi

WORK=$REPO/target/systemd-test
CG=""
NS_PID=""
UNSHARE_PID=""

teardown() {
    local rc=$?
    set +e
    if [[ -n $NS_PID ]] && kill -0 "$NS_PID" 2>/dev/null; then
        if ((rc != 0)); then
            echo "---- systemd (PID 1) log tail:"
            tail -n 30 "$WORK/systemd.log" 2>/dev/null
            echo "---- journal tail:"
            ns journalctl --no-pager -n 60 2>/dev/null
        fi
        kill -KILL "$NS_PID" # PID 1 of the namespace: the kernel kills all of it
    fi
    [[ -n $UNSHARE_PID ]] && wait "$UNSHARE_PID" 2>/dev/null
    if [[ -n $CG && -d $CG ]]; then
        for _ in $(seq 50); do
            find "$CG" -depth -type d -exec rmdir {} + 2>/dev/null
            [[ -d $CG ]] || break
            sleep 0.1
        done
        [[ -d $CG ]] && echo "test-systemd: warning: cgroup $CG left behind" >&2
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Runs a command inside the namespaces (mount, PID, network, UTS, cgroup) of systemd.
ns() { nsenter -t "$NS_PID" -m -p -n -u -C -- "$@"; }
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
pass() { echo "ok: $*"; }
# wait_for DESCRIPTION COMMAND...: retries for STEP_TIMEOUT seconds.
wait_for() {
    local what=$1
    shift
    local end=$((SECONDS + STEP_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < end)) || fail "timed out waiting for $what"
        sleep 0.2
    done
}

rm -rf "$WORK"
mkdir -p "$WORK"/{units,empty}
for d in usr etc var; do mkdir -p "$WORK/$d.upper" "$WORK/$d.work"; done

# The unit path: stub targets, journald, and (after dpkg) s7rtd.service. Nothing else exists
# for this systemd, so distro units (tmpfiles, udev, getty...) can never act on the host.
U=$WORK/units
stub() { printf '[Unit]\nDescription=%s (stub)\n%s\n' "$1" "${3:-}" >"$U/$2"; }
stub "System Initialization" sysinit.target $'Wants=systemd-journald.socket systemd-journald.service\nAfter=systemd-journald.socket systemd-journald.service'
stub "Basic System" basic.target $'Requires=sysinit.target\nAfter=sysinit.target'
stub "Multi-User System" multi-user.target $'Requires=basic.target\nAfter=basic.target'
stub "Sockets" sockets.target ""
stub "Shutdown" shutdown.target $'DefaultDependencies=no'
stub "Network is Online" network-online.target ""
stub "Network" network.target ""
printf '[Unit]\nDescription=System Slice (stub)\nDefaultDependencies=no\n' >"$U/system.slice"
ln -s multi-user.target "$U/default.target"
cat >"$U/systemd-journald.socket" <<'EOF'
[Unit]
Description=Journal Socket
DefaultDependencies=no
Before=sockets.target
[Socket]
ListenDatagram=/run/systemd/journal/socket
ListenStream=/run/systemd/journal/stdout
PassCredentials=yes
PassSecurity=yes
ReceiveBuffer=8M
Service=systemd-journald.service
SocketMode=0666
Timestamping=us
EOF
cat >"$U/systemd-journald.service" <<'EOF'
[Unit]
Description=Journal Service
DefaultDependencies=no
Requires=systemd-journald.socket
After=systemd-journald.socket
Before=sysinit.target
[Service]
Type=notify
Sockets=systemd-journald.socket
ExecStart=/lib/systemd/systemd-journald
Restart=always
RestartSec=0
StandardOutput=null
RuntimeDirectory=systemd/journal
RuntimeDirectoryPreserve=yes
FileDescriptorStoreMax=4224
EOF

# A cgroup of our own in the unified (v2) hierarchy: systemd gets it as its root through a
# cgroup namespace, and everything it creates is removed with it at teardown.
if [[ -f /sys/fs/cgroup/unified/cgroup.procs ]]; then
    CG=/sys/fs/cgroup/unified/s7rt-systemd-test-$$
elif [[ -f /sys/fs/cgroup/cgroup.procs && $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; then
    CG=/sys/fs/cgroup/s7rt-systemd-test-$$
else
    skip "no cgroup v2 hierarchy to give systemd"
fi
mkdir "$CG"

# PID 1 of the new namespaces: private mounts first, then exec systemd.
cat >"$WORK/init.sh" <<EOF
set -e
W=$WORK
mount --make-rprivate /
# Held open so the checkout can be bound back if a tmpfs below covers it (a checkout under
# /tmp, /var/tmp or /run): its binaries and this work dir must stay visible to systemd.
exec 9<$REPO
mount -t overlay overlay -o lowerdir=/usr,upperdir=\$W/usr.upper,workdir=\$W/usr.work /usr
mount -t overlay overlay -o lowerdir=/etc,upperdir=\$W/etc.upper,workdir=\$W/etc.work /etc
mount -t overlay overlay -o lowerdir=/var,upperdir=\$W/var.upper,workdir=\$W/var.work /var
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
if [ ! -d \$W/units ]; then
    mkdir -p $REPO
    # --no-canonicalize: mount would otherwise resolve the fd link to the covered path.
    mount --no-canonicalize --bind /proc/self/fd/9 $REPO
fi
exec 9<&-
# Only our units: the distro's unit and generator directories are hidden.
mount --bind \$W/units /usr/lib/systemd/system
mount -t tmpfs tmpfs /etc/systemd/system
mount --bind \$W/empty /usr/lib/systemd/system-generators
# A /dev of its own, prepared beside and moved over /dev: the host's devtmpfs is never written.
mkdir -p \$W/dev
mount -t tmpfs -o mode=755,nosuid tmpfs \$W/dev
for d in null zero full random urandom tty; do touch \$W/dev/\$d; mount --bind /dev/\$d \$W/dev/\$d; done
# A node of its own for the PM QoS device, so emulating the udev rule changes no host inode.
mknod -m 600 \$W/dev/cpu_dma_latency c 10 259
mkdir -p \$W/dev/pts \$W/dev/shm
mount -t devpts -o newinstance,ptmxmode=666 devpts \$W/dev/pts && ln -s pts/ptmx \$W/dev/ptmx
mount -t tmpfs tmpfs \$W/dev/shm
mount --move \$W/dev /dev
# Kernel tunables and sysfs read-only, cgroup2 of our own (the cgroup namespace's root).
mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys
mount --bind /sys /sys && mount -o remount,bind,ro /sys
mount -t cgroup2 cgroup2 /sys/fs/cgroup
exec env -i container=unshare SYSTEMD_GENERATOR_PATH=\$W/empty SYSTEMD_ENVIRONMENT_GENERATOR_PATH=\$W/empty \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /lib/systemd/systemd --system --unit=default.target --log-target=journal --show-status=no
EOF

echo "test-systemd: booting systemd in new namespaces (work dir $WORK, cgroup $CG)"
(
    echo "$BASHPID" >"$CG/cgroup.procs"
    exec unshare --pid --fork --mount --mount-proc --propagation private --net --uts --cgroup \
        -- bash "$WORK/init.sh"
) >"$WORK/systemd.log" 2>&1 &
UNSHARE_PID=$!
end=$((SECONDS + STEP_TIMEOUT))
until NS_PID=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" 2>/dev/null | awk '{print $1}') && [[ -n $NS_PID ]] &&
    [[ $(cat "/proc/$NS_PID/comm" 2>/dev/null) == systemd ]]; do
    ((SECONDS < end)) || { NS_PID=""; fail "systemd did not start: $(cat "$WORK/systemd.log")"; }
    sleep 0.1
done
wait_for "systemd's private bus socket" nsenter -t "$NS_PID" -m -- test -S /run/systemd/private
state=$(timeout "$STEP_TIMEOUT" nsenter -t "$NS_PID" -m -p -- systemctl is-system-running --wait 2>&1 || true)
[[ $state == running || $state == degraded ]] || fail "system state: $state"
pass "systemd $(ns systemctl --version | head -1 | awk '{print $2}') is PID 1 of the namespace (state $state, host pid $NS_PID)"
[[ -z $(ns systemctl list-units --all --no-legend --plain 'systemd-tmpfiles*' 'systemd-udev*' 'getty*' 2>/dev/null) ]] ||
    fail "distro units leaked into the namespace"

# --- the package, installed with its maintainer scripts -------------------------------------
# The host image carries Docker's policy-rc.d ("never start services"); a real box has none.
ns rm -f /usr/sbin/policy-rc.d
cp "$DEB" "$WORK/"
ns env DEBIAN_FRONTEND=noninteractive dpkg -i "$WORK/$(basename "$DEB")" >"$WORK/dpkg.log" 2>&1 || fail "dpkg -i: $(cat "$WORK/dpkg.log")"
pass "dpkg -i $(basename "$DEB")"
echo "package contents:"
ns sh -c 'dpkg -L s7rt | while read -r f; do [ -d "$f" ] || echo "  $f"; done'
ns dpkg-query -W -f='${Conffiles}\n' s7rt | grep -q '^ /etc/s7rtd/s7rtd.toml ' || fail "/etc/s7rtd/s7rtd.toml is not a conffile"
for f in /usr/bin/s7rtd /lib/systemd/system/s7rtd.service /usr/share/man/man8/s7rtd.8.gz \
    /usr/lib/sysusers.d/s7rt.conf /lib/udev/rules.d/60-s7rtd.rules \
    /usr/share/s7rt/personalities/s7-300.toml /usr/share/s7rt/personalities/s7-1500.toml \
    /usr/share/doc/s7rt/README.md /usr/share/doc/s7rt/docs/realtime.md /usr/share/doc/s7rt/copyright; do
    ns test -f "$f" || fail "package lacks $f"
done
ns zcat /usr/share/man/man8/s7rtd.8.gz | grep -qF 'metrics\-listen' || fail "man page is not generated from the CLI"
pass "package holds daemon, unit, conffile, personalities, man page, sysusers, udev rule, docs"
ns getent passwd s7rtd >/dev/null || fail "postinst did not create user s7rtd"
[[ $(ns systemctl is-enabled s7rtd) == enabled ]] || fail "postinst did not enable s7rtd"
wait_for "s7rtd active after install" bash -c "[[ \$(nsenter -t $NS_PID -m -p systemctl is-active s7rtd) == active ]]"
pass "postinst: user s7rtd created, unit enabled and started; active (READY=1 received)"

# --- udev's part, emulated: apply the packaged rule's GROUP and MODE to our own node ----------
rule=$(ns cat /lib/udev/rules.d/60-s7rtd.rules | grep '^KERNEL=="cpu_dma_latency"')
group=$(sed -n 's/.*GROUP="\([^"]*\)".*/\1/p' <<<"$rule")
mode=$(sed -n 's/.*MODE="\([^"]*\)".*/\1/p' <<<"$rule")
[[ $group == s7rtd && -n $mode ]] || fail "udev rule: $rule"
ns chgrp "$group" /dev/cpu_dma_latency
ns chmod "$mode" /dev/cpu_dma_latency
ns systemctl restart s7rtd
[[ $(ns systemctl is-active s7rtd) == active ]] || fail "restart"

# --- real-time placement of the running daemon ----------------------------------------------
conf_prio=$(ns sed -n 's/^priority *= *\([0-9]*\).*/\1/p' /etc/s7rtd/s7rtd.toml)
conf_cpu=$(ns sed -n 's/^cpu *= *\([0-9]*\).*/\1/p' /etc/s7rtd/s7rtd.toml)
pid=$(ns systemctl show -p MainPID --value s7rtd)
ns bash -s "$pid" "$conf_prio" "$conf_cpu" <<'EOF' || fail "real-time placement"
pid=$1 prio=$2 cpu=$3 rt=0
[[ $(stat -c %U /proc/$pid) == s7rtd ]] || { echo "runs as $(stat -c %U /proc/$pid), not s7rtd"; exit 1; }
for t in /proc/$pid/task/*; do
    tid=${t##*/} name=$(cat $t/comm) pol=$(chrt -p $tid)
    echo "  $name: $(echo $pol | tr '\n' ' '); CPUs $(taskset -cp $tid | sed 's/.*: //')"
    if [[ $name == s7rt-rt ]]; then
        rt=1
        grep -q "policy: SCHED_FIFO" <<<"$pol" && grep -q "priority: $prio" <<<"$pol" || exit 1
        [[ $(taskset -cp $tid | sed 's/.*: //') == "$cpu" ]] || exit 1
    else
        grep -q SCHED_OTHER <<<"$pol" || { echo "  $name is not SCHED_OTHER"; exit 1; }
    fi
done
lck=$(awk '/^VmLck/ {print $2}' /proc/$pid/status)
echo "  VmLck ${lck} kB"
((rt == 1 && lck > 0))
EOF
pass "RT thread SCHED_FIFO $conf_prio on CPU $conf_cpu, other threads SCHED_OTHER, memory locked"

# --- journald: one start-up line, priorities, no second timestamp ---------------------------
line="real-time measures: applied: mlockall, pinned to CPU $conf_cpu, SCHED_FIFO $conf_prio, /dev/cpu_dma_latency held at 0; missing: none; not requested: none"
wait_for "the start-up line in the journal" bash -c \
    "nsenter -t $NS_PID -m -p journalctl -u s7rtd -p info..info -o cat --no-pager | grep -qxF '$line'"
echo "  journal: $line"
ns journalctl -u s7rtd -p warning..warning -o cat --no-pager | grep -q "^real-time measure not applied: open /dev/cpu_dma_latency" ||
    fail "the first start (before the udev group) did not warn at priority warning"
if ns journalctl -u s7rtd -o cat --no-pager | grep -E '^(<[0-9]>|\[20)'; then fail "prefix or second timestamp in the journal"; fi
pass "journal: start-up line at priority info naming every measure; warnings at warning; no second timestamp"

# --- a real S7 client ------------------------------------------------------------------------
s7_roundtrip() {
    nsenter -t "$NS_PID" -n -- "$PY" - "$1" <<'EOF'
import sys, snap7
c = snap7.client.Client()
c.connect("127.0.0.1", 0, 1, 102)
data = bytearray(int(sys.argv[1]).to_bytes(4, "big"))
c.db_write(1, 0, data)
got = c.db_read(1, 0, 4)
assert got == data, (got, data)
print("  python-snap7: wrote and read back DB1.DBD0 =", int.from_bytes(got, "big"), "on port 102")
c.disconnect()
EOF
}
s7_roundtrip 11223344 || fail "S7 client"
metrics=$(nsenter -t "$NS_PID" -n -- "$PY" -c \
    'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9102/metrics", timeout=5).read().decode())') ||
    fail "metrics endpoint"
grep -q '^s7rtd_rt_measure_applied{measure="sched_fifo"} 1' <<<"$metrics" || fail "metrics: sched_fifo not applied"
pass "python-snap7 writes and reads on port 102; metrics on 127.0.0.1:9102 report the measures"

# --- watchdog: a stopped daemon is killed and restarted -------------------------------------
restarts=$(ns systemctl show -p NRestarts --value s7rtd)
ns kill -STOP "$pid"
t0=$SECONDS
STEP_TIMEOUT=40 wait_for "the watchdog restart" bash -c \
    "[[ \$(nsenter -t $NS_PID -m -p systemctl show -p NRestarts --value s7rtd) -gt $restarts ]] && [[ \$(nsenter -t $NS_PID -m -p systemctl is-active s7rtd) == active ]]"
newpid=$(ns systemctl show -p MainPID --value s7rtd)
[[ $newpid != "$pid" ]] || fail "same main PID after restart"
ns journalctl -u s7rtd -o cat --no-pager | grep -q "Watchdog timeout" || fail "no watchdog timeout in the journal"
echo "  SIGSTOP pid $pid -> watchdog timeout -> restarted as pid $newpid after $((SECONDS - t0)) s"
s7_roundtrip 55667788 || fail "S7 client after the restart"
pass "watchdog fired on the stopped loop, systemd restarted s7rtd, it serves again"

# --- clean stop within TimeoutStopSec -------------------------------------------------------
limit=$(ns systemctl show -p TimeoutStopUSec --value s7rtd)
t0=$(date +%s%N)
ns systemctl stop s7rtd
ms=$((($(date +%s%N) - t0) / 1000000))
result=$(ns systemctl show -p Result --value s7rtd)
status=$(ns systemctl show -p ExecMainStatus --value s7rtd)
[[ $result == success && $status == 0 ]] || fail "stop: Result=$result ExecMainStatus=$status"
((ms < 5000)) || fail "stop took $ms ms (TimeoutStopSec=$limit)"
# journald takes the stream's last lines asynchronously: wait for them.
wait_for "the summary at stop in the journal" bash -c \
    "nsenter -t $NS_PID -m -p journalctl -u s7rtd -o cat --no-pager | grep -q '^served .* replies on'"
pass "systemctl stop: exit 0, Result=success in $ms ms (TimeoutStopSec=$limit)"

# --- security exposure and the Limit*= lines ------------------------------------------------
sec=$(ns systemd-analyze security --no-pager s7rtd.service 2>&1 | sed -n 's/.*Overall exposure level for s7rtd.service: \([0-9.]*\).*/\1/p')
[[ -n $sec ]] || fail "systemd-analyze security gave no figure"
awk -v s="$sec" 'BEGIN { exit !(s <= 2.2) }' || fail "security exposure $sec > 2.2"
pass "systemd-analyze security: exposure $sec (<= 2.2)"
unit=$(ns cat /lib/systemd/system/s7rtd.service)
rtprio=$(sed -n 's/^LimitRTPRIO=//p' <<<"$unit")
[[ -n $rtprio ]] && ((rtprio >= conf_prio)) || fail "LimitRTPRIO=$rtprio below the priority $conf_prio"
grep -qx 'LimitMEMLOCK=infinity' <<<"$unit" || fail "LimitMEMLOCK is not infinity"
grep -qE '^LimitRTTIME=[0-9]+m?s:[0-9]+m?s$' <<<"$unit" || fail "LimitRTTIME soft:hard missing"
pass "Limit*= (static): LimitRTPRIO=$rtprio >= $conf_prio, LimitMEMLOCK=infinity, $(grep ^LimitRTTIME <<<"$unit")"

# --- remove keeps config and state, purge deletes them --------------------------------------
ns systemctl start s7rtd
ns env DEBIAN_FRONTEND=noninteractive dpkg -r s7rt >>"$WORK/dpkg.log" 2>&1 || fail "dpkg -r"
[[ $(ns systemctl is-active s7rtd || true) != active ]] || fail "dpkg -r left s7rtd running"
ns test -f /etc/s7rtd/s7rtd.toml || fail "dpkg -r removed the configuration"
ns test -d /var/lib/s7rtd || fail "dpkg -r removed the state directory"
ns test ! -e /usr/bin/s7rtd || fail "dpkg -r left the binary"
ns env DEBIAN_FRONTEND=noninteractive dpkg -P s7rt >>"$WORK/dpkg.log" 2>&1 || fail "dpkg -P"
ns test ! -e /etc/s7rtd || fail "purge left /etc/s7rtd"
ns test ! -e /var/lib/s7rtd || fail "purge left /var/lib/s7rtd"
pass "dpkg -r stops s7rtd and keeps /etc/s7rtd and /var/lib/s7rtd; dpkg -P deletes them"
echo "test-systemd: all checks passed"
