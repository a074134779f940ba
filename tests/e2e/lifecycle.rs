//! Containers that outlive the command: `run -d` under a supervisor, `logs`,
//! `stop`, restart policies, `exec`, `attach`, `pause`, and what they leave
//! behind (nothing).

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::Command;

use crate::{Sandbox, snapshot_text, supervisor_pid, wait_until};

/// `inspect -f FORMAT NAME`, trimmed.
fn inspect(sandbox: &Sandbox, format: &str, name: &str) -> String {
    sandbox
        .ok(&["inspect", "-f", format, name])
        .trim()
        .to_string()
}

/// Waits up to 10 s for container `name`, which a `run` in the background
/// is making, to be running (before that, `inspect` may not find it).
fn wait_running(sandbox: &Sandbox, name: &str) {
    wait_until(10, &format!("{name} to run"), || {
        sandbox
            .cmd(&["inspect", "-f", "{{.State.Status}}", name])
            .output()
            .is_ok_and(|out| out.stdout == b"running\n")
    });
}

/// The redactions for these scenarios: the sandbox's, plus `date`'s output.
fn settings(sandbox: &Sandbox) -> insta::Settings {
    let mut settings = sandbox.redactions();
    settings.add_filter(r"\w{3} \w{3} +\d+ \d\d:\d\d:\d\d UTC \d{4}", "[DATE]");
    settings.add_filter(r"\bUp (Less than a second|\d+ seconds?)\b", "Up [TIME]");
    settings
}

const TICKER: &str = "while true; do date; sleep 1; done";

#[test]
fn run_d_returns_at_once_and_logs_show_the_lines() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-logs");
    let started = Instant::now();
    let id = sandbox.ok(&[
        "run", "-d", "--name", "ticker", "busybox", "sh", "-c", TICKER,
    ]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "run -d returns at once"
    );
    assert_eq!(id.trim().len(), 64, "run -d prints the full ID: {id:?}");
    wait_until(10, "three lines", || {
        sandbox.ok(&["logs", "ticker"]).lines().count() >= 3
    });
    // logs -f shows the lines so far, then new ones, until the run ends.
    let mut follow = sandbox
        .cmd(&["logs", "-f", "ticker"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let before = sandbox.ok(&["logs", "ticker"]).lines().count();
    std::thread::sleep(Duration::from_millis(1500));
    sandbox.ok(&["stop", "-t", "1", "ticker"]);
    let mut followed = String::new();
    follow
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut followed)
        .unwrap();
    assert!(follow.wait().unwrap().success());
    assert!(
        followed.lines().count() > before,
        "logs -f showed the new lines too:\n{followed}"
    );
    assert_eq!(followed, sandbox.ok(&["logs", "ticker"]));
    let transcript = sandbox.transcripts(&[
        &["logs", "-t", "--tail", "2", "ticker"],
        &["logs", "--tail", "1", "ticker"],
        &["ps", "-a", "--format", "{{.Names}} {{.Status}}"],
    ]);
    snapshot_text("logs", transcript, settings(&sandbox));
}

#[test]
fn stop_kills_a_pid_1_that_ignores_sigterm_after_the_timeout() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-stop");
    // PID 1 gets no signal it has no handler for: `sleep` ignores SIGTERM.
    sandbox.ok(&["run", "-d", "--name", "stubborn", "busybox", "sleep", "600"]);
    let started = Instant::now();
    let transcript = sandbox.transcripts(&[
        &["stop", "-t", "1", "stubborn"],
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.Running}}",
            "stubborn",
        ],
        &["ps", "-a", "--format", "{{.Names}} {{.Status}}"],
    ]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "stop took {took:?}"
    );
    snapshot_text("stop_137", transcript, settings(&sandbox));
}

#[test]
fn on_failure_restarts_three_times() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-restart");
    sandbox.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "echo attempt; exit 2",
    ]);
    wait_until(20, "the last restart", || {
        inspect(&sandbox, "{{.RestartCount}} {{.State.Status}}", "flaky") == "3 exited"
    });
    // The supervisor has let go once nothing more will happen.
    Command::from_std(sandbox.cmd(&["wait", "flaky"]))
        .timeout(Duration::from_secs(10))
        .assert()
        .success()
        .stdout("2\n");
    let transcript = sandbox.transcripts(&[
        &[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.ExitCode}} {{json .HostConfig.RestartPolicy}}",
            "flaky",
        ],
        &["logs", "flaky"],
    ]);
    snapshot_text("restart_on_failure", transcript, settings(&sandbox));
}

