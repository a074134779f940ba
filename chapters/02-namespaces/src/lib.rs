//! Chapter 02: namespaces.
//!
//! Chapter 01 gave a command its own `/`, and showed it was not isolation: the
//! command still saw the host's processes, hostname, network and mounts, and as
//! root it could walk out of its chroot. This chapter wraps the same fork-and-exec
//! shape in namespaces, a real root filesystem switch and docker's hardening:
//!
//! - [`spec`]: the contract, an OCI runtime [`Spec`](oci_spec::runtime::Spec)
//!   (runc's `config.json`), built from `run`'s flags or loaded from a bundle;
//! - [`run`] / [`run_with`]: the runtime that makes a container from a spec
//!   ([`spawn`] and [`Running::wait`], its two halves);
//! - [`namespaces`], [`rootfs`], [`devices`]: what the container sees;
//! - [`hardening`]: what root inside may still do;
//! - `channel`, [`signals`], `tty`: how the runner and the container talk (the
//!   first and last are private: the runtime's inner workings).

mod channel;
mod container;
pub mod devices;
mod error;
pub mod hardening;
pub mod namespaces;
pub mod rootfs;
pub mod signals;
pub mod spec;
pub mod tty;
pub mod ulimits;

pub use container::{
    Adopter, CgroupEntry, Running, Setup, pidfd_open, run, run_with, spawn, spawn_adopted,
    spawn_into,
};
pub use error::Error;

/// Gives the container our stdin only with `-i`, as `docker run` does: without
/// it the command reads end-of-file from /dev/null instead of waiting on a
/// terminal it was never meant to read. Call it just before running.
pub fn stdin_unless_interactive(interactive: bool) -> Result<(), Error> {
    if interactive {
        return Ok(());
    }
    let null = std::fs::File::open("/dev/null").map_err(Error::io("open /dev/null"))?;
    nix::unistd::dup2_stdin(&null).map_err(Error::sys("make /dev/null stdin"))
}
