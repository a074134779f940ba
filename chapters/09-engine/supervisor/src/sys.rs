//! The system calls the supervisor makes, raw: no libc (see the crate's
//! documentation for why). Each wrapper is a safe function where Rust's
//! types already guarantee what the kernel will touch (a slice for a
//! buffer); the constants and kernel structures are the few it needs,
//! defined here from the man pages (and the kernel's uapi headers, where a
//! number is not in a man page).

use core::ffi::CStr;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("dockyard-supervisor knows the system call numbers of x86_64 and aarch64 only");

/// An error number as the kernel returns it (errno(3)): a raw system call
/// returns `-errno`, there is no thread-local `errno`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

/// `ENOENT`: no such file (a rotated log that is not there yet).
pub const ENOENT: Errno = Errno(2);
/// `EINTR`: interrupted; try again.
pub const EINTR: Errno = Errno(4);
/// `EIO`: what a pty master reads once no slave is open (pty(7)).
pub const EIO: Errno = Errno(5);
/// `EAGAIN`: a nonblocking descriptor has nothing (or no room) now.
pub const EAGAIN: Errno = Errno(11);

/// System call numbers (asm/unistd_64.h on x86_64, asm-generic/unistd.h on
/// aarch64, which has only the `*at` and `ppoll` forms).
mod nr {
    #[cfg(target_arch = "x86_64")]
    mod arch {
        pub const READ: usize = 0;
        pub const WRITE: usize = 1;
        pub const CLOSE: usize = 3;
        pub const MMAP: usize = 9;
        pub const MUNMAP: usize = 11;
        pub const RT_SIGACTION: usize = 13;
        pub const PRCTL: usize = 157;
        pub const RT_SIGPROCMASK: usize = 14;
        pub const IOCTL: usize = 16;
        pub const EXECVE: usize = 59;
        pub const WAIT4: usize = 61;
        pub const KILL: usize = 62;
        pub const FCNTL: usize = 72;
        pub const FTRUNCATE: usize = 77;
        pub const CLOCK_GETTIME: usize = 228;
        pub const EXIT_GROUP: usize = 231;
        pub const WAITID: usize = 247;
        pub const OPENAT: usize = 257;
        pub const UNLINKAT: usize = 263;
        pub const PPOLL: usize = 271;
        pub const ACCEPT4: usize = 288;
        pub const SIGNALFD4: usize = 289;
        pub const RENAMEAT2: usize = 316;
        pub const STATX: usize = 332;
        pub const PIDFD_SEND_SIGNAL: usize = 424;
    }
    #[cfg(target_arch = "aarch64")]
    mod arch {
        pub const FCNTL: usize = 25;
        pub const IOCTL: usize = 29;
        pub const UNLINKAT: usize = 35;
        pub const FTRUNCATE: usize = 46;
        pub const OPENAT: usize = 56;
        pub const CLOSE: usize = 57;
        pub const READ: usize = 63;
        pub const WRITE: usize = 64;
        pub const PPOLL: usize = 73;
        pub const SIGNALFD4: usize = 74;
        pub const EXIT_GROUP: usize = 94;
        pub const WAITID: usize = 95;
        pub const CLOCK_GETTIME: usize = 113;
        pub const KILL: usize = 129;
        pub const RT_SIGACTION: usize = 134;
        pub const PRCTL: usize = 167;
        pub const RT_SIGPROCMASK: usize = 135;
        pub const MUNMAP: usize = 215;
        pub const EXECVE: usize = 221;
        pub const MMAP: usize = 222;
        pub const ACCEPT4: usize = 242;
        pub const WAIT4: usize = 260;
        pub const RENAMEAT2: usize = 276;
        pub const STATX: usize = 291;
        pub const PIDFD_SEND_SIGNAL: usize = 424;
    }
    pub use arch::*;
}

// ANCHOR: syscall
/// Makes system call `n` with up to six arguments; returns what the kernel
/// returned in the result register.
///
/// # Safety
/// The arguments must be valid for that call: every pointer must point to
/// memory the call may read or write, for as long as it runs.
#[cfg(target_arch = "x86_64")]
unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments; the `syscall`
    // instruction clobbers rcx and r11 (declared) and nothing else.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}
// ANCHOR_END: syscall