/// `run` and `exec` from a CLI that ignores what nohup and a shell's
/// background job ignore (SIGHUP, SIGINT, SIGQUIT), and SIGPIPE as Rust
/// does: neither the container's PID 1 nor an exec'd command inherits that,
/// as under docker, whose daemon starts both.
#[test]
fn commands_in_a_container_ignore_no_signal_the_cli_ignored() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sigign");
    let ignoring = |args: &[&str]| {
        let mut cmd = sandbox.cmd(args);
        // SAFETY: signal(2) with SIG_IGN, between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGPIPE] {
                    libc::signal(sig, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let none_ignored = ("SigIgn:\t0000000000000000\n".to_string(), String::new());
    let grep = ["grep", "SigIgn", "/proc/self/status"];
    let run = [&["run", "--rm", "busybox"][..], &grep].concat();
    assert_eq!(ignoring(&run), none_ignored, "run's PID 1");
    ignoring(&["run", "-d", "--name", "idle", "busybox", "sleep", "600"]);
    let exec = [&["exec", "idle"][..], &grep].concat();
    assert_eq!(ignoring(&exec), none_ignored, "an exec'd command");
    // Killed by SIGPIPE when `head` has read its line, `yes` says nothing.
    let piped = ["exec", "idle", "sh", "-c", "yes | head -1"];
    assert_eq!(ignoring(&piped), ("y\n".to_string(), String::new()));
}

#[test]
fn exec_sees_the_containers_hostname_processes_and_files() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-exec");
    let script = "echo from-pid-1 > /shared; hostname > /hostname; sleep 600";
    sandbox.ok(&[
        "run", "-d", "--name", "target", "busybox", "sh", "-c", script,
    ]);
    wait_until(10, "the container's files", || {
        sandbox
            .cmd(&["exec", "target", "cat", "/hostname"])
            .output()
            .unwrap()
            .status
            .success()
    });
    let hostname = sandbox.ok(&["exec", "target", "cat", "/hostname"]);
    assert_eq!(sandbox.ok(&["exec", "target", "hostname"]), hostname);
    assert_eq!(
        hostname.trim(),
        inspect(&sandbox, "{{.Config.Hostname}}", "target")
    );
    // In PID 1's cgroups: seen from its cgroup namespace, a process outside
    // them would show a path with `..` in it.
    let both = sandbox.ok(&[
        "exec",
        "target",
        "sh",
        "-c",
        "cat /proc/self/cgroup; echo; cat /proc/1/cgroup",
    ]);
    let (exec, init) = both.split_once("\n\n").expect("two listings");
    assert_eq!(exec.trim(), init.trim(), "exec's cgroups, then PID 1's");
    assert!(!exec.contains(".."), "{exec}");
    let transcript = sandbox.transcripts(&[
        // The same files and PID namespace: PID 1 is the container's command.
        &["exec", "target", "cat", "/shared"],
        &[
            "exec",
            "target",
            "sh",
            "-c",
            "tr '\\0' ' ' < /proc/1/cmdline; echo",
        ],
        &[
            "exec",
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            "-e",
            "GREETING=hi",
            "target",
            "sh",
            "-c",
            "pwd; id; echo $GREETING; exit 3",
        ],
        &["exec", "target", "no-such-command"],
    ]);
    snapshot_text("exec", transcript, settings(&sandbox));
    sandbox.ok(&["exec", "-d", "target", "touch", "/from-exec"]);
    wait_until(5, "exec -d's file", || {
        sandbox
            .cmd(&["exec", "target", "test", "-e", "/from-exec"])
            .output()
            .unwrap()
            .status
            .success()
    });
}

#[test]
fn exec_privileged_and_env_file() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-exec-flags");
    sandbox.ok(&[
        "run",
        "-d",
        "--name",
        "locked",
        "--cap-drop",
        "ALL",
        "-e",
        "FROM=container",
        "busybox",
        "sleep",
        "600",
    ]);
    let env_file = sandbox.root().join("exec.env");
    std::fs::write(
        &env_file,
        "# docker's format\nFROM=env-file\nONLY_FILE=yes\n",
    )
    .unwrap();
    let env_file = env_file.display().to_string();
    let transcript = sandbox.transcripts(&[
        // The container's capabilities (none), then every one with --privileged.
        &["exec", "locked", "chown", "1", "/tmp"],
        &["exec", "--privileged", "locked", "chown", "1", "/tmp"],
        // The container's seccomp filter stays, as with runc's exec.
        &[
            "exec",
            "--privileged",
            "locked",
            "unshare",
            "--user",
            "true",
        ],
        // The container's environment, then --env-file, then -e.
        &[
            "exec",
            "--env-file",
            &env_file,
            "locked",
            "sh",
            "-c",
            "echo $FROM $ONLY_FILE",
        ],
        &[
            "exec",
            "--env-file",
            &env_file,
            "-e",
            "FROM=minus-e",
            "locked",
            "sh",
            "-c",
            "echo $FROM $ONLY_FILE",
        ],
        &["exec", "--env-file", "/no/such/file", "locked", "true"],
    ]);
    snapshot_text("exec_flags", transcript, settings(&sandbox));
}

/// A `dockyard` command on a pseudo-terminal of its own, as a person at a
/// terminal runs it: keys are typed on the pty's master side and what the
/// command shows is read from there.
struct Terminal {
    child: std::process::Child,
    master: std::fs::File,
    words: Vec<String>,
    seen: String,
}

