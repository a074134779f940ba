//! Exit codes, as docker uses them, so scripts can tell who failed.
//!
//! `docker run` exits with the command's own status when the command ran, and
//! with one of these when it never got that far. A command killed by signal N
//! exits 128+N, the shell convention (`docker stop` after its timeout: 137).

use nix::sys::wait::WaitStatus;

/// The engine itself failed: bad flags, a missing rootfs, no privileges.
pub const ENGINE_ERROR: i32 = 125;
/// The command was found but could not be invoked (not executable).
pub const CANNOT_INVOKE: i32 = 126;
/// The command was not found.
pub const NOT_FOUND: i32 = 127;

/// The status a shell would report for a child that ended with `status`:
/// its exit code, or 128+N when signal N killed it.
pub fn code_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(128 + signal as i32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::unistd::Pid;

    #[test]
    fn signals_map_to_128_plus_n() {
        let pid = Pid::from_raw(1);
        assert_eq!(code_of(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            code_of(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
        assert_eq!(
            code_of(WaitStatus::Signaled(pid, Signal::SIGINT, true)),
            Some(130)
        );
        assert_eq!(code_of(WaitStatus::StillAlive), None);
    }
}
