#!/bin/busybox sh
# PID 1 of the PREEMPT_RT guest that scripts/test-rt-kernel.sh boots. It collects facts and
# prints them on the serial console as "@@ <run> <what> <value>" lines; the host script
# judges them (this script decides nothing, so a broken guest cannot report a pass).
#
# For each run (the default configuration, then cycle_timer = "timerfd") it starts s7rtd on a
# loopback port with its real-time measures on, reads the RT thread's scheduling from /proc,
# traces the RT thread's hrtimers while the loop idles, drives it with s7load, stops it with
# SIGTERM and prints its log.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t devtmpfs dev /dev
# The initramfs has no /dev/console of its own (building it needs no root that way).
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmp /tmp
mount -t tracefs tracefs /sys/kernel/tracing
T=/sys/kernel/tracing
PORT=1102
IDLE_TRACE_S=0.3
# From the kernel command line (the host script sets them).
LOAD_REQUESTS=${LOAD_REQUESTS:-2000}
LOAD_ROUNDS=${LOAD_ROUNDS:-20}

say() { echo "@@ $*"; }

# sched TID: "<policy> <rt_priority>" from /proc/TID/stat (fields 41 and 40, counted after the
# command name, which may hold spaces).
sched() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $39, $38}'
}

say all kernel "$(uname -a)"
say all realtime "$(cat /sys/kernel/realtime 2>/dev/null || echo missing)"
say all cpus "$(nproc)"
say all clocksource "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
# The default [rt] cpu (config.rs): 1, or 0 on a single CPU.
RT_CPU=$(($(nproc) > 1 ? 1 : 0))
for c in /proc/[0-9]*/comm; do
    case $(cat "$c" 2>/dev/null) in
    ktimers/* | irq/*)
        p=${c%/comm}
        say all kthread "$(cat "$c") $(sched "${p#/proc/}")"
        ;;
    esac
done
ip link set lo up

# run NAME REQUESTS [S7RTD ARGS...]
run() {
    name=$1
    want=$2
    shift 2
    echo 0 >$T/tracing_on
    echo >$T/trace
    echo 4096 >$T/buffer_size_kb
    /bin/s7rtd --listen 127.0.0.1:$PORT "$@" >/tmp/$name.out 2>/tmp/$name.log &
    pid=$!
    i=0
    until grep -q "listening on" /tmp/$name.out 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
            say $name start-failed "$(cat /tmp/$name.out /tmp/$name.log | tr '\n' '|')"
            return
        fi
        sleep 0.1
    done
    say $name started "$(cat /tmp/$name.out)"
    tid=
    for t in /proc/$pid/task/*; do
        [ "$(cat $t/comm)" = s7rt-rt ] && tid=${t##*/}
    done
    say $name rt-thread "$tid"
    say $name rt-sched "$(sched $tid)"
    say $name rt-cpus "$(awk '/^Cpus_allowed_list/ {print $2}' /proc/$pid/task/$tid/status)"
    say $name main-cpus "$(awk '/^Cpus_allowed_list/ {print $2}' /proc/$pid/status)"
    say $name mem "$(grep -E '^Vm(Lck|RSS|Size)' /proc/$pid/status | tr -s ' \t\n' ' ')"

    # The RT thread's own timers: hrtimer_start filtered on its pid; every expiry, to be
    # matched on the hrtimer pointer (an expiry runs in whatever context the kernel picks).
    echo "common_pid == $tid" >$T/events/timer/hrtimer_start/filter
    echo 1 >$T/events/timer/hrtimer_start/enable
    echo 1 >$T/events/timer/hrtimer_expire_entry/enable
    echo 1 >$T/tracing_on
    sleep $IDLE_TRACE_S
    echo 0 >$T/tracing_on
    echo 0 >$T/events/timer/hrtimer_start/enable
    echo 0 >$T/events/timer/hrtimer_expire_entry/enable
    echo 0 >$T/events/timer/hrtimer_start/filter

    # Rounds of s7load until $want requests were answered: how many fit in a second depends
    # on how busy the host is (TCG). On the loop's CPU: a request then never waits for the
    # other vCPU (under TCG the vCPUs take turns on one host thread).
    total=0
    rounds=0
    while [ $total -lt $want ] && [ $rounds -lt $LOAD_ROUNDS ]; do
        rounds=$((rounds + 1))
        /bin/s7load 127.0.0.1:$PORT --pin $RT_CPU --secs 8 --warmup 20 --mix read:4,write:4 >/tmp/$name.load 2>&1
        rc=$?
        say $name load "exit $rc: $(grep -E 'requests in|error' /tmp/$name.load | tr '\n' ' ')"
        [ $rc = 0 ] || break
        n=$(sed -n 's/^\([0-9]*\) requests in.*/\1/p' /tmp/$name.load)
        total=$((total + ${n:-0}))
    done
    say $name load-total "$total"
    # CPU time (clock ticks): the RT thread's user and system time, and the guest's.
    say $name cputime "rt-thread $(sed 's/^.*) //' /proc/$pid/task/$tid/stat | awk '{print $12, $13}'); guest $(head -n1 /proc/stat)"
    say $name rt-sched-after-load "$(sched $tid)"

    kill -TERM $pid
    i=0
    while kill -0 $pid 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 $pid 2>/dev/null; then
        say $name exit "still running after SIGTERM"
        kill -KILL $pid
    fi
    wait $pid
    say $name exit $?
    sed "s/^/@@ $name log /" /tmp/$name.log
    # Trace lines of the timers the RT thread armed itself (in task context: an interrupt
    # that hits the thread arms its own timers under the thread's pid, with the h or s flag),
    # and the expiries of the same hrtimer pointers.
    awk -v n="$name" '
        / hrtimer_start: / {
            match($0, /\] [^ ]+ /)
            if (substr($0, RSTART + 2, RLENGTH - 3) ~ /[hHs]/) next
            for (i = 1; i <= NF; i++) if ($i ~ /^hrtimer=/) mine[$i] = 1
            print "@@ " n " trace " $0
            next
        }
        / hrtimer_expire_entry: / { for (i = 1; i <= NF; i++) if (($i ~ /^hrtimer=/) && ($i in mine)) print "@@ " n " trace " $0 }
    ' $T/trace
}

echo '[rt]
cycle_timer = "timerfd"' >/tmp/timerfd.toml

# The timerfd run is there for its trace and warning; it serves a quarter of the load.
run default $LOAD_REQUESTS
run timerfd $((LOAD_REQUESTS / 4)) --config /tmp/timerfd.toml
say all done "uptime $(cut -d" " -f1 /proc/uptime) s"
poweroff -f
