//! The container supervisor ("shim"): what keeps a container alive, heard
//! and accounted for when nobody is watching.
//!
//! # What a supervisor is for
//!
//! `dockyard run -d` must return at once, yet somebody has to stay behind
//! with the container: hold the other end of its stdout and stderr (or a
//! process blocked writing to a full pipe would hang forever), write what it
//! prints to a log, let `attach` clients come and go, notice when it exits,
//! record the exit status, undo its mounts and network, and start it again
//! if its restart policy says so. The CLI cannot: it has exited. A daemon
//! could, but then every container dies or is orphaned when the daemon is
//! upgraded or crashes. So each container gets a small process of its own,
//! the parent of its PID 1, that lives exactly as long as the container
//! needs it: the *supervisor*.
//!
//! Being the parent matters: only a parent can wait(2) for a process and
//! read its exit status. Chapter 02's runner clones the container's init
//! with `CLONE_PARENT` from a short-lived helper, so the init is the
//! runner's child; the supervisor is also a *child subreaper* (prctl(2)
//! `PR_SET_CHILD_SUBREAPER`), so whatever is orphaned below it comes back to
//! it rather than to the host's init. It waits without spinning: a pidfd
//! (pidfd_open(2)) and a signalfd(2) in poll(2), in chapter 02's runner.
//!
// ANCHOR: differ
//! # conmon, containerd-shim and ours
//!
//! - **podman's conmon** is a small C program, separate from podman. podman
//!   starts conmon, conmon starts the OCI runtime (`runc create`), keeps
//!   the container's stdio (a log file, an attach socket, a control FIFO for
//!   resizes), writes the exit status to a file and exits. It knows nothing
//!   of images or restart policies: podman, or systemd, restarts.
//! - **containerd-shim** (`containerd-shim-runc-v2`) is a Go program per
//!   container (or per pod) that containerd talks to over a ttrpc API
//!   (create, start, kill, exec, wait...). It too calls runc, owns the stdio
//!   (as FIFOs containerd's clients open) and reports exits as events;
//!   logging and restarts are higher up (dockerd, the kubelet).
//! - **dockyard's supervisor** is the engine binary itself, re-executed as
//!   `dockyard shim ...` (the way runc re-executes itself as `runc init`),
//!   calling this library, for the moments of change: it starts the
//!   container with the runtime a library call away (chapter 03's
//!   `spawn_with_setup`, chapter 02 inside), and records, tears down and
//!   restarts after each exit, in the engine's own store (through the
//!   [`supervise::Record`] trait), doing what dockerd does for docker:
//!   json-file logs and restart policies ([`restart`]). In between, while
//!   the container runs, the same process is a 20 kB static program with no
//!   libc (`dockyard-supervisor`, [`steady`]) that holds the stdio, writes
//!   the log ([`logs`] reads it) and waits: conmon's part. One process
//!   swaps programs with execve(2) where podman has two processes, so
//!   nothing about the container's parentage ever changes.
// ANCHOR_END: differ
//!
//! # Using it
//!
//! The engine's side, in order: [`supervise::launch`] runs
//! `dockyard shim ...` detached and returns the container's pid once it
//! started; that process builds a [`supervise::Config`] (with
//! [`supervise::ready_fd_from_env`]) and calls [`supervise::supervise`]
//! with its [`supervise::Runner`] and [`supervise::Record`]. Later,
//! [`supervise::attach`], [`supervise::resize`] and [`supervise::watch_run`]
//! talk to it, [`logs::read`] serves `docker logs`, and
//! [`supervise::SupervisorInfo::is_alive`] tells a live supervisor from one
//! that was killed (then the engine records the exit and cleans up itself).

pub mod logs;
pub mod restart;
pub mod steady;
pub mod supervise;
mod timefmt;

pub use dockyard_supervisor::time::{civil_from_days, days_from_civil};
pub use timefmt::TimeError;