impl Terminal {
    /// Spawns `dockyard ARGS` with the pty's slave side as its stdio, 24
    /// lines of 80 columns, in a process group of its own (see [`Terminal::resize`]).
    fn spawn(sandbox: &Sandbox, args: &[&str]) -> Terminal {
        let size = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).unwrap();
        let slave = || Stdio::from(pty.slave.try_clone().unwrap());
        let child = sandbox
            .cmd(args)
            .env_remove("TERM")
            .stdin(slave())
            .stdout(slave())
            .stderr(slave())
            .process_group(0)
            .spawn()
            .unwrap();
        let mut words = vec!["dockyard".to_string()];
        words.extend(args.iter().map(|arg| arg.to_string()));
        Terminal {
            child,
            master: std::fs::File::from(pty.master),
            words,
            seen: String::new(),
        }
    }

    /// Resizes the terminal and, as a terminal does for its foreground
    /// process group, sends that group SIGWINCH (the command's pty is not
    /// its controlling terminal, so the kernel would not).
    fn resize(&mut self, rows: u16, cols: u16) {
        nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, nix::pty::Winsize);
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a Winsize from the pointer.
        unsafe { set_winsize(self.master.as_raw_fd(), &size) }.unwrap();
        let group = nix::unistd::Pid::from_raw(-(self.child.id() as i32));
        nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGWINCH).unwrap();
    }

    /// Types `keys`.
    fn type_keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }

    /// Reads what the command shows until `text` has been seen (10 s at most).
    fn read_until(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.seen.contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} in {:?}", self.seen);
            self.read_some();
        }
    }

    /// Reads until `text` shows after the first `after` (10 s at most).
    fn read_until_after(&mut self, after: &str, text: &str) {
        self.read_until(after);
        let deadline = Instant::now() + Duration::from_secs(10);
        let start = self.seen.find(after).expect("just read") + after.len();
        while !self.seen[start..].contains(text) {
            assert!(Instant::now() < deadline, "no {text:?} in {:?}", self.seen);
            self.read_some();
        }
    }

    /// Reads what the command shows within 100 ms, if anything.
    fn read_some(&mut self) {
        let mut buf = [0u8; 1024];
        if self.readable_within_100ms() {
            let n = self.master.read(&mut buf).unwrap();
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }

    /// Whether the terminal has something to read, or is closed, within
    /// 100 ms. poll(2) fails with EINTR whenever a signal handler runs in
    /// this thread, and this process has one: assert_cmd's timeouts
    /// (wait-timeout) catch SIGCHLD, so any test's child ending interrupts
    /// the wait, which then starts again.
    fn readable_within_100ms(&self) -> bool {
        loop {
            let mut fds = [nix::poll::PollFd::new(
                self.master.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)) {
                Err(nix::errno::Errno::EINTR) => continue,
                ready => return ready.unwrap() > 0,
            }
        }
    }

    /// Waits for the command's end (10 s at most) and returns all the
    /// terminal showed, as a transcript (see `testkit::transcript`): its
    /// `\r\n` read as `\n`, without the control sequences a terminal acts on
    /// rather than shows (busybox's shell asks where the cursor is).
    fn transcript(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "{:?} did not end", self.words);
            std::thread::sleep(Duration::from_millis(50));
        };
        // The rest: what it wrote before it ended is there now (a read ends
        // with EIO once the slave side is closed, if nothing else holds it).
        let mut buf = [0u8; 1024];
        while self.readable_within_100ms() {
            match self.master.read(&mut buf) {
                Ok(n @ 1..) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => break,
            }
        }
        let controls = regex::Regex::new(r"\x1b\[[0-9;?]*[A-Za-z]").unwrap();
        let shown = controls.replace_all(&self.seen, "").replace("\r\n", "\n");
        testkit::transcript_of(&self.words, &shown, status)
    }
}

#[test]
fn attach_and_the_detach_keys_under_a_terminal() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-attach");
    sandbox.ok(&["run", "-dit", "--name", "console", "busybox", "sh"]);
    let mut attach = Terminal::spawn(&sandbox, &["attach", "console"]);
    std::thread::sleep(Duration::from_millis(300));
    attach.type_keys(b"echo $((6 * 7))\n");
    attach.read_until("42");
    // Ctrl-P Ctrl-Q: attach ends, the container goes on.
    attach.type_keys(&[0x10, 0x11]);
    let transcript = attach.transcript();
    // As docker's attach: its stream's "error", and the status of one.
    assert!(
        transcript.ends_with("read escape sequence\n[exit status 1]\n"),
        "{transcript}"
    );
    assert_eq!(inspect(&sandbox, "{{.State.Status}}", "console"), "running");
    // run -it: docker's run takes a detach quietly, with 0.
    let mut run = Terminal::spawn(
        &sandbox,
        &["run", "-it", "--name", "quiet", "busybox", "sh"],
    );
    run.type_keys(b"echo $((6 * 7))\n");
    run.read_until("42");
    run.type_keys(&[0x10, 0x11]);
    let transcript = run.transcript();
    assert!(
        !transcript.contains("escape") && !transcript.contains("[exit"),
        "{transcript}"
    );
    assert_eq!(inspect(&sandbox, "{{.State.Status}}", "quiet"), "running");
}

#[test]
fn exec_it_and_the_detach_keys_under_a_terminal() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-exec-detach");
    sandbox.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "600"]);
    // Ctrl-P Ctrl-Q: exec ends, its shell goes on.
    let mut exec = Terminal::spawn(&sandbox, &["exec", "-it", "box", "sh"]);
    exec.read_until("/ # ");
    exec.type_keys(b"echo $((6 * 7))\n");
    // The prompt after the answer too, before the keys: else it may come
    // after the CLI's "read escape sequence", and the transcript differs.
    exec.read_until_after("42", "/ # ");
    exec.type_keys(&[0x10, 0x11]);
    exec.read_until("read escape sequence");
    let mut groups = vec![exec.child.id()];
    let mut transcript = exec.transcript();
    // --detach-keys, with docker's spelling of keys.
    let mut exec = Terminal::spawn(
        &sandbox,
        &["exec", "-it", "--detach-keys", "ctrl-a,x", "box", "sh"],
    );
    exec.read_until("/ # ");
    exec.type_keys(&[0x01, b'x']);
    exec.read_until("read escape sequence");
    groups.push(exec.child.id());
    transcript.push_str(&exec.transcript());
    transcript.push_str(&sandbox.transcripts(&[&[
        "exec",
        "-it",
        "--detach-keys",
        "ctrl-",
        "box",
        "sh",
    ]]));
    let mut settings = settings(&sandbox);
    settings.add_filter(r"BusyBox v\S+ \([^)]*\)", "BusyBox [VERSION]");
    snapshot_text("exec_detach", transcript, settings);
    // A detached command that keeps writing to its terminal: it stops (its
    // echo fails) if whatever holds its pty goes.
    let script = "while echo tick; do sleep 0.1; done";
    let mut exec = Terminal::spawn(&sandbox, &["exec", "-it", "box", "sh", "-c", script]);
    exec.read_until("tick");
    exec.type_keys(&[0x10, 0x11]);
    exec.read_until("read escape sequence");
    groups.push(exec.child.id());
    let shown = exec.transcript();
    assert!(
        shown.ends_with("read escape sequence\n[exit status 1]\n"),
        "{shown}"
    );
    // The user closes the terminal: the kernel sends SIGHUP to its
    // foreground process group, each exec's (it is a leader of its own here).
    // Whatever holds a detached command's pty must not be in it.
    for group in groups {
        let group = nix::unistd::Pid::from_raw(-(group as i32));
        let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGHUP);
    }
    std::thread::sleep(Duration::from_millis(500));
    // The three still run in the container, with no terminal left attached.
    let shells = sandbox.ok(&["exec", "box", "pidof", "sh"]);
    assert_eq!(shells.split_whitespace().count(), 3, "{shells:?}");
    // And what reads the ticker's terminal is still there (else the pty
    // fills and the ticker blocks for good): a dockyard process with its script.
    let holders = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| std::fs::read(entry.ok()?.path().join("cmdline")).ok())
        .map(|line| String::from_utf8_lossy(&line).replace('\0', " "))
        .filter(|line| line.contains("dockyard") && line.contains(script))
        .count();
    assert_eq!(
        holders, 1,
        "the detached exec's pty holder went with the terminal"
    );
}

