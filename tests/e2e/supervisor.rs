//! The supervisor's launch as a caller meets it: what the `dockyard` process
//! leaves to it (descriptors, signal dispositions, a relative state root) and
//! what the host gives it (a `/run` mounted noexec) must not change how the
//! container runs and ends.

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use crate::Sandbox;

/// `dockyard run -d --network none busybox sh -c SCRIPT`.
fn detached_sh(sandbox: &Sandbox, script: &str) -> std::process::Command {
    sandbox.cmd(&[
        "run",
        "-d",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        script,
    ])
}

/// Runs `cmd`, a `dockyard run -d`, and returns the container's ID.
fn run_d(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Waits until `container` has exited and returns its exit code.
fn exit_code(sandbox: &Sandbox, container: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let state = sandbox.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            container,
        ]);
        if let Some(code) = state.trim().strip_prefix("exited ") {
            return code.to_string();
        }
        assert!(Instant::now() < deadline, "{container} is still {state}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_descriptor_the_caller_left_open_is_not_held_by_the_supervisor() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sup-fd");
    // A shell's `3>&1 | cat`: the pipe's write end open, without
    // close-on-exec, in `dockyard` (fd 3). `cat` ends when every holder has
    // closed it: the CLI at once, the container's supervisor never should.
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    let raw = write_end.as_raw_fd();
    let mut cmd = sandbox.cmd(&["run", "-d", "--network", "none", "busybox", "sleep", "30"]);
    // SAFETY: dup2(2) only, between fork and exec.
    unsafe {
        cmd.pre_exec(move || match libc::dup2(raw, 3) {
            -1 => Err(std::io::Error::last_os_error()),
            _ => Ok(()),
        });
    }
    run_d(&mut cmd);
    drop(write_end);
    let (done, waited) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut rest = Vec::new();
        let _ = std::fs::File::from(read_end).read_to_end(&mut rest);
        let _ = done.send(());
    });
    assert!(
        waited.recv_timeout(Duration::from_secs(10)).is_ok(),
        "the pipe stays open while the container runs: its supervisor holds it"
    );
}

#[test]
fn a_caller_that_ignores_sigchld_still_gets_the_exit_status() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sup-sigchld");
    let mut cmd = detached_sh(&sandbox, "sleep 0.2; exit 3");
    // As Python's signal(SIGCHLD, SIG_IGN) leaves it: an ignored disposition
    // survives fork(2) and execve(2), and with it the kernel reaps children
    // itself (wait(2)).
    // SAFETY: signal(2) with SIG_IGN, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGCHLD, libc::SIG_IGN);
            Ok(())
        });
    }
    assert_eq!(exit_code(&sandbox, &run_d(&mut cmd)), "3");
}

#[test]
fn a_relative_state_root_works_for_a_detached_container() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sup-relative");
    let (parent, name) = (
        sandbox.root().parent().unwrap(),
        sandbox.root().file_name().unwrap(),
    );
    let mut cmd = detached_sh(&sandbox, "exit 4");
    cmd.env("DOCKYARD_ROOT", name).current_dir(parent);
    assert_eq!(exit_code(&sandbox, &run_d(&mut cmd)), "4");
}

#[test]
fn a_noexec_run_directory_does_not_stop_containers() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sup-noexec");
    // Many distributions mount /run noexec; here only in a mount namespace
    // of this command's own (unshare(1) makes its mounts private).
    let dockyard = sandbox.cmd(&[]);
    let out = std::process::Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg(
            "mkdir -p /run/dockyard && mount -t tmpfs -o noexec tmpfs /run/dockyard && \
             exec \"$DOCKYARD\" run --rm --network none busybox echo started",
        )
        .envs(dockyard.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("DOCKYARD", dockyard.get_program())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "started\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn commands_that_end_at_once_run_in_the_foreground_without_a_hitch() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sup-quick");
    // `run` follows the log through the supervisor's socket, and `-i` sends
    // stdin through it: a command that is over before `run` connects must
    // still end `run` with its status, not with a broken pipe.
    for i in 0..30 {
        for interactive in [false, true] {
            let mut args = vec!["run", "--rm", "--network", "none"];
            if interactive {
                args.push("-i");
            }
            args.extend(["busybox", "sh", "-c", "echo quick; exit 3"]);
            let out = sandbox
                .cmd(&args)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert_eq!(
                (
                    out.status.code(),
                    String::from_utf8_lossy(&out.stdout).as_ref()
                ),
                (Some(3), "quick\n"),
                "run {i} (-i: {interactive}): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// A terminal that hangs up as `run --rm` returns cuts nothing short. A
/// session leader's exit makes the kernel send SIGHUP to its terminal's
/// foreground process group (credentials(7)): a `run` under `script`, or as
/// an ssh session's command, is that leader, and the removal it leaves to a
/// child of its own (see the engine's `purge_meanwhile`) was in that group,
/// died half-way and left `/run/dockyard/ID` for ever.
#[test]
fn a_hangup_as_run_rm_returns_does_not_cut_the_removal_short() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sup-hup");
    let mut ids = Vec::new();
    for _ in 0..10 {
        let pty = nix::pty::openpty(None, None).unwrap();
        let terminal = pty.slave.as_raw_fd();
        // With `-t`, no signal proxy blocks SIGHUP in the run.
        let mut cmd = sandbox.cmd(&[
            "run",
            "--rm",
            "-t",
            "--network",
            "none",
            "busybox",
            "hostname",
        ]);
        // SAFETY: setsid(2) and ioctl(2) only, between fork and exec: the
        // run leads a session whose controlling terminal is the pty.
        unsafe {
            cmd.pre_exec(move || {
                nix::unistd::setsid()?;
                if libc::ioctl(terminal, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // The container's hostname is its short ID.
        let out = cmd
            .stdin(std::process::Stdio::from(pty.slave.try_clone().unwrap()))
            .output()
            .unwrap();
        assert!(out.status.success());
        ids.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    // What a removal cut short leaves in /run, removed even if we fail.
    struct RunDirs<'a>(&'a [String]);
    impl Drop for RunDirs<'_> {
        fn drop(&mut self) {
            for entry in std::fs::read_dir("/run/dockyard")
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                if self.0.iter().any(|id| name.starts_with(id.as_str())) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    }
    let _run_dirs = RunDirs(&ids);
    let left = |dir: &std::path::Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| ids.iter().any(|id| name.contains(id.as_str())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let containers = sandbox.root().join("containers");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (run, store) = (
            left(std::path::Path::new("/run/dockyard")),
            left(&containers),
        );
        if run.is_empty() && store.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left in /run/dockyard: {run:?}; in the store: {store:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
