//! Hardening as docker does it by default: what a root process inside the
//! container may still do once it is isolated.
//!
//! Namespaces hide the host; they do not stop root inside from asking the kernel
//! for dangerous things (loading modules, mounting, rebooting, reading kernel
//! memory through /proc). Docker closes those doors in layers, and so do we:
//! [`caps`] keeps 14 of root's ~40 capabilities, [`paths`] masks and write-protects
//! parts of /proc and /sys, `no_new_privs` stops setuid binaries from regaining
//! what was dropped, and [`seccomp`] refuses system calls a container never needs.

pub mod caps;
pub mod paths;
pub mod seccomp;

use ch01_chroot::explain;
use nix::errno::Errno;
use nix::sys::prctl;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::Process;

use crate::Error;
use crate::channel::Failure;

// ANCHOR: apply
/// Gives the calling process what the spec's `process` allows and nothing
/// more: its resource limits, its bounding set, its user, its capability
/// sets and `no_new_privs`, in the one order that works (capabilities(7):
/// the bounding set shrinks while we still hold CAP_SETPCAP, and
/// PR_SET_KEEPCAPS keeps the permitted set across the switch from root).
///
/// Chapter 02's runtime calls it in a container's init; the engine's `exec`
/// calls it in every process it starts in a running container, so that a
/// process entering a container never has more power than the container's
/// own. Seccomp comes later ([`seccomp::apply`]): it is the last step before
/// execve(2).
pub fn apply(process: &Process) -> Result<(), Error> {
    restrict(process).map_err(|failure| Error::Hardening(failure.to_string()))
}

/// [`apply`], failing the way the container's init reports to the runner.
pub(crate) fn restrict(process: &Process) -> Result<(), Failure> {
    set_rlimits(process)?;
    let capabilities = process.capabilities().as_ref();
    if let Some(c) = capabilities {
        caps::limit_bounding(c)?;
    }
    prctl::set_keepcaps(true).map_err(Failure::step("prctl(PR_SET_KEEPCAPS)"))?;
    switch_user(process)?;
    if let Some(c) = capabilities {
        caps::apply(c)?;
    }
    if process.no_new_privileges().unwrap_or(false) {
        no_new_privs()?;
    }
    Ok(())
}
// ANCHOR_END: apply

// ANCHOR: no_new_privs
/// Sets `no_new_privs`: from here on, execve(2) can never grant privileges
/// (setuid bits and file capabilities are ignored), see prctl(2) PR_SET_NO_NEW_PRIVS.
/// It also lets an unprivileged process install a seccomp filter.
pub(crate) fn no_new_privs() -> Result<(), Failure> {
    ch01_chroot::explain!("prctl(2) PR_SET_NO_NEW_PRIVS: setuid binaries cannot regain privileges";
        "setpriv --no-new-privs");
    prctl::set_no_new_privs().map_err(Failure::step("prctl(PR_SET_NO_NEW_PRIVS)"))
}
// ANCHOR_END: no_new_privs

/// Applies the spec's resource limits (setrlimit(2)), while we may still raise them.
fn set_rlimits(process: &Process) -> Result<(), Failure> {
    use oci_spec::runtime::PosixRlimitType as T;
    for limit in process.rlimits().iter().flatten() {
        let resource = match limit.typ() {
            T::RlimitCpu => libc::RLIMIT_CPU,
            T::RlimitFsize => libc::RLIMIT_FSIZE,
            T::RlimitData => libc::RLIMIT_DATA,
            T::RlimitStack => libc::RLIMIT_STACK,
            T::RlimitCore => libc::RLIMIT_CORE,
            T::RlimitRss => libc::RLIMIT_RSS,
            T::RlimitNproc => libc::RLIMIT_NPROC,
            T::RlimitNofile => libc::RLIMIT_NOFILE,
            T::RlimitMemlock => libc::RLIMIT_MEMLOCK,
            T::RlimitAs => libc::RLIMIT_AS,
            T::RlimitLocks => libc::RLIMIT_LOCKS,
            T::RlimitSigpending => libc::RLIMIT_SIGPENDING,
            T::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
            T::RlimitNice => libc::RLIMIT_NICE,
            T::RlimitRtprio => libc::RLIMIT_RTPRIO,
            T::RlimitRttime => libc::RLIMIT_RTTIME,
        };
        explain!(
            "setrlimit(2) {:?}: soft {}, hard {}",
            limit.typ(),
            limit.soft(),
            limit.hard()
        );
        let value = libc::rlimit {
            rlim_cur: limit.soft(),
            rlim_max: limit.hard(),
        };
        // SAFETY: setrlimit(2) reads the struct we pass.
        if unsafe { libc::setrlimit(resource, &value) } < 0 {
            return Err(Failure::at("setrlimit(2)", format!("{:?}", limit.typ()))(
                Errno::last(),
            ));
        }
    }
    Ok(())
}

/// Becomes the spec's user: supplementary groups, then group, then user (in that
/// order: after setuid we could no longer change groups).
fn switch_user(process: &Process) -> Result<(), Failure> {
    let user = process.user();
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|&g| Gid::from_raw(g))
        .collect();
    let (uid, gid) = (Uid::from_raw(user.uid()), Gid::from_raw(user.gid()));
    explain!("switch to uid {uid}, gid {gid}"; "setpriv --reuid={uid} --regid={gid} --groups={}",
        if groups.is_empty() { "''".to_string() } else { groups.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(",") });
    nix::unistd::setgroups(&groups).map_err(Failure::step("setgroups(2)"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(Failure::at("setresgid(2)", gid))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(Failure::at("setresuid(2)", uid))?;
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        user.umask().unwrap_or(0o022),
    ));
    Ok(())
}
