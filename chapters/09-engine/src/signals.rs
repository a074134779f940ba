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

/// Blocks the proxied signals in this thread (and so in every thread it
/// starts after) and starts a thread that waits for them and sends each to
/// the container's PID 1. Call it before starting other threads.
pub fn proxy(container: &Container) -> anyhow::Result<()> {
    let Some(pid) = container.state.pid.map(Pid::from_raw) else {
        return Ok(());
    };
    let mut set = SigSet::empty();
    for sig in PROXIED {
        set.add(sig);
    }
    set.thread_block().context("block the signals to pass on")?;
    std::thread::Builder::new()
        .name("sig-proxy".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                let _ = nix::sys::signal::kill(pid, sig);
            }
        })
        .context("start the signal proxy")?;
    Ok(())
}