/// Makes system call `n` (see the x86_64 version).
///
/// # Safety
/// As for x86_64.
#[cfg(target_arch = "aarch64")]
unsafe fn syscall(n: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments; `svc 0` returns in x0
    // and preserves every other register.
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") n,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack),
        );
    }
    ret
}

/// The kernel's convention (syscall(2)): a value in `-4095..=-1` is
/// `-errno`, anything else succeeded.
fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// # Safety
/// As for [`syscall`].
unsafe fn call(n: usize, a: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: passed on from the caller.
    check(unsafe { syscall(n, a) })
}

/// Makes the call again while it fails with `EINTR` (signal(7): a call
/// interrupted by a handled signal; ours are blocked, but a stop and
/// continue of a traced process interrupts too).
fn retry(mut f: impl FnMut() -> Result<usize, Errno>) -> Result<usize, Errno> {
    loop {
        match f() {
            Err(EINTR) => {}
            other => return other,
        }
    }
}

/// An open file descriptor this program owns, closed when dropped.
#[derive(Debug)]
pub struct Fd(i32);

impl Fd {
    /// Takes ownership of descriptor `fd`.
    ///
    /// # Safety
    /// `fd` must be open and nothing else may close it or use it after this
    /// `Fd` is dropped.
    pub unsafe fn from_raw(fd: i32) -> Fd {
        Fd(fd)
    }

    /// The descriptor number, for the kernel.
    pub fn raw(&self) -> i32 {
        self.0
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // close(2): not retried on EINTR (the descriptor is gone either way
        // on Linux), and an error has no one to go to.
        // SAFETY: we own the descriptor; close takes no pointer.
        let _ = unsafe { call(nr::CLOSE, [self.0 as usize, 0, 0, 0, 0, 0]) };
    }
}

// ANCHOR: read
/// read(2) into `buf`; `Ok(0)` at end-of-file.
pub fn read(fd: &Fd, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    retry(|| unsafe {
        call(
            nr::READ,
            [fd.0 as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0],
        )
    })
}

// ANCHOR_END: read

/// write(2) of `buf`; may write less.
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    retry(|| unsafe {
        call(
            nr::WRITE,
            [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0],
        )
    })
}

/// Writes all of `buf` (a short write is continued; any error, `EAGAIN`
/// included, is returned).
pub fn write_all(fd: &Fd, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        let n = write(fd.0, buf)?;
        buf = &buf[n..];
    }
    Ok(())
}

/// `POLLIN`: there is data to read (poll(2)).
pub const POLLIN: i16 = 0x1;
/// `POLLOUT`: writing will not block.
pub const POLLOUT: i16 = 0x4;

/// `struct pollfd` (poll(2)). A negative `fd` is skipped by the kernel
/// (its `revents` stays 0), which keeps each slot's index fixed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PollFd {
    /// The descriptor, or -1 for an unused slot.
    pub fd: i32,
    /// What to wait for.
    pub events: i16,
    /// What happened (`POLLERR`, `POLLHUP`, `POLLNVAL` even if not asked for).
    pub revents: i16,
}

impl PollFd {
    /// A slot the kernel skips.
    pub const UNUSED: PollFd = PollFd {
        fd: -1,
        events: 0,
        revents: 0,
    };
}

/// ppoll(2) without a signal mask: sleeps until one of `fds` is ready, or
/// for at most `timeout` nanoseconds if given (then `Ok(0)` may mean none
/// is). (poll(2) does not exist on aarch64; ppoll does everywhere.)
pub fn poll(fds: &mut [PollFd], timeout: Option<u64>) -> Result<usize, Errno> {
    // struct timespec: seconds, nanoseconds (i64 each on 64-bit).
    let timespec = timeout.map(|ns| [(ns / NANOS) as i64, (ns % NANOS) as i64]);
    let timespec = timespec.as_ref().map_or(0, |ts| ts.as_ptr() as usize);
    // SAFETY: the kernel reads and writes `fds.len()` pollfds and reads the
    // 16-byte timespec (a null one waits forever); a null mask keeps ours.
    retry(|| unsafe {
        call(
            nr::PPOLL,
            [fds.as_mut_ptr() as usize, fds.len(), timespec, 0, 8, 0],
        )
    })
}

