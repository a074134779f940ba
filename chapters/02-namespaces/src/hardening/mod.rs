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

use nix::sys::prctl;

use crate::channel::Failure;

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
