//! The supervisor on real containers: busybox started as the engine starts
//! it, by chapter 03's `spawn_with_setup`, each test under a cgroup
//! parent of its own.
//!
//! Like the engine, this test binary re-executes itself to become a
//! supervisor: [`launch`] runs it again with `--exact shim_entry_point` and
//! the scenario in an environment variable, and that test calls
//! [`supervise`] with a runner over chapter 03 and a fake store that writes
//! the events to `events.json` (atomically, as the engine's store must).

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ch03_cgroups::{Exit, RunError};
use dockyard_shim::logs::{self, LogConfig, ReadOptions, Stream, Tail};
use dockyard_shim::supervise::{
    self, AttachOptions, BoxError, Config, Event, Finisher, Record, Resume, Runner, Started,
    SupervisorInfo, WindowSize, launch, supervise,
};
use serde::{Deserialize, Serialize};
use testkit::{CgroupParent, fixtures};

/// The scenario a re-executed test binary supervises.
const SCENARIO_VAR: &str = "DOCKYARD_SHIM_TEST_SCENARIO";
/// How a later entry of the supervisor learns how the run ended.
const RESUME_VAR: &str = "DOCKYARD_SHIM_TEST_RESUME";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Scenario {
    dir: PathBuf,
    args: Vec<String>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    restart: String,
    log_opts: Vec<(String, String)>,
    cgroup_parent: String,
}

