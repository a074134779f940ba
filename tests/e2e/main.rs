//! End-to-end scenarios: `dockyard` used as a person would use docker.
//! One module per theme; each grows as the engine does.

mod containers;
mod cp;
mod crash;
mod images;
mod isolation;
mod lifecycle;
mod network;
mod network_cmds;
mod run;
mod supervisor;

use std::path::Path;
use std::process::Command;

use testkit::CgroupParent;

/// A test's own engine: a state root (`DOCKYARD_ROOT`, a temp dir), a
/// cgroup parent and a default bridge with a subnet of its own, all removed
/// when the sandbox is dropped, also on failure. dockyard mounts container
/// roots in a mount namespace of its own, so no mount outlives the command
/// that made it.
struct Sandbox {
    parent: CgroupParent,
    root: tempfile::TempDir,
    bridge: DefaultBridge,
}

/// A sandbox's default `bridge` network: its device and subnet, what
/// `DOCKYARD_DEFAULT_BRIDGE` and `DOCKYARD_DEFAULT_SUBNET` tell the engine.
struct DefaultBridge {
    device: String,
    subnet: String,
}

impl DefaultBridge {
    /// A bridge name and a /24 no other sandbox uses: in 10.64-113.N.0/24
    /// (chapter 05's tests use 10.200 and up), told apart by this process's
    /// pid and a counter, skipping any the host has already (another run).
    fn unused() -> DefaultBridge {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let pid = std::process::id() % 50;
        let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
        loop {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            assert!(n < 256, "out of test subnets");
            let device = format!("dye{pid}x{n}");
            // /proc/net/route shows destinations as little-endian hex.
            let destination = format!("{n:02X}{:02X}0A", 64 + pid);
            let taken = Path::new("/sys/class/net").join(&device).exists()
                || routes.lines().any(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .is_some_and(|d| d.ends_with(&destination) && d.len() == 8)
                });
            if !taken {
                return DefaultBridge {
                    device,
                    subnet: format!("10.{}.{n}.0/24", 64 + pid),
                };
            }
        }
    }
}

impl Sandbox {
    /// An empty engine for test `name`.
    fn new(name: &str) -> Sandbox {
        Sandbox {
            parent: CgroupParent::new(name),
            root: tempfile::Builder::new()
                .prefix("dockyard-root-")
                .tempdir()
                .expect("temp dir"),
            bridge: DefaultBridge::unused(),
        }
    }

    /// An engine with the busybox fixture imported as `busybox:latest`, the
    /// way a reader makes it: `dockyard import --change 'CMD ["sh"]' target/fixtures/busybox.tar busybox:latest`
    /// (docker's busybox image runs `sh` by default too).
    fn with_busybox(name: &str) -> Sandbox {
        let sandbox = Sandbox::new(name);
        let tar = testkit::fixtures::dir().join("busybox.tar");
        assert!(
            tar.is_file(),
            "{} is missing: run `cargo xtask fixtures`",
            tar.display()
        );
        let out = sandbox
            .cmd(&["import", "--change", r#"CMD ["sh"]"#])
            .arg(tar)
            .arg("busybox:latest")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import busybox: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        sandbox
    }

    fn root(&self) -> &Path {
        self.root.path()
    }

    /// `dockyard ARGS...` in this sandbox.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = dockyard(self);
        cmd.args(args);
        cmd
    }

    /// Runs `dockyard ARGS...`, asserts it succeeded, and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "dockyard {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The transcripts of `dockyard ARGS...` for each of `runs`, joined, with
    /// their tables' times redacted (see [`retable`]).
    fn transcripts(&self, runs: &[&[&str]]) -> String {
        runs.iter()
            .map(|args| retable(&testkit::transcript(&mut self.cmd(args))))
            .collect()
    }

    /// The insta settings for this sandbox: testkit's, plus what varies
    /// between runs of the engine, each replaced only where it has the right
    /// shape: IDs (64 and 12 hex digits), times, and the state root's path.
    fn redactions(&self) -> insta::Settings {
        let mut settings = testkit::redactions();
        settings.add_filter(
            &testkit::regex_escape(&self.root().display().to_string()),
            "[ROOT]",
        );
        settings.add_filter(r"sha256:[0-9a-f]{64}\b", "sha256:[DIGEST]");
        settings.add_filter(r"\b[0-9a-f]{64}\b", "[FULL-ID]");
        // As wide as what it replaces, so tables stay aligned.
        settings.add_filter(r"\b[0-9a-f]{12}\b", "[SHORT-ID12]");
        settings.add_filter(
            r"\b(Less than a second|About a minute|\d+ seconds?|\d+ minutes?) ago\b",
            "[TIME] ago",
        );
        settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIMESTAMP]");
        settings
    }
}

/// Containers under a supervisor outlive the commands that started them:
/// `rm -f` each (which also ends its supervisor) before the state root and
/// the cgroup parent go, also when a test failed; then every network the
/// engine made (bridges, rules) goes, with chapter 05's `cleanup`.
impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Ok(out) = self.cmd(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.cmd(&["rm", "-f", id]).output();
            }
        }
        let state = self.root().join("network");
        if state.is_dir() {
            let networks = ch05_network::Networks::open(&state, Default::default());
            if let Err(err) = networks.and_then(|n| n.cleanup()) {
                eprintln!("cleaning up the networks of {}: {err}", state.display());
            }
        }
    }
}