/// `SOCK_CLOEXEC` (= `O_CLOEXEC`, socket(2)).
const SOCK_CLOEXEC: usize = 0o2000000;
/// `SOCK_NONBLOCK` (= `O_NONBLOCK`).
const SOCK_NONBLOCK: usize = 0o4000;

/// accept4(2) of a connection on `listener`, close-on-exec and nonblocking.
pub fn accept(listener: &Fd) -> Result<Fd, Errno> {
    // SAFETY: null address pointers: the peer's address is not wanted.
    let fd = retry(|| unsafe {
        call(
            nr::ACCEPT4,
            [
                listener.0 as usize,
                0,
                0,
                SOCK_CLOEXEC | SOCK_NONBLOCK,
                0,
                0,
            ],
        )
    })?;
    // SAFETY: a new descriptor the kernel just gave us.
    Ok(unsafe { Fd::from_raw(fd as i32) })
}

/// `O_NONBLOCK` (open(2); the same number on both architectures).
pub const O_NONBLOCK: usize = 0o4000;
/// `O_CLOEXEC`.
pub const O_CLOEXEC: usize = 0o2000000;

/// fcntl(2) `F_GETFD` on a raw number: whether it is an open descriptor.
pub fn is_open(fd: i32) -> bool {
    const F_GETFD: usize = 1;
    // SAFETY: F_GETFD takes no pointer.
    unsafe { call(nr::FCNTL, [fd as usize, F_GETFD, 0, 0, 0, 0]) }.is_ok()
}

/// fcntl(2) `F_SETFL`: adds `O_NONBLOCK` to the open file description's
/// status flags (reads and writes then fail with `EAGAIN` rather than wait).
pub fn set_nonblocking(fd: &Fd) -> Result<(), Errno> {
    const F_GETFL: usize = 3;
    const F_SETFL: usize = 4;
    // SAFETY: F_GETFL and F_SETFL take no pointer.
    unsafe {
        let flags = call(nr::FCNTL, [fd.0 as usize, F_GETFL, 0, 0, 0, 0])?;
        call(
            nr::FCNTL,
            [fd.0 as usize, F_SETFL, flags | O_NONBLOCK, 0, 0, 0],
        )
        .map(drop)
    }
}

/// ioctl(2) `TIOCSWINSZ` (ioctl_tty(2)): sets a terminal's size; on a pty
/// master the kernel then sends SIGWINCH to the slave's foreground process
/// group.
pub fn set_window_size(tty: &Fd, rows: u16, cols: u16) -> Result<(), Errno> {
    const TIOCSWINSZ: usize = 0x5414;
    // struct winsize: ws_row, ws_col, ws_xpixel, ws_ypixel.
    let winsize: [u16; 4] = [rows, cols, 0, 0];
    // SAFETY: the kernel reads the 8-byte winsize we pass.
    unsafe {
        call(
            nr::IOCTL,
            [
                tty.0 as usize,
                TIOCSWINSZ,
                winsize.as_ptr() as usize,
                0,
                0,
                0,
            ],
        )
    }
    .map(drop)
}

/// A set of signals, the kernel's `sigset_t` (64 bits on Linux: signal N
/// is bit N-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigSet(u64);

impl SigSet {
    /// The set of `signals`.
    pub const fn of(signals: &[i32]) -> SigSet {
        let mut bits = 0u64;
        let mut i = 0;
        while i < signals.len() {
            bits |= 1 << (signals[i] - 1);
            i += 1;
        }
        SigSet(bits)
    }
}

/// Signal numbers (signal(7); the same on x86_64 and aarch64).
pub mod sig {
    /// Hangup.
    pub const SIGHUP: i32 = 1;
    /// Interrupt (Ctrl-C).
    pub const SIGINT: i32 = 2;
    /// Quit.
    pub const SIGQUIT: i32 = 3;
    /// Kill, which cannot be caught.
    pub const SIGKILL: i32 = 9;
    /// User-defined 1.
    pub const SIGUSR1: i32 = 10;
    /// User-defined 2.
    pub const SIGUSR2: i32 = 12;
    /// A write to a pipe or socket nobody reads any more.
    pub const SIGPIPE: i32 = 13;
    /// Terminate (docker stop).
    pub const SIGTERM: i32 = 15;
    /// A child stopped or ended.
    pub const SIGCHLD: i32 = 17;
}

