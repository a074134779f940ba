//! Lab 09a checks, in two parts. The first five: the supervisor library
//! (`dockyard-shim`) as the engine uses it. Each check launches a real
//! supervisor the way the engine does from a process with threads
//! ([`launch`]: double fork, exec, ready pipe) and compares what it recorded
//! with the snapshot the reference code produced
//! (labs/09a-engine/snapshots/). The last three: `dockyard exec`
//! into a real busybox container (they need root), its namespace entry.
//! Run them with `cargo xtask lab check 09a`; each check's hint is in lab.toml.
//!
//! The container is faked so that the checks need no root and take well
//! under a second: the runner starts `/bin/sh -c SCRIPT` on the host (no
//! namespaces, no cgroup), and the store is a file, `history`, to which both
//! the store's records and the runner's teardowns are appended, so the order
//! in which your loop does things is visible.
//!
//! How the supervisor is started: [`launch`] runs this test binary again with
//! `--exact CHECK` and the scenario in an environment variable; in that
//! process the same check sees the variable and, instead of testing, becomes
//! the supervisor ([`supervise`]). Once the "container" runs, that process
//! becomes the small program (`dockyard-supervisor`), which runs the check
//! once more when the run ends, with how it ended in another variable: then
//! the check goes on with [`supervise::resume`], which is where your loop runs.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ch03_cgroups::{Exit, RunError};
use dockyard_shim::logs::{self, LogConfig, ReadOptions};
use dockyard_shim::supervise::{
    self, BoxError, Config, Event, Record, Resume, Runner, Started, SupervisorInfo, launch,
    supervise,
};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// The scenario a re-executed check supervises.
const SCENARIO_VAR: &str = "DOCKYARD_LAB09A_SCENARIO";
/// How a later entry of the supervisor learns how the run ended (the test
/// harness takes no arguments of ours).
const RESUME_VAR: &str = "DOCKYARD_LAB09A_RESUME";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Scenario {
    /// The check, which the re-executed test binary runs.
    check: String,
    dir: PathBuf,
    /// What the "container" runs, with `$DIR` set to the scenario's directory.
    script: String,
    /// `--restart`.
    restart: String,
    /// The runner fails as chapter 02 does for a command that is not found.
    cannot_start: bool,
    /// The runner reports that the OOM killer struck.
    oom_killed: bool,
}

/// A check: supervise `scenario`, return its transcript. In the re-executed
/// process, supervise instead and never return.
fn check(name: &str, command: &str, mut scenario: Scenario) -> String {
    if let Ok(json) = std::env::var(SCENARIO_VAR) {
        be_the_supervisor(&json);
    }
    let dir = tempfile::Builder::new()
        .prefix("lab09a")
        .tempdir()
        .expect("temp dir");
    scenario.dir = dir.path().to_path_buf();
    scenario.check = name.to_string();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(SCENARIO_VAR, serde_json::to_string(&scenario).unwrap());
    let mut text = format!("$ {command}\n");
    match launch(cmd, None) {
        Ok(_) => {}
        Err(supervise::Error::StartFailed { code, message }) => {
            text.push_str(&format!("{message}\n$ echo $?\n{code}\n"));
        }
        Err(err) => panic!("the supervisor did not start: {err}"),
    }
    wait_for_the_supervisor(dir.path());
    let history = std::fs::read_to_string(dir.path().join("history")).unwrap_or_default();
    text.push_str(&format!("$ history\n{history}"));
    let mut logged = String::new();
    let _ = logs::read(
        &dir.path().join("ctr-json.log"),
        &ReadOptions::default(),
        None,
        &mut |_, line| {
            logged.push_str(line);
            Ok(())
        },
    );
    if !logged.is_empty() {
        text.push_str(&format!("$ dockyard logs ctr\n{logged}"));
    }
    text
}