/// Waits up to `secs` seconds for `done`, checking every 50 ms.
fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The pid of container `id`'s supervisor, from the `supervisor.json` it
/// writes once it has cloned the container's init: a moment after `run -d`
/// returns, or later if the supervisor was kept off a CPU.
fn supervisor_pid(id: &str) -> nix::unistd::Pid {
    let info = Path::new("/run/dockyard").join(id).join("supervisor.json");
    wait_until(10, "supervisor.json", || info.exists());
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(info).unwrap()).unwrap();
    nix::unistd::Pid::from_raw(info["pid"].as_i64().unwrap() as i32)
}

/// `dockyard` with the sandbox's state root and cgroup parent.
fn dockyard(sandbox: &Sandbox) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockyard"));
    cmd.env("DOCKYARD_ROOT", sandbox.root())
        .env("DOCKYARD_CGROUP_PARENT", sandbox.parent.name())
        .env("DOCKYARD_DEFAULT_BRIDGE", &sandbox.bridge.device)
        .env("DOCKYARD_DEFAULT_SUBNET", &sandbox.bridge.subnet);
    cmd
}

/// `dockyard run --rootfs BUSYBOX ARGS...`: a directory, podman's `--rootfs`.
fn run_busybox(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = dockyard(sandbox);
    cmd.args(["run", "--rootfs"])
        .arg(testkit::fixtures::busybox_rootfs())
        .args(args);
    cmd
}

/// Snapshots the transcript of `cmd` as `tests/e2e/snapshots/e2e__NAME.snap`.
fn snapshot(name: &str, cmd: &mut Command) {
    snapshot_text(name, testkit::transcript(cmd), testkit::redactions());
}

/// Snapshots `text` (transcripts joined, say) as `e2e__NAME.snap`, with `settings`'
/// redactions. Every scenario snapshots through here, so names do not depend on
/// the module a test is in.
fn snapshot_text(name: &str, text: String, settings: insta::Settings) {
    let _guard = settings.bind_to_scope();
    insta::assert_snapshot!(name, text);
}

/// The times `docker ps` and `docker images` print ("3 seconds ago").
const AGO: &str = r"\b(Less than a second|About a minute|\d+ seconds?|\d+ minutes?) ago\b";

/// Where the columns of a table header start: a header is upper-case words
/// (one space inside a name, "IMAGE ID"; 3 or more between columns).
fn columns(line: &str) -> Option<Vec<usize>> {
    let chars: Vec<char> = line.chars().collect();
    let is_header = line.contains("   ")
        && !line.starts_with(' ')
        && chars.iter().all(|c| c.is_ascii_uppercase() || *c == ' ');
    is_header.then(|| {
        (0..chars.len())
            .filter(|&i| chars[i] != ' ' && (i == 0 || (i >= 2 && chars[i - 2..i] == [' ', ' '])))
            .collect()
    })
}

/// Redacts the times in the tables of `transcript` and lays the tables out
/// again as docker's tab writer does. A time's width varies from run to run
/// ("1 second ago", "Less than a second ago"), and so does its column's; so
/// each row is cut where the header's columns start (a row docker would not
/// have aligned comes out garbled, and fails the snapshot), its time cells are
/// redacted, and the table is written again with docker's widths.
fn retable(transcript: &str) -> String {
    let ago = regex::Regex::new(AGO).unwrap();
    let mut out = Vec::new();
    let mut lines = transcript.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(starts) = columns(line) else {
            out.push(line.to_string());
            continue;
        };
        let mut table = vec![line];
        while let Some(row) =
            lines.next_if(|l| !l.is_empty() && !l.starts_with("$ ") && !l.starts_with("[exit"))
        {
            table.push(row);
        }
        let cells: Vec<Vec<String>> = table
            .iter()
            .map(|row| {
                let chars: Vec<char> = row.chars().collect();
                let cut = |i: usize| {
                    chars
                        .len()
                        .min(starts.get(i).copied().unwrap_or(chars.len()))
                };
                (0..starts.len())
                    .map(|i| {
                        let cell: String = chars[cut(i)..cut(i + 1)].iter().collect();
                        ago.replace_all(cell.trim_end(), "[TIME] ago").into_owned()
                    })
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = (0..starts.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count() + 3)
                    .max()
                    .unwrap_or(0)
                    .max(10)
            })
            .collect();
        for row in cells {
            let mut text = String::new();
            for (i, cell) in row.iter().enumerate() {
                text.push_str(cell);
                if i + 1 < row.len() {
                    text.push_str(&" ".repeat(widths[i] - cell.chars().count()));
                }
            }
            out.push(text);
        }
    }
    out.join("\n") + "\n"
}

/// Asserts `table` is aligned as docker's tab writer aligns it: each cell of
/// every row starts where a column of the header starts.
fn assert_aligned(table: &str) {
    let mut lines = table.lines();
    let header = columns(lines.next().expect("a header line")).expect("a table header");
    for line in lines {
        let chars: Vec<char> = line.chars().collect();
        for start in (0..chars.len())
            .filter(|&i| chars[i] != ' ' && (i == 0 || (i >= 2 && chars[i - 2..i] == [' ', ' '])))
        {
            assert!(
                header.contains(&start),
                "a cell at column {start} is not under a header in\n{table}"
            );
        }
    }
}

/// The 12-hex-digit short ID at the start of `text`, checked.
fn short_id(text: &str) -> String {
    let id = text.trim().to_string();
    assert!(
        id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?} is not a 12-digit ID"
    );
    id
}