/// rt_sigprocmask(2) `SIG_BLOCK`: adds `set` to the calling thread's mask.
/// Blocked signals stay pending until read from a signalfd.
pub fn block(set: SigSet) -> Result<(), Errno> {
    const SIG_BLOCK: usize = 0;
    // SAFETY: the kernel reads one 8-byte sigset; no old set is wanted.
    unsafe {
        call(
            nr::RT_SIGPROCMASK,
            [SIG_BLOCK, &raw const set.0 as usize, 0, 8, 0, 0],
        )
    }
    .map(drop)
}

/// prctl(2) `PR_SET_NAME`: the name `ps` and `top` show (the kernel keeps
/// 15 bytes of it). A program run as `/proc/self/fd/N` is otherwise named
/// after the descriptor's number.
pub fn set_name(name: &core::ffi::CStr) -> Result<(), Errno> {
    const PR_SET_NAME: usize = 15;
    // SAFETY: the kernel reads a NUL-terminated string of at most 16 bytes.
    unsafe { call(nr::PRCTL, [PR_SET_NAME, name.as_ptr() as usize, 0, 0, 0, 0]) }.map(drop)
}

/// rt_sigaction(2) with `SIG_IGN`: the signal is discarded. For SIGPIPE, so
/// that a write to a client that hung up fails with `EPIPE` instead of
/// killing us. An ignored signal stays ignored across execve(2).
pub fn ignore(signal: i32) -> Result<(), Errno> {
    const SIG_IGN: usize = 1;
    set_handler(signal, SIG_IGN)
}

/// rt_sigaction(2) with `SIG_DFL`: the signal's default action again, for
/// one a caller may have left ignored (see [`ignore`]).
pub fn default_action(signal: i32) -> Result<(), Errno> {
    const SIG_DFL: usize = 0;
    set_handler(signal, SIG_DFL)
}

/// rt_sigaction(2) of `handler`, `SIG_DFL` or `SIG_IGN`.
fn set_handler(signal: i32, handler: usize) -> Result<(), Errno> {
    // The kernel's struct sigaction on x86_64 and arm64: handler, flags,
    // restorer, mask (no restorer is needed without a handler function).
    let action: [usize; 4] = [handler, 0, 0, 0];
    // SAFETY: the kernel reads the 32-byte sigaction; no old one is wanted.
    unsafe {
        call(
            nr::RT_SIGACTION,
            [signal as usize, action.as_ptr() as usize, 0, 8, 0, 0],
        )
    }
    .map(drop)
}

/// signalfd4(2): a new descriptor, nonblocking and close-on-exec, that reads
/// the signals of `set` pending for this thread or process (they must be
/// blocked, or they are delivered the usual way first).
pub fn signalfd(set: SigSet) -> Result<Fd, Errno> {
    // SAFETY: the kernel reads one 8-byte sigset.
    let fd = unsafe {
        call(
            nr::SIGNALFD4,
            [
                usize::MAX, // -1: a new descriptor
                &raw const set.0 as usize,
                8,
                O_NONBLOCK | O_CLOEXEC,
                0,
                0,
            ],
        )
    }?;
    // SAFETY: a new descriptor the kernel just gave us.
    Ok(unsafe { Fd::from_raw(fd as i32) })
}

/// Reads one pending signal from a signalfd: its number, or `None` when
/// none is left. A `struct signalfd_siginfo` is 128 bytes, `ssi_signo`
/// (u32) first (signalfd(2)).
pub fn read_signal(fd: &Fd) -> Option<i32> {
    let mut info = [0u8; 128];
    match read(fd, &mut info) {
        Ok(128) => Some(i32::from_ne_bytes([info[0], info[1], info[2], info[3]])),
        _ => None,
    }
}

/// kill(2).
pub fn kill(pid: i32, signal: i32) -> Result<(), Errno> {
    // SAFETY: kill takes no pointer.
    unsafe { call(nr::KILL, [pid as usize, signal as usize, 0, 0, 0, 0]) }.map(drop)
}

/// pidfd_send_signal(2) (Linux 5.1): like kill(2), but to the process the
/// pidfd refers to, never to another that has its pid since.
pub fn pidfd_kill(pidfd: &Fd, signal: i32) -> Result<(), Errno> {
    // SAFETY: a null siginfo: the kernel fills in what kill(2) would.
    unsafe {
        call(
            nr::PIDFD_SEND_SIGNAL,
            [pidfd.0 as usize, signal as usize, 0, 0, 0, 0],
        )
    }
    .map(drop)
}

