#!/usr/bin/env bash
# s7rtd on a real PREEMPT_RT kernel: boots Debian's linux-image-rt-amd64 in a qemu guest with a
# busybox initramfs carrying s7rtd and s7load, and checks from the guest's serial console:
#   - the kernel is PREEMPT_RT (/sys/kernel/realtime = 1);
#   - s7rtd starts with its default configuration on a loopback port and logs that it chose
#     the epoll cycle timer because the kernel is PREEMPT_RT; its RT thread runs
#     SCHED_FIFO at the configured priority, pinned to the configured CPU, memory locked
#     (all read from /proc in the guest);
#   - s7load gets thousands of reads and writes answered with 0 errors;
#   - s7rtd stops on SIGTERM with exit status 0 and its summary line;
#   - the cycle timer's expiry context, from tracefs (timer:hrtimer_start and
#     timer:hrtimer_expire_entry, matched on the RT thread's hrtimer pointers): the default
#     cycle (epoll_pwait2 timeout) expires in hard-IRQ context; cycle_timer = "timerfd"
#     expires in the ktimers/N thread, and s7rtd warns at start that ktimers/N runs below it.
# What it cannot show: latency. Under TCG the guest's timing is meaningless (wake-ups of
# milliseconds); scheduling classes, priorities, threaded IRQs and trace events are real.
#
# Installs what it needs when root (apt: qemu-system-x86, busybox-static; the kernel package is
# downloaded with `apt-get download` and only unpacked under target/, never installed), or
# uses S7RT_RTK_KERNEL=/path/to/vmlinuz. Nothing on the host's boot setup changes.
#
# Usage: scripts/test-rt-kernel.sh   (S7RTD, S7LOAD: binaries to test; default target/debug)
# Knobs: S7RT_RTK_TIMEOUT=900 (seconds for the whole guest run; it takes one to two minutes
# on an idle 2-core machine and up to ten when the host is busy: the guest is emulated),
# S7RT_RTK_REQUESTS=2000 (requests s7load must get answered with the default configuration;
# a quarter of it with the timerfd cycle), S7RT_RTK_ACCEL=tcg|kvm
# (default: kvm when a usable one exists, else tcg). The guest has 2 vCPUs, so the RT thread's
# pinning shows against the main thread's CPU set; under TCG one host thread runs both.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
WORK=$REPO/target/rt-kernel
TIMEOUT=${S7RT_RTK_TIMEOUT:-900}
REQUESTS=${S7RT_RTK_REQUESTS:-2000}
CPUS=2
S7RTD=${S7RTD:-$REPO/target/debug/s7rtd}
S7LOAD=${S7LOAD:-$REPO/target/debug/s7load}
mkdir -p "$WORK"

die() {
    echo "FAIL: $*"
    exit 1
}