#[test]
fn exec_t_gives_the_command_the_terminals_size_and_its_changes() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-exec-size");
    sandbox.ok(&["run", "-d", "--name", "sized", "busybox", "sleep", "600"]);
    let mut exec = Terminal::spawn(&sandbox, &["exec", "-it", "sized", "sh"]);
    exec.read_until("/ # ");
    exec.type_keys(b"stty size\n");
    exec.read_until("24 80");
    exec.resize(30, 100);
    // The copier passes the size on when it reads its SIGWINCH: ask (each
    // answer ends with a new prompt) until the answer is the new size.
    for asked in 1.. {
        let prompts = exec.seen.matches("/ # ").count();
        exec.type_keys(b"stty size\n");
        let deadline = Instant::now() + Duration::from_secs(10);
        while exec.seen.matches("/ # ").count() == prompts {
            assert!(Instant::now() < deadline, "no answer in {:?}", exec.seen);
            exec.read_some();
        }
        if exec.seen.contains("30 100") {
            break;
        }
        assert!(asked < 50, "the size never changed: {:?}", exec.seen);
        std::thread::sleep(Duration::from_millis(100));
    }
    exec.type_keys(b"exit\n");
    let shown = exec.transcript();
    // Status 0: a transcript shows no `[exit status N]` or `[signal ...]` line.
    assert!(!shown.contains("\n["), "{shown}");
}

#[test]
fn a_named_volume_outlives_its_container() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-volume");
    let transcript = sandbox.transcripts(&[
        &[
            "run",
            "--name",
            "writer",
            "-v",
            "keep:/data",
            "busybox",
            "sh",
            "-c",
            "echo kept > /data/file",
        ],
        &["rm", "writer"],
        &["volume", "ls"],
        &[
            "run",
            "--rm",
            "-v",
            "keep:/data",
            "busybox",
            "cat",
            "/data/file",
        ],
        &[
            "run",
            "--name",
            "user",
            "-v",
            "keep:/data",
            "busybox",
            "true",
        ],
        &["volume", "rm", "keep"],
        &["rm", "user"],
        &["volume", "rm", "keep"],
        &["volume", "ls", "-q"],
    ]);
    snapshot_text("named_volume", transcript, settings(&sandbox));
}

#[test]
fn a_read_only_bind_mount_refuses_writes() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-bind-ro");
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("seen"), "from the host\n").unwrap();
    let ro = format!("{}:/host:ro", host.path().display());
    let rw = format!("{}:/host", host.path().display());
    let mut settings = settings(&sandbox);
    settings.add_filter(
        &testkit::regex_escape(&host.path().display().to_string()),
        "[HOSTDIR]",
    );
    let transcript = sandbox.transcripts(&[
        &[
            "run",
            "--rm",
            "-v",
            &ro,
            "busybox",
            "sh",
            "-c",
            "cat /host/seen; touch /host/new 2>&1",
        ],
        &[
            "run",
            "--rm",
            "-v",
            &rw,
            "busybox",
            "sh",
            "-c",
            "echo written > /host/new",
        ],
    ]);
    snapshot_text("bind_ro", transcript, settings);
    assert_eq!(
        std::fs::read_to_string(host.path().join("new")).unwrap(),
        "written\n"
    );
}

#[test]
fn pause_freezes_and_unpause_resumes() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-pause");
    let script = "while true; do echo tick; sleep 0.1; done";
    sandbox.ok(&[
        "run", "-d", "--name", "clock", "busybox", "sh", "-c", script,
    ]);
    let lines = || sandbox.ok(&["logs", "clock"]).lines().count();
    wait_until(10, "ticks", || lines() >= 3);
    let transcript = sandbox.transcripts(&[
        &["pause", "clock"],
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}}",
            "clock",
        ],
        &["ps", "--format", "{{.Names}} {{.Status}}"],
        &["pause", "clock"],
    ]);
    let frozen = lines();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(lines(), frozen, "a paused container writes nothing");
    let transcript = transcript
        + &sandbox.transcripts(&[
            &["unpause", "clock"],
            &[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.Paused}}",
                "clock",
            ],
        ]);
    wait_until(10, "ticks after unpause", || lines() > frozen + 2);
    snapshot_text("pause", transcript, settings(&sandbox));
}