/// `__WALL` (wait(2)): wait for children whatever signal they send their
/// parent at exit, not only SIGCHLD (a clone(2) child may choose another).
const WALL: usize = 0x4000_0000;

/// waitid(2) `P_PIDFD` (Linux 5.4) with `WEXITED`: reaps the process `pidfd`
/// refers to, which must be our child, and returns its status the way a
/// shell reports it: the exit code, or 128 + N after signal N.
pub fn reap(pidfd: &Fd) -> Result<i32, Errno> {
    const P_PIDFD: usize = 3;
    const WEXITED: usize = 4;
    // siginfo_t is 128 bytes; for SIGCHLD (sigaction(2)): si_code (i32) at
    // offset 8, then, after the union's alignment, si_pid, si_uid, si_status
    // at 16, 20 and 24 on 64-bit architectures.
    const CLD_EXITED: i32 = 1;
    let mut info = [0u8; 128];
    // SAFETY: the kernel writes a 128-byte siginfo; no rusage is wanted.
    retry(|| unsafe {
        call(
            nr::WAITID,
            [
                P_PIDFD,
                pidfd.0 as usize,
                info.as_mut_ptr() as usize,
                WEXITED | WALL,
                0,
                0,
            ],
        )
    })?;
    let field =
        |at: usize| i32::from_ne_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]]);
    Ok(match field(8) {
        CLD_EXITED => field(24),
        // CLD_KILLED or CLD_DUMPED: si_status is the signal.
        _ => 128 + field(24),
    })
}

/// wait4(2) `(-1, WNOHANG)`: reaps one child that has ended, if any;
/// `false` when none is left to reap now (or none at all).
pub fn reap_any() -> bool {
    const WNOHANG: usize = 1;
    // SAFETY: null status and rusage pointers: neither is wanted.
    match retry(|| unsafe { call(nr::WAIT4, [usize::MAX, 0, WNOHANG | WALL, 0, 0, 0]) }) {
        Ok(pid) => pid > 0,
        Err(_) => false,
    }
}

/// `AT_FDCWD`: a path relative to the working directory (openat(2)).
const AT_FDCWD: usize = -100isize as usize;

/// openat(2) of `path` for appending, created with mode 0640 (before the
/// umask) if it is not there, as docker opens its json-file logs.
pub fn open_append(path: &CStr) -> Result<Fd, Errno> {
    const O_WRONLY: usize = 0o1;
    const O_CREAT: usize = 0o100;
    const O_APPEND: usize = 0o2000;
    // SAFETY: the kernel reads the NUL-terminated path.
    let fd = retry(|| unsafe {
        call(
            nr::OPENAT,
            [
                AT_FDCWD,
                path.as_ptr() as usize,
                O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                0o640,
                0,
                0,
            ],
        )
    })?;
    // SAFETY: a new descriptor the kernel just gave us.
    Ok(unsafe { Fd::from_raw(fd as i32) })
}

/// The size of the file `fd` is open on: statx(2) with `AT_EMPTY_PATH`
/// (the same `struct statx` on every architecture, unlike fstat(2)'s
/// `struct stat`); `stx_size` is the u64 at offset 40.
pub fn file_size(fd: &Fd) -> Result<u64, Errno> {
    const AT_EMPTY_PATH: usize = 0x1000;
    const STATX_SIZE: usize = 0x200;
    let mut statx = [0u64; 32]; // 256 bytes, 8-aligned
    // SAFETY: the kernel reads the empty path and writes a 256-byte statx.
    unsafe {
        call(
            nr::STATX,
            [
                fd.0 as usize,
                c"".as_ptr() as usize,
                AT_EMPTY_PATH,
                STATX_SIZE,
                statx.as_mut_ptr() as usize,
                0,
            ],
        )
    }?;
    Ok(statx[5])
}

/// renameat2(2) without flags: rename(2), which aarch64 does not have.
pub fn rename(from: &CStr, to: &CStr) -> Result<(), Errno> {
    // SAFETY: the kernel reads the two NUL-terminated paths.
    unsafe {
        call(
            nr::RENAMEAT2,
            [
                AT_FDCWD,
                from.as_ptr() as usize,
                AT_FDCWD,
                to.as_ptr() as usize,
                0,
                0,
            ],
        )
    }
    .map(drop)
}

