//! The raw system calls of the RT thread: epoll, non-blocking sockets, scheduling.
//!
//! Set-up calls go through [`syscall!`], which turns `-1` into `io::Error` from errno; the
//! request path's calls through [`raw_syscall`], which returns `-errno`. This is the only
//! module allowed `unsafe`; each block says why it is sound.
#![allow(unsafe_code)]

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Calls a libc function and maps a `-1` result to the thread's errno.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the caller passes arguments that satisfy the libc function's contract;
        // each use below documents why.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 { Err(io::Error::last_os_error()) } else { Ok(res) }
    }};
}

/// A system call of the request path (`read`, `recvmsg`, `sendto`, `epoll_pwait`) made
/// directly: `-errno` on failure, as the kernel returns it. On x86-64 the `syscall`
/// instruction itself, which spares each call glibc's `syscall()` wrapper (its argument
/// shuffle and the errno store and reload); elsewhere through that wrapper. Either way no
/// cancellation-point bookkeeping, which the RT thread (never cancelled) does not need.
///
/// # Safety
/// The arguments must satisfy system call `nr`'s contract (pointers valid for what it
/// reads and writes).
#[inline(always)]
unsafe fn raw_syscall(nr: libc::c_long, a: [usize; 6]) -> isize {
    #[cfg(target_arch = "x86_64")]
    {
        let ret: isize;
        // SAFETY: the caller upholds the call's contract; the x86-64 syscall ABI takes the
        // number in rax and arguments in rdi, rsi, rdx, r10, r8, r9, returns in rax and
        // clobbers rcx and r11; no stack is used.
        unsafe {
            std::arch::asm!(
                "syscall",
                inlateout("rax") nr as isize => ret,
                in("rdi") a[0],
                in("rsi") a[1],
                in("rdx") a[2],
                in("r10") a[3],
                in("r8") a[4],
                in("r9") a[5],
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        // SAFETY: as above, through glibc's wrapper, which reports failure in errno.
        let r = unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) };
        if r == -1 {
            -(io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO) as isize)
        } else {
            r as isize
        }
    }
}

