//! Chapter 01: chroot.
//!
//! The oldest trick behind containers: give a process a different `/`.
//! [`run`] checks a root filesystem, forks, and in the child calls `chroot(2)`,
//! `chdir("/")` and `execve(2)`; the parent waits and passes the command's exit
//! status on. Chapter 02 keeps this shape and adds namespaces around it.
//!
//! The crate also holds the pieces every later chapter re-uses: [`explain!`]
//! (the `--explain` narration), docker's [`exit`] codes and the [`cli`] conventions.

pub mod cli;
pub mod exit;
pub mod explain;
mod run;

pub use run::{DEFAULT_PATH, Error, Run, default_env, find_command, run};