/// unlinkat(2) of a file: unlink(2), which aarch64 does not have.
pub fn unlink(path: &CStr) -> Result<(), Errno> {
    // SAFETY: the kernel reads the NUL-terminated path.
    unsafe { call(nr::UNLINKAT, [AT_FDCWD, path.as_ptr() as usize, 0, 0, 0, 0]) }.map(drop)
}

/// ftruncate(2) to length 0.
pub fn truncate(fd: &Fd) -> Result<(), Errno> {
    // SAFETY: ftruncate takes no pointer.
    unsafe { call(nr::FTRUNCATE, [fd.0 as usize, 0, 0, 0, 0, 0]) }.map(drop)
}

/// clock_gettime(2) `CLOCK_REALTIME`: seconds and nanoseconds since the
/// epoch. (A real system call: without libc there is no vDSO lookup; one
/// call per batch of output costs well under a microsecond.)
pub fn now() -> (i64, u32) {
    const CLOCK_REALTIME: usize = 0;
    let mut ts: [i64; 2] = [0, 0];
    // SAFETY: the kernel writes a 16-byte timespec.
    let _ = unsafe {
        call(
            nr::CLOCK_GETTIME,
            [CLOCK_REALTIME, ts.as_mut_ptr() as usize, 0, 0, 0, 0],
        )
    };
    (ts[0], ts[1] as u32)
}

/// Nanoseconds in a second.
pub const NANOS: u64 = 1_000_000_000;

/// clock_gettime(2) `CLOCK_MONOTONIC`, in nanoseconds: for deadlines, which
/// a change of the wall clock must not move.
pub fn monotonic() -> u64 {
    const CLOCK_MONOTONIC: usize = 1;
    let mut ts: [i64; 2] = [0, 0];
    // SAFETY: the kernel writes a 16-byte timespec.
    let _ = unsafe {
        call(
            nr::CLOCK_GETTIME,
            [CLOCK_MONOTONIC, ts.as_mut_ptr() as usize, 0, 0, 0, 0],
        )
    };
    ts[0] as u64 * NANOS + ts[1] as u64
}

/// mmap(2) of `len` bytes of private anonymous memory, zero-filled, whose
/// pages take no RAM until first written: where the buffers live (on the
/// stack, the compiler's stack probes would touch every page).
pub fn map_zeroed(len: usize) -> Result<*mut u8, Errno> {
    const PROT_READ: usize = 1;
    const PROT_WRITE: usize = 2;
    const MAP_PRIVATE: usize = 2;
    const MAP_ANONYMOUS: usize = 0x20;
    // SAFETY: a new mapping at an address the kernel chooses touches no
    // existing memory.
    unsafe {
        call(
            nr::MMAP,
            [
                0,
                len,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS,
                usize::MAX, // fd -1
                0,
            ],
        )
    }
    .map(|addr| addr as *mut u8)
}

/// munmap(2) of what [`map_zeroed`] returned.
///
/// # Safety
/// `addr` and `len` must be one mapping from [`map_zeroed`], no longer used.
pub unsafe fn unmap(addr: *mut u8, len: usize) {
    // SAFETY: passed on from the caller.
    let _ = unsafe { call(nr::MUNMAP, [addr as usize, len, 0, 0, 0, 0]) };
}

/// execve(2): replaces this program; returns only on failure.
///
/// # Safety
/// `argv` and `envp` must be null-terminated arrays of pointers to
/// NUL-terminated strings, and `path` must be `argv[0]`'s string or another.
pub unsafe fn execve(path: *const u8, argv: *const *const u8, envp: *const *const u8) -> Errno {
    // SAFETY: passed on from the caller.
    match unsafe {
        call(
            nr::EXECVE,
            [path as usize, argv as usize, envp as usize, 0, 0, 0],
        )
    } {
        Err(errno) => errno,
        Ok(_) => Errno(0),
    }
}

/// exit_group(2): ends every thread of the process with `status`.
pub fn exit(status: i32) -> ! {
    loop {
        // SAFETY: exit_group takes no pointer and does not return.
        let _ = unsafe { call(nr::EXIT_GROUP, [status as usize, 0, 0, 0, 0, 0]) };
    }
}