/// [`raw_syscall`]'s result as a count, `None` for `EAGAIN` and `EINTR` (try again later).
#[inline(always)]
fn count_or_again(r: isize) -> io::Result<Option<usize>> {
    if r >= 0 {
        return Ok(Some(r as usize));
    }
    match -r as i32 {
        libc::EAGAIN | libc::EINTR => Ok(None),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Creates an epoll instance (close-on-exec).
pub(crate) fn epoll_create() -> io::Result<OwnedFd> {
    let fd = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
    // SAFETY: epoll_create1 returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds, modifies or removes `fd` in the epoll set with `events` and `token`.
pub(crate) fn epoll_ctl(
    epfd: &OwnedFd,
    op: i32,
    fd: RawFd,
    events: u32,
    token: u64,
) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: `ev` lives across the call; the kernel copies it.
    syscall!(epoll_ctl(epfd.as_raw_fd(), op, fd, &mut ev)).map(drop)
}

/// Waits for events with a nanosecond timeout (`epoll_pwait2`), falling back to
/// `epoll_wait` with the timeout rounded up to whole milliseconds on kernels before 5.11;
/// `None` waits without a timeout.
pub(crate) fn epoll_wait(
    epfd: &OwnedFd,
    events: &mut [libc::epoll_event],
    timeout: Option<Duration>,
) -> io::Result<usize> {
    let Some(timeout) = timeout else {
        return epoll_wait_forever(epfd, events);
    };
    if PWAIT2_MISSING.load(Ordering::Relaxed) {
        return epoll_wait_ms(epfd, events, timeout);
    }
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    let max = events.len().min(i32::MAX as usize) as i32;
    let no_mask: *const libc::sigset_t = std::ptr::null();
    // SAFETY: `events` is a valid writable array of `max` entries; `ts` outlives the call;
    // a null sigmask means "do not change the mask" (its size argument is then unused).
    let r = unsafe {
        raw_syscall(
            libc::SYS_epoll_pwait2,
            [
                epfd.as_raw_fd() as usize,
                events.as_mut_ptr() as usize,
                max as usize,
                &ts as *const libc::timespec as usize,
                no_mask as usize,
                0,
            ],
        )
    };
    if r >= 0 {
        return Ok(r as usize);
    }
    match -r as i32 {
        libc::EINTR => Ok(0),
        libc::ENOSYS => {
            // Remembered, so a kernel (or valgrind) without epoll_pwait2 costs one failed
            // call in the process's lifetime, not one per loop turn.
            PWAIT2_MISSING.store(true, Ordering::Relaxed);
            epoll_wait_ms(epfd, events, timeout)
        }
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

static PWAIT2_MISSING: AtomicBool = AtomicBool::new(false);

fn epoll_wait_forever(epfd: &OwnedFd, events: &mut [libc::epoll_event]) -> io::Result<usize> {
    let max = events.len().min(i32::MAX as usize) as i32;
    // SAFETY: `events` is a valid writable array of `max` entries; -1 = no timeout. A raw
    // system call (epoll_wait is number 232 on x86-64 but absent on aarch64, where glibc
    // maps it to epoll_pwait): use epoll_pwait with no signal mask, present everywhere.
    let no_mask: *const libc::sigset_t = std::ptr::null();
    let r = unsafe {
        raw_syscall(
            libc::SYS_epoll_pwait,
            [
                epfd.as_raw_fd() as usize,
                events.as_mut_ptr() as usize,
                max as usize,
                -1i32 as usize,
                no_mask as usize,
                0,
            ],
        )
    };
    match r {
        r if r >= 0 => Ok(r as usize),
        r if -r as i32 == libc::EINTR => Ok(0),
        r => Err(io::Error::from_raw_os_error(-r as i32)),
    }
}

fn epoll_wait_ms(
    epfd: &OwnedFd,
    events: &mut [libc::epoll_event],
    timeout: Duration,
) -> io::Result<usize> {
    let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
    let max = events.len().min(i32::MAX as usize) as i32;
    // SAFETY: `events` is a valid writable array of `max` entries.
    let r = unsafe { libc::epoll_wait(epfd.as_raw_fd(), events.as_mut_ptr(), max, ms) };
    match r {
        r if r >= 0 => Ok(r as usize),
        _ => match io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::EINTR) => Ok(0),
            e => Err(e),
        },
    }
}

/// Accepts one connection, non-blocking and close-on-exec. `Ok(None)` on `EAGAIN`.
pub(crate) fn accept(listener: &OwnedFd) -> io::Result<Option<(OwnedFd, SocketAddr)>> {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let fd = match syscall!(accept4(
        listener.as_raw_fd(),
        (&mut addr as *mut libc::sockaddr_storage).cast(),
        &mut len,
        libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
    )) {
        Ok(fd) => fd,
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR)) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    // SAFETY: accept4 returned a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    Ok(Some((fd, to_socket_addr(&addr))))
}

fn to_socket_addr(a: &libc::sockaddr_storage) -> SocketAddr {
    match a.ss_family as i32 {
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6, which fits in it.
            let a6 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a6.sin6_addr.s6_addr),
                u16::from_be(a6.sin6_port),
                a6.sin6_flowinfo,
                a6.sin6_scope_id,
            ))
        }
        _ => {
            // SAFETY: AF_INET (or unspecified, then zeros) storage holds a sockaddr_in.
            let a4 = unsafe { &*(a as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(a4.sin_addr.s_addr)),
                u16::from_be(a4.sin_port),
            ))
        }
    }
}