/// The supervisor's side: not a test of its own. Run by `cargo test`, it
/// returns at once; re-executed by [`start`], it supervises the scenario and
/// exits the process.
#[test]
fn shim_entry_point() {
    let Ok(json) = std::env::var(SCENARIO_VAR) else {
        return;
    };
    let scenario: Scenario = serde_json::from_str(&json).expect("scenario");
    let flags = ch02_namespaces::spec::RunFlags {
        args: scenario.args.clone(),
        tty: scenario.tty,
        hostname: Some("shim-test".into()),
        ..Default::default()
    };
    let rootfs = fixtures::busybox_rootfs();
    let spec = ch02_namespaces::spec::build(&flags, &rootfs).expect("spec");
    let log = LogConfig::from_opts(
        scenario
            .log_opts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .expect("log opts");
    let resumed = std::env::var(RESUME_VAR).ok();
    let config = Config {
        dir: scenario.dir.clone(),
        log_path: scenario.dir.join("ctr-json.log"),
        log,
        tty: scenario.tty,
        open_stdin: scenario.open_stdin,
        stdin_once: scenario.stdin_once,
        restart: scenario.restart.parse().expect("restart policy"),
        restart_count: 0,
        ready: match resumed {
            None => supervise::ready_fd_from_env(),
            Some(_) => None,
        },
        finisher: match resumed {
            None => supervise::finisher_fd_from_env(),
            Some(_) => None,
        },
        after: after(),
    };
    let mut runner = ChapterThree {
        spec,
        rootfs,
        parent: scenario.cgroup_parent.clone(),
        teardowns: scenario.dir.join("teardowns"),
    };
    let events = scenario.dir.join("events.json");
    let mut store = FakeStore {
        // An earlier program of this process recorded the first events.
        events: std::fs::read(&events)
            .map(|json| serde_json::from_slice(&json).expect("events.json"))
            .unwrap_or_default(),
        path: events,
        stop: scenario.dir.join("stopped-by-user"),
        hold: scenario.dir.join("hold"),
    };
    let life = match resumed {
        None => supervise(config, &mut runner, &mut store),
        Some(words) => {
            let words: Vec<OsString> = words.split(' ').map(OsString::from).collect();
            let resume = Resume::parse(&words).expect("the small program's line");
            supervise::resume(&config, &mut runner, &mut store, resume)
        }
    };
    let code = match life {
        Ok(_) => 0,
        Err(err) => {
            let _ = std::fs::write(scenario.dir.join("supervisor-error"), err.to_string());
            1
        }
    };
    std::process::exit(code);
}

/// What the small program runs when a run ends: this test binary again, as
/// [`shim_entry_point`], with the end of its line (`--started-ms ... --status
/// N`) in [`RESUME_VAR`] (the test harness takes no arguments of ours).
fn after() -> (PathBuf, Vec<OsString>) {
    let line = format!(
        "{RESUME_VAR}=\"$*\" exec \"$0\" --exact shim_entry_point --nocapture --test-threads=1"
    );
    (
        PathBuf::from("/bin/sh"),
        vec![
            "-c".into(),
            line.into(),
            std::env::current_exe().unwrap().into(),
        ],
    )
}

/// The engine's runner, reduced to chapter 03 (no image store, no network).
struct ChapterThree {
    spec: oci_spec::runtime::Spec,
    rootfs: PathBuf,
    parent: String,
    teardowns: PathBuf,
}

impl Runner for ChapterThree {
    fn start(&mut self, started: &mut ch02_namespaces::Setup<'_>) -> Result<Started, RunError> {
        let running =
            ch03_cgroups::spawn_with_setup(&self.spec, &self.rootfs, &self.parent, "ctr", started)?;
        let mut running = running.leave();
        Ok(Started {
            pid: running.pid(),
            terminal: running.take_terminal(),
        })
    }

    fn finish(&mut self, code: i32) -> Exit {
        let cgroup = ch03_cgroups::Hierarchy::system()
            .and_then(|h| h.open(&self.parent, "ctr"))
            .expect("the container's cgroup");
        ch03_cgroups::finish(&self.spec, cgroup, code)
    }

    fn teardown(&mut self) -> Result<(), BoxError> {
        let n: u32 = std::fs::read_to_string(&self.teardowns)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        ch04_overlayfs::io::write_atomic(&self.teardowns, format!("{}\n", n + 1).as_bytes())?;
        Ok(())
    }
}

/// The engine's store, reduced to a list of events in a JSON file.
struct FakeStore {
    path: PathBuf,
    events: Vec<Event>,
    stop: PathBuf,
    /// While this file exists, recording a restart waits (having written
    /// the thread's id to `held`): a test's way to act while the supervisor
    /// is between runs.
    hold: PathBuf,
}

impl Record for FakeStore {
    fn record(&mut self, event: &Event) -> Result<(), BoxError> {
        self.events.push(event.clone());
        ch04_overlayfs::io::write_atomic(&self.path, &serde_json::to_vec(&self.events)?)?;
        if matches!(event, Event::Restarting { .. }) && self.hold.exists() {
            let tid = nix::unistd::gettid().to_string();
            std::fs::write(self.hold.with_file_name("held"), tid)?;
            while self.hold.exists() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Ok(())
    }

    fn stopped_by_user(&mut self) -> bool {
        self.stop.exists()
    }
}

/// A supervised container of one test: its directory and cgroup parent.
struct Shim {
    dir: tempfile::TempDir,
    info: SupervisorInfo,
    pid: i32,
    cgroup: CgroupParent,
}

/// Launches a supervisor for `scenario` as the engine would.
fn start(test: &str, scenario: Scenario) -> Shim {
    let (dir, cmd, cgroup) = prepare(test, scenario);
    let pid = launch(cmd, None).expect("the container starts");
    shim_for(dir, pid, cgroup)
}

/// The directory, command and cgroup parent to launch `scenario` with.
fn prepare(test: &str, mut scenario: Scenario) -> (tempfile::TempDir, Command, CgroupParent) {
    let cgroup = CgroupParent::new(test);
    let dir = tempfile::Builder::new()
        .prefix("shim")
        .tempdir()
        .expect("temp dir");
    scenario.dir = dir.path().to_path_buf();
    scenario.cgroup_parent = cgroup.name().to_string();
    if scenario.restart.is_empty() {
        scenario.restart = "no".into();
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "shim_entry_point",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(SCENARIO_VAR, serde_json::to_string(&scenario).unwrap());
    (dir, cmd, cgroup)
}

/// The supervised container `launch` reported.
fn shim_for(dir: tempfile::TempDir, pid: i32, cgroup: CgroupParent) -> Shim {
    let info = SupervisorInfo::read(dir.path()).expect("supervisor.json");
    Shim {
        dir,
        info,
        pid,
        cgroup,
    }
}

impl Shim {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.path().join("ctr-json.log")
    }

    /// Waits for the supervisor to end (it does once no restart is due).
    fn wait(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.info.is_alive() {
            assert!(Instant::now() < deadline, "the supervisor is still running");
            std::thread::sleep(Duration::from_millis(10));
        }
        let error = self.path().join("supervisor-error");
        assert!(
            !error.exists(),
            "{}",
            std::fs::read_to_string(error).unwrap()
        );
    }

    fn events(&self) -> Vec<Event> {
        serde_json::from_slice(&std::fs::read(self.path().join("events.json")).unwrap()).unwrap()
    }

    /// The events as a person reads them, without pids and times.
    fn history(&self) -> String {
        self.events()
            .iter()
            .map(|event| match event {
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
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn read_logs(&self, options: &ReadOptions) -> String {
        let mut text = String::new();
        logs::read(&self.log(), options, None, &mut |_, line| {
            text.push_str(line);
            Ok(())
        })
        .unwrap();
        text
    }
}

/// Nothing of the container is left: no process, no mount of its rootfs.
fn assert_nothing_left(shim: &Shim) {
    let gone = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !gone(shim.pid) {
        assert!(
            Instant::now() < deadline,
            "the container's init is still there"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!shim.info.is_alive(), "the supervisor is still there");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let rootfs = fixtures::busybox_rootfs().display().to_string();
    assert!(!mounts.contains(&rootfs), "a mount of the rootfs is left");
    assert!(!shim.path().join(supervise::SOCKET).exists());
    // The cgroup parent checks its own emptiness when it drops.
}

fn redactions() -> insta::Settings {
    let mut settings = testkit::redactions();
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]");
    settings
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[test]
fn output_is_logged_in_json_file_format_and_read_back() {
    testkit::require_root!();
    let shim = start(
        "shim-logs",
        Scenario {
            args: sh(
                "for i in 1 2 3 4 5; do echo \"line $i\"; done; echo 'to <stderr> & back' >&2",
            ),
            ..Default::default()
        },
    );
    shim.wait();
    let raw = std::fs::read_to_string(shim.log()).unwrap();
    let shape = regex_lite(&raw);
    assert!(shape, "not docker's json-file lines:\n{raw}");
    let tail = shim.read_logs(&ReadOptions {
        tail: Tail::Last(2),
        timestamps: true,
        ..Default::default()
    });
    let stdout_only = shim.read_logs(&ReadOptions {
        stderr: false,
        ..Default::default()
    });
    let _guard = redactions().bind_to_scope();
    insta::assert_snapshot!(format!(
        "$ cat ctr-json.log\n{raw}\n$ dockyard logs --tail 2 -t ctr\n{tail}\n\
         $ dockyard logs ctr 2>/dev/null\n{stdout_only}\n$ events\n{}",
        shim.history()
    ));
    assert_nothing_left(&shim);
}

/// Each line is `{"log":"…\n","stream":"stdout|stderr","time":"…Z"}`.
fn regex_lite(raw: &str) -> bool {
    raw.lines().all(|line| {
        let Some(rest) = line.strip_prefix("{\"log\":\"") else {
            return false;
        };
        let Some((_, rest)) = rest.split_once("\\n\",\"stream\":\"") else {
            return false;
        };
        let Some(rest) = rest
            .strip_prefix("stdout\",\"time\":\"")
            .or_else(|| rest.strip_prefix("stderr\",\"time\":\""))
        else {
            return false;
        };
        rest.ends_with("Z\"}") && rest.len() >= 23
    })
}

#[test]
fn rotation_keeps_max_file_files() {
    testkit::require_root!();
    let shim = start(
        "shim-rotate",
        Scenario {
            args: sh("i=0; while [ $i -lt 300 ]; do echo \"line $i\"; i=$((i+1)); done"),
            log_opts: vec![
                ("max-size".into(), "2k".into()),
                ("max-file".into(), "3".into()),
            ],
            ..Default::default()
        },
    );
    shim.wait();
    let mut files: Vec<String> = std::fs::read_dir(shim.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ctr-json.log"))
        .collect();
    files.sort();
    assert_eq!(files, ["ctr-json.log", "ctr-json.log.1", "ctr-json.log.2"]);
    for file in &files {
        let len = std::fs::metadata(shim.path().join(file)).unwrap().len();
        assert!(len < 2000 + 100, "{file}: {len} bytes");
    }
    let text = shim.read_logs(&ReadOptions::default());
    let numbers: Vec<u32> = text
        .lines()
        .map(|l| l.trim_start_matches("line ").parse().unwrap())
        .collect();
    assert_eq!(*numbers.last().unwrap(), 299);
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "lines are kept whole and in order"
    );
    assert!(numbers.len() < 300, "the oldest lines were rotated away");
    assert_nothing_left(&shim);
}

#[test]
fn attach_clients_come_and_go_and_send_stdin() {
    testkit::require_root!();
    let shim = start(
        "shim-attach",
        Scenario {
            args: vec!["cat".into()],
            open_stdin: true,
            stdin_once: true,
            ..Default::default()
        },
    );
    let output_only = AttachOptions {
        stdin: false,
        stdout: true,
        stderr: true,
        replay: false,
    };
    // A client that leaves again changes nothing.
    drop(supervise::attach(shim.path(), output_only).unwrap());
    let mut watcher = supervise::attach(shim.path(), output_only).unwrap();
    let mut client = supervise::attach(
        shim.path(),
        AttachOptions {
            stdin: true,
            ..output_only
        },
    )
    .unwrap();
    client.write_all(b"hello, supervisor\n").unwrap();
    let frame = supervise::read_frame(&mut client).unwrap();
    assert_eq!(
        frame,
        Some((Stream::Stdout, b"hello, supervisor\n".to_vec()))
    );
    assert_eq!(
        supervise::read_frame(&mut watcher).unwrap(),
        frame,
        "every client sees the output"
    );
    // End of input: with stdin_once, cat reads end-of-file and exits.
    client.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(supervise::read_frame(&mut client).unwrap(), None);
    shim.wait();
    assert_eq!(
        shim.history(),
        "started (restart count 0)\nexited with 0 (restart count 0, OOM killed: false)"
    );
    assert_eq!(
        shim.read_logs(&ReadOptions::default()),
        "hello, supervisor\n"
    );
    assert_nothing_left(&shim);
}

#[test]
fn with_a_tty_a_resize_reaches_the_container() {
    testkit::require_root!();
    let shim = start(
        "shim-tty",
        Scenario {
            args: sh("read line; stty size"),
            tty: true,
            open_stdin: true,
            ..Default::default()
        },
    );
    let mut client = supervise::attach(
        shim.path(),
        AttachOptions {
            stdin: true,
            stdout: true,
            stderr: true,
            replay: false,
        },
    )
    .unwrap();
    supervise::resize(shim.path(), WindowSize { rows: 33, cols: 99 }).unwrap();
    client.write_all(b"go\n").unwrap();
    let mut raw = Vec::new();
    client.read_to_end(&mut raw).unwrap();
    shim.wait();
    let screen = String::from_utf8_lossy(&raw).replace('\r', "");
    let logged = shim.read_logs(&ReadOptions::default()).replace('\r', "");
    insta::assert_snapshot!(format!(
        "$ dockyard run -it busybox sh -c 'read line; stty size'   # resized to 33x99, then: go\n{screen}\
         $ dockyard logs ctr\n{logged}"
    ));
    assert_nothing_left(&shim);
}

#[test]
fn with_a_tty_the_first_replaying_client_sees_what_came_before_it() {
    testkit::require_root!();
    let shim = start(
        "shim-replay",
        Scenario {
            args: sh("echo banner; read line; echo got $line"),
            tty: true,
            open_stdin: true,
            ..Default::default()
        },
    );
    // The banner is out (and logged) before anyone attaches.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !shim.read_logs(&ReadOptions::default()).contains("banner") {
        assert!(std::time::Instant::now() < deadline, "no banner logged");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let options = AttachOptions {
        stdin: true,
        stdout: true,
        stderr: true,
        replay: true,
    };
    let mut first = supervise::attach(shim.path(), options).unwrap();
    // A second replaying client gets only what comes after it.
    let mut second = supervise::attach(shim.path(), options).unwrap();
    first.write_all(b"x\n").unwrap();
    let screen = |client: &mut std::os::unix::net::UnixStream| {
        let mut raw = Vec::new();
        client.read_to_end(&mut raw).unwrap();
        String::from_utf8_lossy(&raw).replace('\r', "")
    };
    let (first, second) = (screen(&mut first), screen(&mut second));
    shim.wait();
    // The pty echoes the typed line back too.
    assert_eq!(first, "banner\nx\ngot x\n");
    assert_eq!(second, "x\ngot x\n");
    assert_nothing_left(&shim);
}

#[test]
fn a_sigterm_between_two_runs_ends_the_restart_delay() {
    testkit::require_root!();
    let (dir, cmd, cgroup) = prepare(
        "shim-term-between",
        Scenario {
            args: sh("exit 1"),
            restart: "always".into(),
            ..Default::default()
        },
    );
    std::fs::write(dir.path().join("hold"), "").unwrap();
    let pid = launch(cmd, None).expect("the container starts");
    let shim = shim_for(dir, pid, cgroup);
    // The supervisor is recording the restart: not in a run, not waiting yet.
    let deadline = Instant::now() + Duration::from_secs(10);
    let held = || {
        std::fs::read_to_string(shim.path().join("held"))
            .ok()?
            .parse::<i32>()
            .ok()
    };
    let tid = loop {
        if let Some(tid) = held() {
            break tid;
        }
        assert!(Instant::now() < deadline, "no restart was recorded");
        std::thread::sleep(Duration::from_millis(10));
    };
    // To the supervising thread: in the engine it is the process's only
    // thread that could take a signal, here libtest's main thread (which
    // does not block it) would.
    // SAFETY: tgkill(2) takes plain integers.
    let sent = unsafe { libc::syscall(libc::SYS_tgkill, shim.info.pid, tid, libc::SIGTERM) };
    assert_eq!(sent, 0, "tgkill: {}", std::io::Error::last_os_error());
    std::fs::remove_file(shim.path().join("hold")).unwrap();
    // It was not lost: the supervisor ends instead of restarting.
    shim.wait();
    assert_eq!(
        shim.history(),
        "started (restart count 0)\n\
         exited with 1 (restart count 0, OOM killed: false)\n\
         restarting in 100ms (restart count 1)"
    );
    assert_nothing_left(&shim);
}

#[test]
fn on_failure_3_restarts_three_times() {
    testkit::require_root!();
    let shim = start(
        "shim-restart",
        Scenario {
            args: sh("echo run; exit 3"),
            restart: "on-failure:3".into(),
            ..Default::default()
        },
    );
    shim.wait();
    let last = shim.events().into_iter().rev().find_map(|e| match e {
        Event::Exited(exit) => Some(exit),
        _ => None,
    });
    assert_eq!(last.map(|e| (e.code, e.restart_count)), Some((3, 3)));
    let teardowns = std::fs::read_to_string(shim.path().join("teardowns")).unwrap();
    assert_eq!(teardowns.trim(), "4", "one teardown per run");
    let _guard = redactions().bind_to_scope();
    insta::assert_snapshot!(format!(
        "$ dockyard run -d --restart on-failure:3 busybox sh -c 'echo run; exit 3'\n\
         $ events\n{}\n$ dockyard logs ctr\n{}",
        shim.history(),
        shim.read_logs(&ReadOptions::default())
    ));
    assert_nothing_left(&shim);
}

#[test]
fn logs_follow_ends_with_the_run() {
    testkit::require_root!();
    let shim = start(
        "shim-follow",
        Scenario {
            args: sh("for i in 1 2 3; do echo \"tick $i\"; sleep 0.2; done"),
            ..Default::default()
        },
    );
    let stop = supervise::watch_run(shim.path())
        .unwrap()
        .expect("a live supervisor");
    let mut seen = Vec::new();
    logs::follow_watched(
        &shim.log(),
        &ReadOptions::default(),
        stop.as_fd(),
        &mut |stream, line| {
            seen.push((stream, line.to_string()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(
        seen,
        [1, 2, 3].map(|i| (Stream::Stdout, format!("tick {i}\n")))
    );
    shim.wait();
    assert_nothing_left(&shim);
}

/// Launches `echo end; exit 5` with a finisher and waits for the run's end
/// to be handed over: the supervisor, the finisher, and the words it got.
fn handed_over(test: &str) -> (Shim, Finisher, Vec<OsString>) {
    let (dir, cmd, cgroup) = prepare(
        test,
        Scenario {
            args: sh("echo end; exit 5"),
            ..Default::default()
        },
    );
    let (finisher, theirs) = Finisher::pair().unwrap();
    let pid = launch(cmd, Some(theirs)).expect("the container starts");
    let shim = shim_for(dir, pid, cgroup);
    let words = finisher.wait().unwrap().expect("the run's end");
    // The exit program's line: after()'s, the restart state, the status.
    let resume = Resume::parse(&words[words.len() - 8..]).expect("a resume line");
    assert_eq!(resume.status, 5);
    assert_eq!(words[..2], after().1[..2]);
    // It waits for our answer, the run's end not recorded.
    assert!(shim.info.is_alive());
    assert_eq!(shim.history(), "started (restart count 0)");
    assert_eq!(shim.read_logs(&ReadOptions::default()), "end\n");
    (shim, finisher, words)
}

#[test]
fn a_finisher_that_is_done_ends_the_supervisor_without_the_exit_program() {
    testkit::require_root!();
    let (shim, finisher, _) = handed_over("shim-finisher-done");
    finisher.done().unwrap();
    shim.wait();
    assert_eq!(shim.history(), "started (restart count 0)");
    // What the exit program would have done is the finisher's to do (the
    // engine's `run` calls supervise::resume); here the attach socket and
    // the cgroup are all there is.
    std::fs::remove_file(shim.path().join(supervise::SOCKET)).unwrap();
    ch03_cgroups::Hierarchy::system()
        .and_then(|h| h.open(shim.cgroup.name(), "ctr"))
        .and_then(|cgroup| cgroup.remove())
        .unwrap();
    assert_nothing_left(&shim);
}

#[test]
fn a_finisher_that_goes_away_leaves_the_end_to_the_exit_program() {
    testkit::require_root!();
    let (shim, finisher, _) = handed_over("shim-finisher-gone");
    drop(finisher);
    shim.wait();
    assert_eq!(
        shim.history(),
        "started (restart count 0)\nexited with 5 (restart count 0, OOM killed: false)"
    );
    assert_nothing_left(&shim);
}

#[test]
fn a_command_that_cannot_start_fails_the_launch_as_docker_does() {
    testkit::require_root!();
    let (dir, cmd, cgroup) = prepare(
        "shim-notfound",
        Scenario {
            args: vec!["no-such-command".into()],
            restart: "always".into(),
            ..Default::default()
        },
    );
    let err = launch(cmd, None).unwrap_err();
    let code = match &err {
        supervise::Error::StartFailed { code, .. } => *code,
        other => panic!("not a start failure: {other}"),
    };
    let shim = shim_for(dir, 0, cgroup);
    shim.wait();
    let _guard = redactions().bind_to_scope();
    insta::assert_snapshot!(format!(
        "$ dockyard run -d --restart always busybox no-such-command\n{err}\n$ echo $?\n{code}\n\
         $ events\n{}",
        shim.history()
    ));
    assert_nothing_left(&shim);
}

#[test]
fn a_killed_supervisor_is_seen_as_gone() {
    testkit::require_root!();
    let shim = start(
        "shim-kill",
        Scenario {
            args: vec!["sleep".into(), "1000".into()],
            ..Default::default()
        },
    );
    assert!(shim.info.is_alive());
    // `launch` returns once the container runs, which the supervisor says
    // just before it execve(2)s the small program: until that is done the
    // numbers below are the engine's (here the test binary's), and during
    // the execve(2) /proc has none to give.
    let exe = format!("/proc/{}/exe", shim.info.pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    // It runs from a memfd: "/memfd:dockyard-supervisor (deleted)".
    while !std::fs::read_link(&exe)
        .is_ok_and(|path| path.to_string_lossy().contains("memfd:dockyard-supervisor"))
    {
        assert!(
            Instant::now() < deadline,
            "no hand-over to the small program"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // What one more container costs is the supervisor's private memory and
    // its copy of the small program (a memfd of its own).
    let kb = |file: &str, key: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/{}/{file}", shim.info.pid))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    let (rss, anon) = (kb("status", "VmRSS:"), kb("status", "RssAnon:"));
    let private = kb("smaps_rollup", "Private_Clean:") + kb("smaps_rollup", "Private_Dirty:");
    println!(
        "supervisor memory: RSS {rss} kB, anonymous {anon} kB, private {private} kB, \
         PSS {} kB",
        kb("smaps_rollup", "Pss:")
    );
    // Issue #6: under 1 MB while the container runs.
    assert!(rss < 1024, "supervisor RSS {rss} kB");
    assert!(anon < 1024, "supervisor anonymous memory {anon} kB");
    assert!(private < 1024, "supervisor private memory {private} kB");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim.info.pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while shim.info.is_alive() {
        assert!(Instant::now() < deadline, "SIGKILL did not end it");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The store still says running (the last event is the start): the
    // liveness check is what tells the engine to record the exit itself.
    assert!(matches!(shim.events().last(), Some(Event::Started { .. })));
    // The container's init had PR_SET_PDEATHSIG (chapter 02): it died too.
    // What the engine then cleans up: the cgroup chapter 03 could not remove.
    let hierarchy = ch03_cgroups::Hierarchy::system().unwrap();
    let cgroup = hierarchy.open(shim.cgroup.name(), "ctr").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cgroup.pids().unwrap_or_default().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the container outlived its supervisor"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    cgroup.remove().unwrap();
    assert!(
        supervise::watch_run(shim.path()).unwrap().is_none(),
        "nobody listens on the attach socket"
    );
    std::fs::remove_file(shim.path().join(supervise::SOCKET)).unwrap();
    assert_nothing_left(&shim);
}