/// Waits until the supervisor has ended (it does once no restart is due).
fn wait_for_the_supervisor(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = SupervisorInfo::read(dir).expect("supervisor.json");
    while info.is_alive() {
        assert!(Instant::now() < deadline, "the supervisor is still running");
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = dir.join("supervisor-error");
    assert!(
        !error.exists(),
        "the supervisor failed: {}",
        std::fs::read_to_string(error).unwrap_or_default()
    );
}

/// The re-executed check: supervise the scenario, then exit the process.
fn be_the_supervisor(json: &str) -> ! {
    let scenario: Scenario = serde_json::from_str(json).expect("scenario");
    let resumed = std::env::var(RESUME_VAR).ok();
    // The small program runs this check again when a run ends.
    let line = format!(
        "{RESUME_VAR}=\"$*\" exec \"$0\" --exact {} --nocapture --test-threads=1",
        scenario.check
    );
    let config = Config {
        dir: scenario.dir.clone(),
        log_path: scenario.dir.join("ctr-json.log"),
        log: LogConfig::default(),
        tty: false,
        open_stdin: false,
        stdin_once: false,
        restart: scenario.restart.parse().expect("restart policy"),
        restart_count: 0,
        ready: match resumed {
            None => supervise::ready_fd_from_env(),
            Some(_) => None,
        },
        finisher: None,
        after: (
            PathBuf::from("/bin/sh"),
            vec![
                "-c".into(),
                line.into(),
                std::env::current_exe().expect("this test binary").into(),
            ],
        ),
    };
    let history = scenario.dir.join("history");
    let mut runner = Sh {
        scenario: scenario.clone(),
        history: history.clone(),
    };
    let mut store = FakeStore {
        history,
        stop: scenario.dir.join("stopped-by-user"),
    };
    // A panic (a todo!() of the starter) must still end the process.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match &resumed {
        None => supervise(config, &mut runner, &mut store),
        Some(words) => {
            let words: Vec<OsString> = words.split(' ').map(OsString::from).collect();
            let resume = Resume::parse(&words).expect("the small program's line");
            supervise::resume(&config, &mut runner, &mut store, resume)
        }
    }));
    let code = match result {
        Ok(Ok(_)) => 0,
        Ok(Err(err)) => {
            let _ = std::fs::write(scenario.dir.join("supervisor-error"), err.to_string());
            1
        }
        Err(_) => {
            let _ = std::fs::write(scenario.dir.join("supervisor-error"), "it panicked");
            1
        }
    };
    std::process::exit(code);
}

fn append(path: &Path, line: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())
}

/// The engine's runner, faked: the container is `/bin/sh -c SCRIPT` on the host.
struct Sh {
    scenario: Scenario,
    history: PathBuf,
}

impl Runner for Sh {
    fn start(&mut self, started: &mut ch02_namespaces::Setup<'_>) -> Result<Started, RunError> {
        if self.scenario.cannot_start {
            return Err(RunError::Runtime(ch02_namespaces::Error::Exec(
                ch01_chroot::Error::NotFound {
                    cmd: "no-such-command".into(),
                    rootfs: PathBuf::from("/rootfs"),
                },
            )));
        }
        // Not waited for here: the small program this process becomes does.
        #[expect(clippy::zombie_processes, reason = "the small program reaps it")]
        let child = Command::new("/bin/sh")
            .args(["-c", &self.scenario.script])
            .env("DIR", &self.scenario.dir)
            .spawn()
            .expect("start /bin/sh");
        let pid = Pid::from_raw(child.id() as i32);
        started(pid).expect("the store records the start");
        Ok(Started {
            pid,
            terminal: None,
        })
    }

    fn finish(&mut self, code: i32) -> Exit {
        Exit {
            code,
            oom_killed: Some(self.scenario.oom_killed),
            memory_limit: None,
            cleanup_error: None,
        }
    }

    fn teardown(&mut self) -> Result<(), BoxError> {
        append(&self.history, "teardown")?;
        Ok(())
    }
}

/// The engine's store, faked: one line per event, as a person reads them.
struct FakeStore {
    history: PathBuf,
    stop: PathBuf,
}

impl Record for FakeStore {
    fn record(&mut self, event: &Event) -> Result<(), BoxError> {
        let line = match event {
            Event::Started { restart_count, .. } => {
                format!("started (restart count {restart_count})")
            }
            Event::Exited(exit) => format!(
                "exited with {} (restart count {}, OOM killed: {}){}",
                exit.code,
                exit.restart_count,
                exit.oom_killed,
                exit.error
                    .as_ref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ),
            Event::Restarting {
                restart_count,
                delay,
            } => format!("restarting in {delay:?} (restart count {restart_count})"),
        };
        append(&self.history, &line)?;
        Ok(())
    }

    fn stopped_by_user(&mut self) -> bool {
        self.stop.exists()
    }
}

fn scenario(script: &str, restart: &str) -> Scenario {
    Scenario {
        script: script.into(),
        restart: restart.into(),
        ..Scenario::default()
    }
}

#[test]
fn the_exit_is_recorded_after_teardown() {
    let text = check(
        "the_exit_is_recorded_after_teardown",
        "dockyard run -d busybox sh -c 'echo hello; exit 3'",
        scenario("echo hello; exit 3", "no"),
    );
    insta::assert_snapshot!("exit_recorded", text);
}

#[test]
fn on_failure_2_restarts_twice_with_growing_delay() {
    let text = check(
        "on_failure_2_restarts_twice_with_growing_delay",
        "dockyard run -d --restart on-failure:2 busybox sh -c 'echo attempt; exit 1'",
        scenario("echo attempt; exit 1", "on-failure:2"),
    );
    insta::assert_snapshot!("on_failure_2", text);
}

