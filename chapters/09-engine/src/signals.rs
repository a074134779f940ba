//! `--sig-proxy`: the signals a foreground `run` gets (Ctrl-C's SIGINT, a
//! `kill` of the CLI) are passed on to the container's PID 1, as docker's CLI
//! does when no terminal carries them.

use anyhow::Context;
use ch04_overlayfs::store::Container;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;

/// The signals passed on (SIGKILL and SIGSTOP cannot be caught).
const PROXIED: [Signal; 6] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// [`Proxy::start`], passing the signals on to the container's PID 1 at
/// once (nothing to do if it has none: it is not running).
pub fn proxy(container: &Container) -> anyhow::Result<()> {
    if let Some(pid) = container.state.pid.map(Pid::from_raw) {
        Proxy::start()?.forward_to(pid);
    }
    Ok(())
}

/// A signal proxy that does not know the container's PID 1 yet. `run` starts
/// it while the supervisor starts the container, as docker's CLI starts its
/// proxy between the create and the start: a signal that comes meanwhile is
/// blocked, so it stays pending (signal(7)) and is passed on once the
/// container runs. Dropped unforwarded (the container never ran), it
/// unblocks the signals again in the thread that started it, which is
/// where it must be dropped: what is pending then acts as it would have.
#[derive(Debug)]
pub struct Proxy {
    to: Option<std::sync::mpsc::Sender<Pid>>,
    set: SigSet,
}

impl Proxy {
    /// Blocks the proxied signals in this thread (and so in every thread
    /// it starts after) and starts the thread that will pass them on. Call
    /// it before starting other threads.
    pub fn start() -> anyhow::Result<Proxy> {
        let mut set = SigSet::empty();
        for sig in PROXIED {
            set.add(sig);
        }
        set.thread_block().context("block the signals to pass on")?;
        let (to, pid) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("sig-proxy".into())
            .spawn(move || {
                let Ok(pid) = pid.recv() else {
                    return;
                };
                while let Ok(sig) = set.wait() {
                    let _ = nix::sys::signal::kill(pid, sig);
                }
            })
            .context("start the signal proxy")?;
        Ok(Proxy { to: Some(to), set })
    }

    /// Passes the signals on to `pid`, the container's PID 1, from now on
    /// (those pending first).
    pub fn forward_to(mut self, pid: Pid) {
        if let Some(to) = self.to.take() {
            let _ = to.send(pid);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if self.to.take().is_some() {
            let _ = self.set.thread_unblock();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;

    use super::*;

    /// Set for the re-executed test binary: which of the cases below runs.
    const CASE_VAR: &str = "DOCKYARD_TEST_SIGNAL_PROXY";

    /// Re-executed by the tests below (returns at once when the suite runs),
    /// with SIGUSR1 blocked in every thread from the start, as `run`'s
    /// threads all have it blocked once the proxy starts: a SIGUSR1 sent to
    /// the process while the proxy does not know the container yet stays
    /// pending, then goes where the case says.
    #[test]
    fn proxy_case() {
        let Ok(case) = std::env::var(CASE_VAR) else {
            return;
        };
        let proxy = Proxy::start().unwrap();
        nix::sys::signal::kill(Pid::this(), Signal::SIGUSR1).unwrap();
        match case.as_str() {
            // The "container": a child that SIGUSR1 ends.
            "forwarded" => {
                let mut sleep = Command::new("sleep");
                sleep.arg("10");
                // SAFETY: pthread_sigmask(2) only, between fork and exec.
                unsafe {
                    sleep.pre_exec(|| SigSet::all().thread_unblock().map_err(std::io::Error::from));
                }
                let mut container = sleep.spawn().unwrap();
                proxy.forward_to(Pid::from_raw(container.id() as i32));
                let status = container.wait().unwrap();
                assert_eq!(status.signal(), Some(Signal::SIGUSR1 as i32), "{status}");
            }
            // No container ran: unblocked, the signal ends this process.
            "dropped" => {
                drop(proxy);
                unreachable!("SIGUSR1 was pending and is no longer blocked");
            }
            other => panic!("no case {other}"),
        }
    }

    /// Runs [`proxy_case`] `case` in a new process started with SIGUSR1 blocked.
    fn run_case(case: &str) -> std::process::Output {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "signals::tests::proxy_case", "--test-threads=1"])
            .env(CASE_VAR, case);
        // SAFETY: pthread_sigmask(2) only, between fork and exec; the mask
        // survives execve(2) (signal(7)).
        unsafe {
            cmd.pre_exec(|| {
                let mut set = SigSet::empty();
                set.add(Signal::SIGUSR1);
                set.thread_block().map_err(std::io::Error::from)
            });
        }
        cmd.output().unwrap()
    }

    /// A signal that comes before the container runs reaches it once it does.
    #[test]
    fn a_signal_before_the_start_is_passed_on_once_the_container_runs() {
        let out = run_case("forwarded");
        // It ran (a filter that matched no test would pass too).
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
    }

    /// A proxy that never learned of a container leaves the signal to act
    /// as it would have without one: SIGUSR1 ends the process.
    #[test]
    fn a_proxy_dropped_before_the_start_lets_pending_signals_act() {
        let status = run_case("dropped").status;
        assert_eq!(status.signal(), Some(Signal::SIGUSR1 as i32), "{status}");
    }
}