/// Sets an integer socket option.
pub(crate) fn setsockopt_int(fd: &OwnedFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` is a valid c_int for the duration of the call; its size is passed.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        (&value as *const i32).cast(),
        std::mem::size_of::<i32>() as libc::socklen_t
    ))
    .map(drop)
}

/// Reads into `buf`; `Ok(None)` on `EAGAIN`, `Ok(Some(0))` at end of stream.
///
/// Made as a raw system call: glibc's `read` is a thread-cancellation point and wraps every
/// call in cancellation bookkeeping the RT thread (never cancelled) does not need.
pub(crate) fn read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    count_or_again(unsafe {
        raw_syscall(
            libc::SYS_read,
            [
                fd.as_raw_fd() as usize,
                buf.as_mut_ptr() as usize,
                buf.len(),
                0,
                0,
                0,
            ],
        )
    })
}

/// Asks the kernel to timestamp received data in software (SO_TIMESTAMPING), for
/// [`read_timestamped`].
pub(crate) fn enable_rx_timestamps(fd: &OwnedFd) -> io::Result<()> {
    let flags = libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE;
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, flags as i32)
}

/// Like [`read`], through `recvmsg`, also returning the software receive timestamp of the
/// first byte returned (CLOCK_REALTIME, ns since the epoch) when the kernel attached one.
#[allow(clippy::unnecessary_cast)] // time_t and c_long are i64 here but not on every target
pub(crate) fn read_timestamped(
    fd: &OwnedFd,
    buf: &mut [u8],
) -> io::Result<Option<(usize, Option<i64>)>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one SCM_TIMESTAMPING message (three timespecs), 8-byte aligned. Not
    // initialised: the kernel writes what it returns and only that (within the
    // `msg_controllen` it sets) is read.
    let mut control = std::mem::MaybeUninit::<[u64; 16]>::uninit();
    // SAFETY: msghdr is plain data; all-zero is valid and the fields are set below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at `iov` (over `buf`) and `control`, all alive for the call.
    let r = unsafe {
        raw_syscall(
            libc::SYS_recvmsg,
            [
                fd.as_raw_fd() as usize,
                &mut msg as *mut libc::msghdr as usize,
                0,
                0,
                0,
                0,
            ],
        )
    };
    let n = match count_or_again(r)? {
        Some(n) => n,
        None => return Ok(None),
    };
    let mut stamp = None;
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel filled, within
    // `msg_controllen`; the data of an SCM_TIMESTAMPING message is three timespecs.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPING {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::timespec>());
                if ts.tv_sec != 0 || ts.tv_nsec != 0 {
                    stamp = Some(ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64);
                    // The kernel attaches one SCM_TIMESTAMPING message per read.
                    break;
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Some((n, stamp)))
}

/// CLOCK_MONOTONIC in ns (what `Instant` reads, without its checked arithmetic).
#[allow(clippy::unnecessary_cast)] // time_t and c_long are i64 here but not on every target
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_REALTIME in ns since the epoch (the clock receive timestamps use).
#[allow(clippy::unnecessary_cast)] // time_t and c_long are i64 here but not on every target
pub(crate) fn realtime_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes; CLOCK_REALTIME always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

/// Writes from `buf` without SIGPIPE; `Ok(None)` on `EAGAIN`. A raw system call, like
/// [`read`].
pub(crate) fn send(fd: &OwnedFd, buf: &[u8]) -> io::Result<Option<usize>> {
    let (no_addr, no_addr_len): (*const libc::sockaddr, libc::socklen_t) = (std::ptr::null(), 0);
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes; no destination address.
    count_or_again(unsafe {
        raw_syscall(
            libc::SYS_sendto,
            [
                fd.as_raw_fd() as usize,
                buf.as_ptr() as usize,
                buf.len(),
                libc::MSG_NOSIGNAL as usize,
                no_addr as usize,
                no_addr_len as usize,
            ],
        )
    })
}

/// Sets SCHED_FIFO at `priority` for the calling thread, with SCHED_RESET_ON_FORK so any
/// process it might spawn does not inherit real-time priority.
pub(crate) fn set_fifo(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: pid 0 is the calling thread; `param` is valid for the call.
    syscall!(sched_setscheduler(
        0,
        libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK,
        &param
    ))
    .map(drop)
}

/// Blocks all signals in the calling thread so handlers run on other threads.
pub(crate) fn block_signals() {
    // SAFETY: sigset_t is plain data; sigfillset initialises it; a null old-set is allowed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Tells glibc never to return heap memory to the kernel and never to serve a malloc with a
/// fresh mmap, so pages locked at start-up stay locked (LF RT wiki, "memory").
pub(crate) fn tune_malloc() {
    // SAFETY: mallopt only changes allocator tunables.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        // One arena for all threads: a per-thread arena is a fresh 64 MiB mapping, which
        // under MCL_FUTURE would be locked on first use by any thread.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Minor and major page faults of the calling thread so far (`getrusage(RUSAGE_THREAD)`).
pub fn thread_faults() -> (u64, u64) {
    // SAFETY: rusage is plain data; getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid for writes.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (ru.ru_minflt as u64, ru.ru_majflt as u64)
}

/// Creates a non-blocking CLOCK_MONOTONIC timerfd.
pub(crate) fn timerfd_create() -> io::Result<OwnedFd> {
    let fd = syscall!(timerfd_create(
        libc::CLOCK_MONOTONIC,
        libc::TFD_NONBLOCK | libc::TFD_CLOEXEC
    ))?;
    // SAFETY: timerfd_create returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `tfd` to expire `period` from now and every `period` after that.
pub(crate) fn timerfd_arm_periodic(tfd: &OwnedFd, period: Duration) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: period.as_secs() as libc::time_t,
        tv_nsec: period.subsec_nanos() as libc::c_long,
    };
    let spec = libc::itimerspec {
        it_interval: ts,
        it_value: ts,
    };
    // SAFETY: `spec` is valid for the call; a null old-value pointer is allowed.
    syscall!(timerfd_settime(
        tfd.as_raw_fd(),
        0,
        &spec,
        std::ptr::null_mut()
    ))
    .map(drop)
}

/// Reads (and so clears) a timerfd's expiration count; 0 when it has not expired.
pub(crate) fn timerfd_expirations(tfd: &OwnedFd) -> u64 {
    let mut n = [0u8; 8];
    match read(tfd, &mut n) {
        Ok(Some(8)) => u64::from_ne_bytes(n),
        _ => 0,
    }
}