#[test]
fn a_container_the_user_stopped_is_not_restarted() {
    // `docker stop` marks the container stopped before it signals: the
    // script does the marking itself, then ends as SIGTERM would end it.
    let text = check(
        "a_container_the_user_stopped_is_not_restarted",
        "dockyard run -d --restart always busybox sh -c 'echo up; sleep 600'   # then: dockyard stop",
        scenario(
            "echo up; touch \"$DIR/stopped-by-user\"; kill -TERM $$",
            "always",
        ),
    );
    insta::assert_snapshot!("stopped_by_user", text);
}

#[test]
fn a_run_that_cannot_start_is_recorded_and_not_restarted() {
    let text = check(
        "a_run_that_cannot_start_is_recorded_and_not_restarted",
        "dockyard run -d --restart always busybox no-such-command",
        Scenario {
            cannot_start: true,
            ..scenario("", "always")
        },
    );
    insta::assert_snapshot!("cannot_start", text);
}

#[test]
fn an_oom_kill_is_recorded() {
    let text = check(
        "an_oom_kill_is_recorded",
        "dockyard run -d -m 6m busybox sh -c 'echo eating; tail /dev/zero'",
        Scenario {
            oom_killed: true,
            ..scenario("echo eating; kill -KILL $$", "no")
        },
    );
    insta::assert_snapshot!("oom_killed", text);
}

// --- Part 2: exec's way into a running container ---

/// An engine of the check's own (state root, cgroup parent) with a busybox
/// container `box` running `sleep 600` (`--network none`); it is removed on drop.
struct Engine {
    parent: testkit::CgroupParent,
    root: tempfile::TempDir,
}

impl Engine {
    /// `dockyard import` of the busybox fixture, then `run -d`.
    fn with_a_running_box(check: &str) -> Engine {
        let engine = Engine {
            parent: testkit::CgroupParent::new(check),
            root: tempfile::Builder::new()
                .prefix("lab09a-root-")
                .tempdir()
                .expect("temp dir"),
        };
        let tar = testkit::fixtures::dir().join("busybox.tar");
        engine.ok(&["import", &tar.display().to_string(), "busybox:latest"]);
        engine.ok(&[
            "run",
            "-d",
            "--name",
            "box",
            "--hostname",
            "box",
            // A network namespace with only lo: nothing on the host to set up or remove.
            "--network",
            "none",
            "busybox",
            "sleep",
            "600",
        ]);
        engine
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockyard"));
        cmd.env("DOCKYARD_ROOT", self.root.path())
            .env("DOCKYARD_CGROUP_PARENT", self.parent.name())
            .args(args);
        cmd
    }

    fn ok(&self, args: &[&str]) {
        let out = self.cmd(args).output().expect("run dockyard");
        assert!(
            out.status.success(),
            "dockyard {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.cmd(&["rm", "-f", "box"]).output();
    }
}

#[test]
fn exec_joins_every_namespace_of_the_container() {
    testkit::require_root!();
    let engine = Engine::with_a_running_box("lab09a-ns");
    // /proc/1 is the container's PID 1 only for a process in its PID and
    // mount namespaces; each link names a namespace (type:[inode]).
    let script = "hostname; for ns in cgroup ipc mnt net pid uts; do \
        if [ \"$(readlink /proc/1/ns/$ns)\" = \"$(readlink /proc/self/ns/$ns)\" ]; \
        then echo \"$ns: the container's\"; else echo \"$ns: NOT the container's\"; fi; done";
    let text = testkit::transcript(&mut engine.cmd(&["exec", "box", "sh", "-c", script]));
    insta::assert_snapshot!("exec_namespaces", text);
}

#[test]
fn namespaces_are_opened_first_and_joined_mount_last() {
    testkit::require_root!();
    let engine = Engine::with_a_running_box("lab09a-order");
    let out = engine
        .cmd(&["--explain", "exec", "box", "true"])
        .output()
        .expect("run dockyard");
    let mut text =
        String::from("$ dockyard --explain exec box true 2>&1 | grep -e setns -e fork\n");
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if line.contains("setns") || line.contains("fork(2)") || !line.starts_with("[explain]") {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&format!(
        "[exit status {}]\n",
        out.status.code().unwrap_or(-1)
    ));
    insta::assert_snapshot!("exec_order", text);
}

#[test]
fn the_command_runs_inside_the_pid_namespace() {
    testkit::require_root!();
    let engine = Engine::with_a_running_box("lab09a-pid");
    // In a fresh PID namespace whose PID 1 never forks, the numbers are the
    // same every time: sleep is 1, exec's command 2, what it runs 3.
    let script = "echo \"my PID is $$\"; ps -o pid,comm; true";
    let text = testkit::transcript(&mut engine.cmd(&["exec", "box", "sh", "-c", script]));
    insta::assert_snapshot!("exec_pid_namespace", text);
}