/// The overlay mounts, cgroups and supervisors of `sandbox` now.
fn leftovers(sandbox: &Sandbox) -> Vec<String> {
    let mut found = Vec::new();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = sandbox.root().display().to_string();
    found.extend(
        mountinfo
            .lines()
            .filter(|l| l.contains(&root))
            .map(str::to_string),
    );
    for controller in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let parent = controller.path().join(sandbox.parent.name());
        if let Ok(children) = std::fs::read_dir(&parent) {
            found.extend(
                children
                    .flatten()
                    .filter(|c| c.path().is_dir())
                    .map(|c| c.path().display().to_string()),
            );
        }
    }
    for proc in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(proc.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&root) && cmdline.contains(" shim ") {
                found.push(cmdline);
            }
        }
    }
    found
}

#[test]
fn run_d_and_rm_f_cycles_leave_nothing_behind() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-cycles");
    let started = Instant::now();
    let cycles = 200;
    let mut ids = Vec::new();
    for _ in 0..cycles {
        let id = sandbox.ok(&["run", "-d", "busybox", "sleep", "600"]);
        sandbox.ok(&["rm", "-f", id.trim()]);
        ids.push(id.trim().to_string());
    }
    eprintln!(
        "{cycles} run -d / rm -f cycles took {:?}",
        started.elapsed()
    );
    assert_eq!(sandbox.ok(&["ps", "-aq"]), "");
    assert_eq!(leftovers(&sandbox), Vec::<String>::new());
    let supervisor_dirs: Vec<&String> = ids
        .iter()
        .filter(|id| std::path::Path::new("/run/dockyard").join(id).exists())
        .collect();
    assert!(
        supervisor_dirs.is_empty(),
        "left in /run/dockyard: {supervisor_dirs:?}"
    );
}

/// A start that fails once the supervisor's small program runs (it runs
/// before the command does, and waits for the word that it does: `--go`)
/// leaves no supervisor behind, nor anything else.
#[test]
fn failed_starts_leave_no_supervisor_behind() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-failed-start");
    // `docker start` says 1 for any error, `run` the command's 127.
    for (args, code) in [
        (&["run", "--rm", "busybox", "no-such-command"][..], 127),
        (
            &["run", "--name", "kept", "busybox", "no-such-command"],
            127,
        ),
        (&["start", "kept"], 1),
    ] {
        let out = sandbox.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        wait_until(10, "the failed start's supervisor to go", || {
            leftovers(&sandbox).is_empty()
        });
    }
    assert_eq!(
        inspect(&sandbox, "{{.State.Status}} {{.State.ExitCode}}", "kept"),
        "exited 127"
    );
}

/// `run --rm` answers before its container's cgroup goes (the purge removes
/// it, with the files, while nobody waits): the OOM killer's mark is read
/// before, so a memory hog is still reported, and then nothing is left.
#[test]
fn run_rm_reports_an_oom_kill_then_its_cgroup_goes() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-rm-oom");
    let args = [
        "run",
        "--rm",
        "--memory",
        "32m",
        "busybox",
        "tail",
        "/dev/zero",
    ];
    let out = sandbox.cmd(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "dockyard: the process was OOM-killed (memory limit 32MiB)\n"
    );
    assert_eq!(sandbox.ok(&["ps", "-aq"]), "");
    wait_until(10, "the container's cgroup to go", || {
        leftovers(&sandbox).is_empty()
    });
}

#[test]
fn a_killed_supervisor_is_seen_as_exited_and_cleaned_up() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-shim-kill");
    let id = sandbox.ok(&["run", "-d", "--name", "orphan", "busybox", "sleep", "600"]);
    let pid = supervisor_pid(id.trim());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until(10, "the supervisor's end", || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    });
    assert_eq!(
        inspect(&sandbox, "{{.State.Status}} {{.State.ExitCode}}", "orphan"),
        "exited 137"
    );
    assert_eq!(leftovers(&sandbox), Vec::<String>::new());
}

#[test]
fn bad_input_is_refused_in_dockers_words_and_changes_nothing() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-lifecycle-bad");
    sandbox.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "600"]);
    sandbox.ok(&["create", "--name", "idle", "busybox", "true"]);
    // 17 containers: two of them share a first hex digit.
    let mut ids = Vec::new();
    for _ in 0..15 {
        ids.push(
            sandbox
                .ok(&["create", "busybox", "true"])
                .trim()
                .to_string(),
        );
    }
    ids.push(inspect(&sandbox, "{{.Id}}", "busy"));
    ids.push(inspect(&sandbox, "{{.Id}}", "idle"));
    let shared = ids
        .iter()
        .map(|id| id[..1].to_string())
        .find(|p| ids.iter().filter(|id| id.starts_with(p.as_str())).count() > 1)
        .unwrap();
    let before = sandbox.ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.ID}} {{.Names}} {{.State}}",
    ]);
    let volumes = sandbox.ok(&["volume", "ls", "-q"]);
    let mut settings = settings(&sandbox);
    settings.add_filter(
        &format!("(multiple IDs found with provided prefix: ){shared}"),
        "$1[PREFIX]",
    );
    settings.add_filter(
        &format!("dockyard inspect {shared}\n"),
        "dockyard inspect [PREFIX]\n",
    );
    let transcript = sandbox.transcripts(&[
        &["run", "-d", "--name", "busy", "busybox", "true"],
        &["inspect", "no-such-thing"],
        &["stop", "no-such-thing"],
        &["inspect", &shared],
        &["exec", "idle", "true"],
        &["rm", "busy"],
        &["run", "-v", "data/dir:/data", "busybox", "true"],
        &["run", "-v", "/tmp:/data:rx", "busybox", "true"],
        &["run", "--restart", "on-failure:x", "busybox", "true"],
        &["unpause", "busy"],
        &["kill", "idle"],
    ]);
    snapshot_text("lifecycle_bad_input", transcript, settings);
    assert_eq!(
        sandbox.ok(&[
            "ps",
            "-a",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Names}} {{.State}}"
        ]),
        before
    );
    assert_eq!(sandbox.ok(&["volume", "ls", "-q"]), volumes);
}

