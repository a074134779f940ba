//! dockyard's per-container supervisor: a tiny program that holds a
//! container's stdio while it runs, and nothing else.
//!
//! # Why a program of its own
//!
//! Somebody must stay with a detached container: read its output (or a
//! process writing to a full pipe hangs), log it, let `attach` clients come
//! and go, pass signals on and notice the exit. The engine does what
//! happens at the container's start and end itself (mounts, cgroup, the
//! clone of the init; the exit record, teardown and restart policy), but
//! while it runs, one process per container waits, so what that process
//! costs, every container costs. The engine binary re-executed for the job
//! holds some 7 MB; this program 40 kB (Rss in `/proc/PID/smaps_rollup`,
//! with an idle `sleep` in the container), all but 4 kB of it its own (Pss
//! 36 kB): 16 kB of anonymous memory (12 kB of stack and a page of data;
//! the buffers take pages only as output passes through them) and its own
//! copy of its 20 kB file, which it runs from a memfd of its own (see the
//! shim's `steady`) that no other process maps. It is built `no_std`, with
//! no libc (glibc's startup code alone maps more than that, and its
//! IFUNC-resolved `memcpy` crashes without it), its buffers in one mmap(2)
//! whose pages are only paid for once written ([`copier::Mapped`]).
//!
//! # Its life
//!
//! The engine clones the container's init, then execve(2)s this program
//! (the init stays its child, so it can reap it) with the descriptors it
//! made on the command line ([`args`]). [`supervise`] copies output into the
//! json-file log ([`log`], [`json`], [`time`]) and to attach clients
//! ([`copier`]), passes SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and
//! SIGUSR2 on to the init, and reaps it (a pidfd in poll(2)). When the init
//! has exited and its output is all logged, the program execve(2)s the
//! engine again ([`args::exec_exit`], like conmon's `--exit-command`) with
//! `--status N`, to record the exit, tear down and apply the restart policy,
//! unless a foreground `run` waiting for that moment does it ([`finish`]).
//!
//! The system calls are made directly ([`sys`]), on x86_64 and aarch64.

#![cfg_attr(not(test), no_std)]

pub mod args;
pub mod copier;
pub mod finish;
pub mod json;
pub mod life;
pub mod log;
pub mod sys;
pub mod time;

pub use life::{Config, FAILED, Failure, heard_go, supervise};

/// Says what went wrong on stderr, in one write(2): `dockyard-supervisor: `,
/// the parts, and the errno if there is one. Nothing is allocated; a
/// message too long is cut.
pub fn complain(parts: &[&[u8]], errno: Option<sys::Errno>) {
    let mut line = [0u8; 512];
    let mut len = 0;
    // The last byte is kept for the newline.
    let mut push = |bytes: &[u8]| {
        let n = bytes.len().min(line.len() - 1 - len);
        line[len..len + n].copy_from_slice(&bytes[..n]);
        len += n;
    };
    push(b"dockyard-supervisor: ");
    for part in parts {
        push(part);
    }
    if let Some(sys::Errno(errno)) = errno {
        push(b": errno ");
        push(args::Decimal::of(errno).as_bytes());
    }
    line[len] = b'\n';
    len += 1;
    let _ = sys::write(2, &line[..len]);
}