# ---- what the host needs ----
apt_install() {
    [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null ||
        die "missing $*; install it (Debian: sudo apt-get install -y $*)"
    echo "installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "$@" >/dev/null; } ||
        die "apt-get install $* failed"
}

command -v qemu-system-x86_64 >/dev/null || apt_install qemu-system-x86
# The guest's userland: a statically linked busybox (it also builds the initramfs: cpio).
BUSYBOX=$(command -v busybox || true)
if [[ -z $BUSYBOX ]] || ldd "$BUSYBOX" >/dev/null 2>&1; then
    apt_install busybox-static
    BUSYBOX=$(command -v busybox)
fi
ldd "$BUSYBOX" >/dev/null 2>&1 && die "$BUSYBOX is not statically linked (install busybox-static)"

KERNEL=${S7RT_RTK_KERNEL:-}
if [[ -z $KERNEL ]]; then
    cached=("$WORK"/kernel/boot/vmlinuz-*-rt-*)
    if [[ -f ${cached[0]} ]]; then KERNEL=${cached[0]}; fi
fi
if [[ -z $KERNEL ]]; then
    command -v apt-get >/dev/null || die "no PREEMPT_RT kernel: set S7RT_RTK_KERNEL=/path/to/vmlinuz"
    pkg=$(apt-cache depends linux-image-rt-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ && !n++ { print $2 }')
    if [[ -z $pkg ]]; then
        [[ $(id -u) == 0 ]] && apt-get update -q >/dev/null
        pkg=$(apt-cache depends linux-image-rt-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ && !n++ { print $2 }')
    fi
    [[ -n $pkg ]] || die "apt knows no linux-image-rt-amd64 (Debian main, amd64)"
    echo "downloading $pkg (unpacked under $WORK/kernel, not installed)"
    rm -rf "$WORK/dl" && mkdir -p "$WORK/dl"
    (cd "$WORK/dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null) ||
        die "apt-get download $pkg failed"
    mkdir -p "$WORK/kernel"
    dpkg-deb --fsys-tarfile "$WORK"/dl/*.deb | tar -x -C "$WORK/kernel" --wildcards './boot/vmlinuz-*' ||
        die "cannot unpack $pkg"
    rm -rf "$WORK/dl"
    cached=("$WORK"/kernel/boot/vmlinuz-*-rt-*)
    KERNEL=${cached[0]}
fi
[[ -f $KERNEL ]] || die "no kernel at $KERNEL"

[[ -x $S7RTD ]] || die "no s7rtd at $S7RTD (cargo build --workspace --bins)"
[[ -x $S7LOAD ]] || die "no s7load at $S7LOAD (cargo build --workspace --bins)"

# ---- the initramfs: busybox, s7rtd, s7load and the shared libraries they need ----
ROOT=$WORK/initramfs
rm -rf "$ROOT"
mkdir -p "$ROOT/bin"
cp "$BUSYBOX" "$ROOT/bin/busybox"
for b in "$S7RTD" "$S7LOAD"; do
    # Debug info is most of a debug binary; the guest does not need it.
    strip --strip-debug -o "$ROOT/bin/$(basename "$b")" "$b" 2>/dev/null || cp "$b" "$ROOT/bin/"
    for lib in $(ldd "$b" | grep -o '/[^ ]*'); do
        mkdir -p "$ROOT$(dirname "$lib")"
        cp -L "$lib" "$ROOT$lib"
    done
done
cp scripts/rt-kernel-guest.sh "$ROOT/init"
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) | gzip -1 >"$WORK/initramfs.cpio.gz"

# ---- boot it ----
# tsc=reliable: on a busy host the emulated TSC looks unstable to the kernel's clocksource
# watchdog, which then switches to the HPET, and every clock read becomes an emulated MMIO
# access (runs several times slower).
ACCEL=${S7RT_RTK_ACCEL:-}
if [[ -z $ACCEL ]]; then
    # A usable KVM is kvm_intel or kvm_amd; a nested PVM hypervisor (kvm_pvm) cannot boot a
    # stock kernel.
    if [[ -r /dev/kvm && -w /dev/kvm ]] && [[ -d /sys/module/kvm_intel || -d /sys/module/kvm_amd ]]; then
        ACCEL=kvm
    else
        ACCEL=tcg
    fi
fi
case $ACCEL in
kvm) accel=(-accel kvm -cpu host) ;;
# One host thread runs all vCPUs: the guest costs one host core however many it has.
tcg) accel=(-accel tcg,thread=${S7RT_RTK_TCG_THREAD:-single}) ;;
*) die "S7RT_RTK_ACCEL must be kvm or tcg" ;;
esac
LOG=$WORK/console.log
echo "booting $(basename "$KERNEL") with $ACCEL, $CPUS vCPUs (console: $LOG, timeout ${TIMEOUT}s)"
t0=$SECONDS
rc=0
# --foreground keeps qemu in this script's process group, so a timeout around the script
# (scripts/test.sh) stops the guest too.
timeout --foreground --kill-after=10 "$TIMEOUT" qemu-system-x86_64 "${accel[@]}" -smp "$CPUS" -m 512M \
    -nodefaults -no-user-config -display none -serial stdio -no-reboot \
    -kernel "$KERNEL" -initrd "$WORK/initramfs.cpio.gz" \
    -append "console=ttyS0 quiet panic=-1 no_hash_pointers tsc=reliable LOAD_REQUESTS=$REQUESTS" \
    </dev/null >"$LOG" 2>&1 || rc=$?
tr -d '\r' <"$LOG" >"$LOG.txt"
echo "guest ran $((SECONDS - t0)) s (qemu exit $rc)"

# ---- judge what the guest reported ----
FAILS=0
pass() { echo "PASS: $*"; }
fail() {
    echo "FAIL: $*"
    FAILS=$((FAILS + 1))
}
# fact RUN WHAT: the value of the guest's "@@ RUN WHAT value" line (the first).
# (No reader here stops early: under pipefail a writer killed by SIGPIPE fails the pipeline.)
fact() { sed -n "s/^@@ $1 $2 //p" "$LOG.txt" | awk 'NR == 1'; }
# facts RUN WHAT: all of them.
facts() { sed -n "s/^@@ $1 $2 //p" "$LOG.txt"; }

[[ -n $(fact all done) ]] || fail "the guest did not finish (qemu exit $rc; last lines below)"
kernel=$(fact all kernel)
if [[ $kernel == *PREEMPT_RT* ]]; then pass "kernel: $kernel"; else fail "kernel is not PREEMPT_RT: '$kernel'"; fi
rt=$(fact all realtime)
if [[ $rt == 1 ]]; then pass "/sys/kernel/realtime = 1"; else fail "/sys/kernel/realtime = '$rt'"; fi
guest_cpus=$(fact all cpus)
# The default [rt] cpu: 1, or 0 on a single CPU (config.rs).
cpu=$((guest_cpus > 1 ? 1 : 0))
prio=99

# trace_classes RUN: the expiries of the RT thread's own timers, counted by context and
# function. Columns of a trace line: task-pid [cpu] flags timestamp: event: fields. The flags
# (irqs-off, need-resched, ..., preempt depth) hold h (hard IRQ), H (hard IRQ inside a
# softirq) or s (softirq); an expiry in hard-IRQ context runs on whatever task it interrupted.
trace_classes() {
    facts "$1" trace | awk '
        / hrtimer_expire_entry: / {
            match($0, /\[[0-9]+\] [^ ]+/)
            split(substr($0, RSTART, RLENGTH), a, " ")
            task = substr($0, 1, RSTART - 1)
            sub(/^ +/, "", task); sub(/-[0-9]+ +$/, "", task)
            fn = $0; sub(/.* function=/, "", fn); sub(/ .*/, "", fn)
            if (a[2] ~ /[hH]/) ctx = "in hard-IRQ context"
            else if (a[2] ~ /s/) ctx = "in softirq context of " task
            else ctx = "in task context of " task
            n[fn " " ctx]++
        }
        END { for (k in n) print n[k], k }' | sort -rn
}

# start_modes RUN: the modes the RT thread armed its timers with, counted by function.
start_modes() {
    facts "$1" trace | awk '
        / hrtimer_start: / {
            fn = $0; sub(/.* function=/, "", fn); sub(/ .*/, "", fn)
            m = $0; sub(/.* mode=/, "", m); sub(/ .*/, "", m)
            n[fn " mode=" m]++
        }
        END { for (k in n) print n[k], k }' | sort -rn
}

check_run() {
    local run=$1 expect=$2 requests=$3
    local started
    started=$(fact "$run" started)
    if [[ -z $started ]]; then
        fail "$run: s7rtd did not start: $(fact "$run" start-failed)"
        return
    fi
    pass "$run: $started"
    local sched cpus main_cpus mem
    sched=$(fact "$run" rt-sched)
    if [[ $sched == "1 $prio" ]]; then
        pass "$run: RT thread (tid $(fact "$run" rt-thread)) SCHED_FIFO $prio (policy, priority from /proc: $sched)"
    else fail "$run: RT thread policy/priority '$sched', want '1 $prio' (SCHED_FIFO $prio)"; fi
    cpus=$(fact "$run" rt-cpus)
    main_cpus=$(fact "$run" main-cpus)
    # Pinned means the RT thread alone: the main thread keeps every CPU.
    if [[ $cpus == "$cpu" && $main_cpus != "$cpu" ]]; then
        pass "$run: RT thread pinned to CPU $cpus (main thread: CPUs $main_cpus)"
    else fail "$run: RT thread may run on CPUs '$cpus', the main thread on '$main_cpus'; want '$cpu' and more"; fi
    mem=$(fact "$run" mem)
    local lck size
    lck=$(sed -n 's/.*VmLck: \([0-9]*\) kB.*/\1/p' <<<"$mem")
    size=$(sed -n 's/.*VmSize: \([0-9]*\) kB.*/\1/p' <<<"$mem")
    # mlockall(MCL_CURRENT | MCL_FUTURE) locks every mapping but guard pages.
    if [[ -n $lck && -n $size ]] && ((lck > 0 && lck * 100 >= size * 95)); then
        pass "$run: memory locked ($mem)"
    else fail "$run: memory not locked ($mem)"; fi
    # s7load rounds (each a new connection, half reads, half writes of 4 bytes) until
    # $requests were answered; every round must end with exit 0 and 0 errors.
    local total rounds bad
    total=$(fact "$run" load-total)
    rounds=$(facts "$run" load | wc -l)
    bad=$(facts "$run" load | grep -v '^exit 0: .*; 0 errors' || true)
    if [[ -z $bad && ${total:-0} -ge $requests ]]; then
        pass "$run: s7load: $total reads and writes answered, 0 errors ($rounds rounds; last: $(facts "$run" load | tail -n1))"
    else fail "$run: s7load: ${total:-0} requests answered in $rounds rounds; failed: ${bad:-none}"; fi
    local served
    served=$(facts "$run" log | awk '/served .* replies/ && !n++')
    if [[ $(fact "$run" exit) == 0 && -n $served ]]; then
        pass "$run: stopped on SIGTERM (exit 0): ${served#*] }"
    else fail "$run: exit '$(fact "$run" exit)' after SIGTERM, summary '$served'"; fi
    # The cycle timer s7rtd chose, and why: the default ("auto") must take epoll on PREEMPT_RT.
    local chose want_chose
    chose=$(facts "$run" log | awk '/cycle timer: / && !n++')
    case $expect in
    hardirq) want_chose="cycle timer: epoll (auto: PREEMPT_RT kernel" ;;
    ktimers) want_chose="cycle timer: timerfd (configured: PREEMPT_RT kernel" ;;
    esac
    if [[ $chose == *"$want_chose"* ]]; then pass "$run: ${chose#*] }"; else fail "$run: want a log line '$want_chose…', got '$chose'"; fi
    local warning
    warning=$(facts "$run" log | awk '/cycle_timer = "timerfd" on PREEMPT_RT/ && !n++')
    if [[ $expect == ktimers ]]; then
        if [[ -n $warning ]]; then pass "$run: warned at start: ${warning#*] }"; else fail "$run: no warning that ktimers/$cpu runs below the loop"; fi
    elif [[ -n $warning ]]; then
        fail "$run: warned about ktimers without a timerfd cycle: $warning"
    fi

    # The expiry context.
    local classes n_all n_want want
    classes=$(trace_classes "$run")
    n_all=$(awk '{ s += $1 } END { print s + 0 }' <<<"$classes")
    local modes want_mode n_mode n_starts
    case $expect in
    hardirq)
        want="hrtimer_wakeup in hard-IRQ context"
        want_mode="hrtimer_wakeup mode=ABS|HARD"
        ;;
    ktimers)
        want="timerfd_tmrproc in softirq context of ktimers/$cpu"
        want_mode="timerfd_tmrproc mode=ABS"
        ;;
    esac
    modes=$(start_modes "$run")
    n_starts=$(awk '{ s += $1 } END { print s + 0 }' <<<"$modes")
    n_mode=$(awk -v w="$want_mode" '{ c = $1; $1 = ""; sub(/^ /, ""); if ($0 == w) print c }' <<<"$modes")
    if ((n_starts >= 10)) && [[ ${n_mode:-0} == "$n_starts" ]]; then
        pass "$run: the RT thread armed its cycle timer $n_starts times, all $want_mode"
    else fail "$run: want every timer the RT thread armed to be $want_mode, got: $(tr '\n' ';' <<<"$modes")"; fi
    n_want=$(awk -v w="$want" '{ c = $1; $1 = ""; sub(/^ /, ""); if ($0 == w) print c }' <<<"$classes")
    echo "  $run: their expiries: $(tr '\n' ';' <<<"$classes")"
    facts "$run" trace | awk '/hrtimer_(start|expire_entry):/ && n++ < 4 { print "    " $0 }'
    if ((n_all >= 10)) && [[ ${n_want:-0} == "$n_all" ]]; then
        pass "$run: all $n_all traced expiries of the loop's timers ran $want"
    else fail "$run: want every expiry $want, got: $(tr '\n' ';' <<<"$classes") (at least 10 needed)"; fi
}

check_run default hardirq "$REQUESTS"
check_run timerfd ktimers $((REQUESTS / 4))

if ((FAILS > 0)); then
    echo "---- guest console (last 40 lines without trace lines):"
    grep -v ' trace ' "$LOG.txt" | tail -n 40
    echo "rt-kernel: $FAILS checks FAILED"
    exit 1
fi
echo "rt-kernel: all checks passed"