#[test]
fn stats_reads_the_containers_cgroup() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-stats");
    sandbox.ok(&[
        "run", "-d", "--name", "sleeper", "-m", "64m", "busybox", "sleep", "600",
    ]);
    sandbox.ok(&["create", "--name", "fresh", "busybox", "true"]);
    let format = "{{.Name}} {{.PIDs}} {{.MemUsage}}";
    let running = sandbox.ok(&["stats", "--no-stream", "--format", format]);
    assert!(
        running.starts_with("sleeper 1 ") && running.trim_end().ends_with(" / 64MiB"),
        "{running}"
    );
    let all = sandbox.ok(&[
        "stats",
        "--no-stream",
        "-a",
        "--format",
        "{{.Name}} {{.PIDs}} {{.BlockIO}}",
    ]);
    // Block I/O as docker prints it (bytes read / written, in units of 1000):
    // the machine decides how much, and whether its kernel counts it at all.
    let size = r"[0-9]+(\.[0-9]+)?[kMGT]?B";
    let sleeper = regex::Regex::new(&format!("(?m)^sleeper 1 {size} / {size}$")).unwrap();
    assert!(
        all.contains("fresh 0 0B / 0B\n") && sleeper.is_match(&all),
        "{all}"
    );
}

#[test]
fn run_it_is_attached_and_passes_the_exit_status_on() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-run-it");
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = || Stdio::from(pty.slave.try_clone().unwrap());
    let mut run = sandbox
        .cmd(&["run", "-it", "--rm", "busybox", "sh"])
        .stdin(slave())
        .stdout(slave())
        .stderr(slave())
        .spawn()
        .unwrap();
    let mut master = std::fs::File::from(pty.master.try_clone().unwrap());
    wait_until(10, "the container", || sandbox.ok(&["ps", "-q"]).len() > 1);
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"exit 9\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "run -it did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(9));
    assert_eq!(sandbox.ok(&["ps", "-aq"]), "", "--rm removed it");
}

#[test]
fn init_runs_as_pid_1_and_passes_stop_signals_on() {
    testkit::require_root!();
    let path = std::env::var("PATH").unwrap_or_default();
    let found = ["docker-init", "tini-static"]
        .iter()
        .any(|name| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    // `cargo xtask setup` installs Debian's tini: missing, the test fails rather than
    // passing in silence.
    assert!(
        found,
        "--init needs docker-init or tini-static in PATH: run `cargo xtask setup`"
    );
    let sandbox = Sandbox::with_busybox("e2e-init");
    assert_eq!(
        sandbox.ok(&["run", "--rm", "--init", "busybox", "cat", "/proc/1/comm"]),
        "docker-init\n"
    );
    sandbox.ok(&[
        "run", "-d", "--init", "--name", "polite", "busybox", "sleep", "600",
    ]);
    let started = Instant::now();
    sandbox.ok(&["stop", "polite"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the init passed SIGTERM on: no 10 s timeout"
    );
    assert_eq!(
        inspect(
            &sandbox,
            "{{.State.ExitCode}} {{.HostConfig.Init}}",
            "polite"
        ),
        "143 true"
    );
}

#[test]
fn a_foreground_run_is_logged_takes_stdin_and_passes_signals_on() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-foreground");
    Command::from_std(sandbox.cmd(&["run", "-i", "--rm", "busybox", "cat"]))
        .write_stdin("piped in\n")
        .timeout(Duration::from_secs(10))
        .assert()
        .success()
        .stdout("piped in\n");
    sandbox.ok(&["run", "--name", "said", "busybox", "echo", "logged too"]);
    assert_eq!(sandbox.ok(&["logs", "said"]), "logged too\n");
    // Ctrl-C reaches the container's PID 1 (--sig-proxy, on by default).
    let script = "trap 'echo got INT; exit 42' INT; while true; do sleep 0.1; done";
    let run = sandbox
        .cmd(&["run", "--name", "trapper", "busybox", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_running(&sandbox, "trapper");
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(run.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(42));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got INT\n");
}

/// A `dockyard` command running with its output piped, past its first line.
struct Attached {
    child: std::process::Child,
    rest: std::thread::JoinHandle<String>,
}

impl Attached {
    /// Spawns `dockyard ARGS` and waits for its first line (the container's
    /// trap is set and the CLI is attached), which it returns too.
    fn spawn(sandbox: &Sandbox, args: &[&str]) -> (Attached, String) {
        let mut child = sandbox.cmd(args).stdout(Stdio::piped()).spawn().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = Vec::new();
        let mut byte = [0u8; 1];
        while !first.ends_with(b"\n") && stdout.read(&mut byte).unwrap() == 1 {
            first.push(byte[0]);
        }
        let rest = std::thread::spawn(move || {
            let mut rest = String::new();
            stdout.read_to_string(&mut rest).unwrap();
            rest
        });
        let first = String::from_utf8_lossy(&first).into_owned();
        (Attached { child, rest }, first)
    }

    /// Sends it SIGTERM.
    fn term(&self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    }

    /// Its exit status (`None`: killed by a signal) and the rest of its output.
    fn wait(mut self) -> (Option<i32>, String) {
        let status = self.child.wait().unwrap();
        (status.code(), self.rest.join().unwrap())
    }
}

#[test]
fn attach_and_start_a_pass_signals_on_unless_sig_proxy_is_false() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-sig-proxy");
    let script = "trap 'echo got TERM; exit 3' TERM; echo trapping; \
                  while true; do sleep 0.1; done";
    // start -a: the CLI's SIGTERM reaches the container, whose exit it reports.
    sandbox.ok(&["create", "--name", "started", "busybox", "sh", "-c", script]);
    let (start, first) = Attached::spawn(&sandbox, &["start", "-a", "started"]);
    assert_eq!(first, "trapping\n");
    start.term();
    assert_eq!(start.wait(), (Some(3), "got TERM\n".to_string()));

    // attach: the same.
    let ticking = "trap 'echo got TERM; exit 3' TERM; \
                   while true; do echo tick; sleep 0.2; done";
    sandbox.ok(&[
        "run", "-d", "--name", "attached", "busybox", "sh", "-c", ticking,
    ]);
    let (attach, first) = Attached::spawn(&sandbox, &["attach", "attached"]);
    assert_eq!(first, "tick\n");
    attach.term();
    let (code, rest) = attach.wait();
    assert_eq!(code, Some(3));
    assert!(rest.ends_with("got TERM\n"), "{rest}");

    // attach --sig-proxy=false: the signal ends the CLI only.
    sandbox.ok(&[
        "run", "-d", "--name", "kept", "busybox", "sh", "-c", ticking,
    ]);
    let (attach, first) = Attached::spawn(&sandbox, &["attach", "--sig-proxy=false", "kept"]);
    assert_eq!(first, "tick\n");
    attach.term();
    assert_eq!(attach.wait().0, None, "killed by SIGTERM itself");
    assert_eq!(inspect(&sandbox, "{{.State.Status}}", "kept"), "running");
    assert!(!sandbox.ok(&["logs", "kept"]).contains("got TERM"));
}

#[test]
fn wait_prints_the_exit_status_of_an_auto_removed_container() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-wait-rm");
    let id = sandbox.ok(&[
        "run",
        "-d",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "sleep 1; exit 7",
    ]);
    let id = id.trim();
    // Two waiters, as docker allows; both started before the removal.
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let mut wait = sandbox.cmd(&["wait", id]);
            wait.stdout(Stdio::piped()).stderr(Stdio::piped());
            wait.spawn().unwrap()
        })
        .collect();
    for waiter in waiters {
        let out = waiter.wait_with_output().unwrap();
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).as_ref()
            ),
            (Some(0), "7\n"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // It is gone now: a later wait says so, as docker's does.
    let out = sandbox.cmd(&["wait", id]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Error response from daemon: No such container: {id}\n")
    );
}

#[test]
fn stop_and_kill_end_a_container_waiting_to_restart() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-stop-restarting");
    for (name, command) in [("stopped", &["stop"][..]), ("killed", &["kill"][..])] {
        sandbox.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            "always",
            "busybox",
            "sh",
            "-c",
            "exit 1",
        ]);
        // Its delay doubles from 100 ms: it is soon seen waiting.
        wait_until(10, "the restart delay", || {
            inspect(&sandbox, "{{.State.Status}}", name) == "restarting"
        });
        assert_eq!(
            sandbox.ok(&[command, &[name]].concat()),
            format!("{name}\n")
        );
        // Its supervisor is gone (wait returns), and it ended exited.
        assert_eq!(sandbox.ok(&["wait", name]), "1\n");
        assert_eq!(
            inspect(&sandbox, "{{.State.Status}} {{.State.Restarting}}", name),
            "exited false"
        );
    }
}

#[test]
fn attach_to_an_auto_removed_container_exits_with_its_status() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-attach-rm");
    let script = "sleep 1; echo bye; exit 5";
    sandbox.ok(&[
        "run", "-d", "--rm", "--name", "brief", "busybox", "sh", "-c", script,
    ]);
    let out = sandbox.cmd(&["attach", "brief"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "bye\n");
    let gone = sandbox.cmd(&["inspect", "brief"]).output().unwrap();
    assert_eq!(gone.status.code(), Some(1));
}

#[test]
fn restart_keeps_an_auto_removed_container_and_stop_removes_it() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-restart-rm");
    sandbox.ok(&[
        "run", "-d", "--rm", "--name", "again", "busybox", "sleep", "600",
    ]);
    let before = sandbox.ok(&["inspect", "-f", "{{.State.Pid}}", "again"]);
    // A restart is not the end `--rm` waits for: the container comes back.
    assert_eq!(sandbox.ok(&["restart", "-t", "0", "again"]), "again\n");
    let state = sandbox.ok(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "again"]);
    assert!(state.starts_with("running "), "{state}");
    assert_ne!(
        state.split_whitespace().nth(1),
        before.split_whitespace().next()
    );
    // A stop is: it is removed.
    sandbox.ok(&["stop", "-t", "0", "again"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sandbox.ok(&["ps", "-aq"]).is_empty() {
        assert!(
            Instant::now() < deadline,
            "--rm never removed it after stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn run_it_of_a_command_that_ends_at_once_shows_what_it_printed() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-run-it-quick");
    // Often over before `run` attaches: what it printed comes from the
    // supervisor's first few kB (replay) or, if the supervisor has gone,
    // from the run's log; either way it is shown, once, and the status kept.
    for _ in 0..10 {
        let run = Terminal::spawn(
            &sandbox,
            &[
                "run",
                "-it",
                "--rm",
                "--network",
                "none",
                "busybox",
                "sh",
                "-c",
                "echo quick; exit 3",
            ],
        );
        let transcript = run.transcript();
        assert!(
            transcript.ends_with("\nquick\n[exit status 3]\n"),
            "{transcript:?}"
        );
    }
}

#[test]
fn a_foreground_run_rm_is_removed_by_its_supervisor_even_if_the_cli_is_killed() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-rm-killed-cli");
    // The container ends when the test says so: a file in a bind mount.
    let control = tempfile::tempdir().unwrap();
    let bind = format!("{}:/ctl", control.path().display());
    let mut cli = sandbox.cmd(&[
        "run",
        "--rm",
        "--name",
        "orphaned",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "until [ -e /ctl/go ]; do sleep 0.05; done; echo done",
    ]);
    cli.stdout(Stdio::null()).stderr(Stdio::null());
    let mut cli = cli.spawn().unwrap();
    wait_running(&sandbox, "orphaned");
    // docker's AutoRemove: the engine's to do, not the CLI's.
    assert_eq!(
        inspect(&sandbox, "{{.HostConfig.AutoRemove}}", "orphaned"),
        "true"
    );
    cli.kill().unwrap();
    cli.wait().unwrap();
    // Its command ends only now, with nobody attached.
    std::fs::write(control.path().join("go"), "").unwrap();
    wait_until(10, "the container to be removed", || {
        sandbox.ok(&["ps", "-aq"]).is_empty()
    });
    // Gone from the store first; its supervisor deletes its files, then ends.
    wait_until(10, "its supervisor to end", || {
        leftovers(&sandbox).is_empty()
    });
}

#[test]
fn a_containers_etc_files_live_in_its_directory_and_are_made_anew_at_each_start() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-etc-files");
    let id = sandbox.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--hostname",
        "box",
        "busybox",
        "sleep",
        "600",
    ]);
    let id = id.trim();
    let dir = sandbox.root().join("containers").join(id);
    // docker keeps hostname, hosts and resolv.conf beside the container's
    // records, and bind-mounts them: chapter 02 makes no copy of its own.
    assert_eq!(
        std::fs::read_to_string(dir.join("hostname")).unwrap(),
        "box\n"
    );
    assert_eq!(sandbox.ok(&["exec", id, "cat", "/etc/hostname"]), "box\n");
    sandbox.ok(&[
        "exec",
        id,
        "sh",
        "-c",
        "echo '10.9.9.9 extra' >> /etc/hosts",
    ]);
    let hosts = std::fs::read_to_string(dir.join("hosts")).unwrap();
    assert!(hosts.contains("10.9.9.9 extra"), "{hosts}");
    // As docker does, a start writes them anew: the edit lasted the run.
    sandbox.ok(&["restart", "-t", "0", id]);
    let hosts = sandbox.ok(&["exec", id, "cat", "/etc/hosts"]);
    assert!(!hosts.contains("10.9.9.9 extra"), "{hosts}");
    assert!(hosts.contains("127.0.1.1\tbox"), "{hosts}");
    sandbox.ok(&["rm", "-f", id]);
}

/// A user's `-v FILE:/etc/hosts` is what the container reads, on a bridge
/// too, where chapter 05 would otherwise mount the network's /etc/hosts over
/// it (docker leaves a file the user mounts alone).
#[test]
fn a_users_etc_hosts_mount_wins_over_the_networks() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-own-hosts");
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "10.1.2.3 mine\n").unwrap();
    let volume = format!("{}:/etc/hosts", hosts.display());
    for network in ["none", "bridge"] {
        let run = [
            "run",
            "--rm",
            "--network",
            network,
            "-v",
            &volume,
            "busybox",
            "cat",
            "/etc/hosts",
        ];
        assert_eq!(sandbox.ok(&run), "10.1.2.3 mine\n", "--network {network}");
    }
}

/// `inspect`'s `ResolvConfPath`, `HostnamePath` and `HostsPath` name the
/// files the container's /etc ones are bound from: empty before its first
/// start, as docker's are; then its own, or its network's /etc/hosts on a
/// bridge. Each holds what the container reads.
#[test]
fn inspect_names_the_files_a_containers_etc_files_are_bound_from() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-etc-paths");
    let format = "{{.ResolvConfPath}}|{{.HostnamePath}}|{{.HostsPath}}";
    for (name, network) in [("own", "none"), ("bridged", "bridge")] {
        let create = ["create", "--name", name, "--network", network];
        sandbox.ok(&[&create[..], &["busybox", "sleep", "600"]].concat());
        assert_eq!(
            inspect(&sandbox, format, name),
            "||",
            "{name} before its start"
        );
        sandbox.ok(&["start", name]);
        let paths = inspect(&sandbox, format, name);
        let dir = sandbox.root().join("containers");
        for (path, file) in paths.split('|').zip(["resolv.conf", "hostname", "hosts"]) {
            let in_container = sandbox.ok(&["exec", name, "cat", &format!("/etc/{file}")]);
            assert_eq!(
                std::fs::read_to_string(path).unwrap(),
                in_container,
                "{name}: {file} at {path}"
            );
            // A bridge's /etc/hosts is chapter 05's, kept in the network's state.
            let theirs = network == "bridge" && file == "hosts";
            assert_eq!(
                std::path::Path::new(path).starts_with(&dir),
                !theirs,
                "{name}: {path}"
            );
        }
        sandbox.ok(&["rm", "-f", name]);
    }
}
