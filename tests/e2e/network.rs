//! Containers on networks: `run -p`/`--network`, `port`, `inspect`'s
//! `NetworkSettings`, and nothing left behind, through `dockyard` itself.
//!
//! Each sandbox has its own default bridge and subnet (see [`Sandbox::new`]),
//! a user network gets another, and the sandbox removes them all when
//! dropped, so these tests run in parallel with each other and with chapter
//! 05's. Traffic goes only to 127.0.0.1 and to namespaces the tests made.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use ch05_network::{BridgeDefaults, Networks};

use crate::{DefaultBridge, Sandbox, snapshot_text};

impl Sandbox {
    /// This sandbox's network state, as chapter 05's library sees it.
    fn networks(&self) -> Networks {
        Networks::open(&self.root().join("network"), BridgeDefaults::default()).unwrap()
    }

    /// The sandbox's redactions, plus its subnets: `10.X.Y.` reads `[NET].`.
    fn network_redactions(&self, extra: &[&DefaultBridge]) -> insta::Settings {
        let mut settings = self.redactions();
        for bridge in [&self.bridge].into_iter().chain(extra.iter().copied()) {
            let prefix = bridge.subnet.trim_end_matches("0/24");
            settings.add_filter(&testkit::regex_escape(prefix), "[NET].");
            settings.add_filter(&testkit::regex_escape(&bridge.device), "[BRIDGE]");
        }
        settings.add_filter(r"@if\d+", "@if[N]");
        settings.add_filter(r"time=[\d.]+ ms", "time=[T] ms");
        settings.add_filter(r"min/avg/max = [\d./]+ ms", "min/avg/max = [T] ms");
        settings.add_filter(r"02:42(:[0-9a-f]{2}){4}", "02:42:[MAC]");
        settings
    }

    /// Asserts that nothing of a container is left: no veth on the sandbox's
    /// bridges, no iptables rule naming an address of its subnets (only the
    /// networks' own rules, which name whole subnets), no IPAM record.
    fn assert_no_container_leftovers(&self, extra: &[&DefaultBridge]) {
        let state = self.networks().state().unwrap();
        assert!(state.containers.is_empty(), "{:?}", state.containers);
        let rules = sh("iptables-save");
        for bridge in [&self.bridge].into_iter().chain(extra.iter().copied()) {
            let veths = sh(&format!(
                "ip -o link show master {} 2>/dev/null",
                bridge.device
            ));
            assert_eq!(veths, "", "veths left on {}", bridge.device);
            let prefix = bridge.subnet.trim_end_matches("0/24");
            let left: Vec<&str> = rules
                .lines()
                .filter(|l| l.contains(prefix) && !l.contains(&bridge.subnet))
                .collect();
            assert!(left.is_empty(), "rules left: {left:#?}");
        }
    }

    /// Waits until container `name` runs (its network is made before it does).
    fn wait_running(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self
            .ok(&["inspect", "--format", "{{.State.Status}}", name])
            .trim()
            != "running"
        {
            assert!(Instant::now() < deadline, "{name} never ran");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Creates a user-defined network `name` on bridge/subnet `bridge`, as a
    /// reader would (the sandbox's drop removes it).
    fn user_network(&self, name: &str, bridge: &DefaultBridge) {
        let opt = format!("com.docker.network.bridge.name={}", bridge.device);
        self.ok(&[
            "network",
            "create",
            "--subnet",
            &bridge.subnet,
            "-o",
            &opt,
            name,
        ]);
    }
}

/// Runs a shell command on the host and returns its stdout.
fn sh(script: &str) -> String {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` from 127.0.0.1:port, retried until the server answers.
fn http_get(port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
            let mut text = String::new();
            s.read_to_string(&mut text)?;
            Ok(text)
        });
        match attempt {
            Ok(text) if !text.is_empty() => return text,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("no answer on 127.0.0.1:{port}: {other:?}"),
        }
    }
}

#[test]
fn a_container_has_an_address_and_a_default_route() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-addr");
    let text =
        sandbox.transcripts(&[&["run", "--rm", "busybox", "sh", "-c", "ip -4 addr; ip route"]]);
    snapshot_text(
        "network_ip_addr_route",
        text,
        sandbox.network_redactions(&[]),
    );
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn containers_on_a_user_network_ping_each_other_by_name() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-names");
    let net = DefaultBridge::unused();
    sandbox.user_network("e2enet", &net);
    sandbox.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "e2enet",
        "--network-alias",
        "www",
        "busybox",
        "sleep",
        "600",
    ]);
    sandbox.wait_running("web");
    let text = sandbox.transcripts(&[
        &[
            "run",
            "--rm",
            "--network",
            "e2enet",
            "busybox",
            "sh",
            "-c",
            "ping -c 1 -W 2 web; ping -c 1 -W 2 www",
        ],
        &[
            "inspect",
            "--format",
            "{{.HostConfig.NetworkMode}} {{.NetworkSettings.IPAddress}}|{{json .NetworkSettings.Networks.e2enet.Aliases}} {{.NetworkSettings.Networks.e2enet.IPAddress}}",
            "web",
        ],
    ]);
    snapshot_text(
        "network_ping_by_name",
        text,
        sandbox.network_redactions(&[&net]),
    );
    sandbox.ok(&["rm", "-f", "web"]);
    sandbox.assert_no_container_leftovers(&[&net]);
}

#[test]
fn the_default_bridge_resolves_no_names() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-nonames");
    sandbox.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "600"]);
    sandbox.wait_running("web");
    let ip = sandbox.ok(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        "web",
    ]);
    // One stream: two pipes keep no order between them (the supervisor may
    // read the echo's stdout and ping's stderr in the same step), in docker too.
    let script = format!(
        "ping -c 1 -W 1 web 2>&1; ping -c 1 -W 2 {} >/dev/null && echo by address: ok",
        ip.trim()
    );
    let text = sandbox.transcripts(&[&["run", "--rm", "busybox", "sh", "-c", &script]]);
    snapshot_text(
        "network_default_bridge_no_names",
        text,
        sandbox.network_redactions(&[]),
    );
    sandbox.ok(&["rm", "-f", "web"]);
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn a_published_port_answers_on_the_hosts_loopback() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-publish");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let started = sandbox.transcripts(&[&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "web",
        "-p",
        &publish,
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]]);
    let answer = http_get(port, "/hostname");
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 200 "),
        "{answer}"
    );
    assert!(answer.ends_with("\r\n\r\nweb\n"), "{answer}");
    // The same, as a reader would fetch it.
    let url = format!("http://127.0.0.1:{port}/hostname");
    let fetched = testkit::transcript(Command::new("busybox").args(["wget", "-qO-", &url]));
    let text = sandbox.transcripts(&[
        &["port", "web"],
        &["port", "web", "80"],
        &["port", "web", "81/udp"],
        &["ps", "--format", "{{.Names}}: {{.Ports}} on {{.Networks}}"],
        &[
            "inspect",
            "--format",
            "{{.NetworkSettings.IPAddress}} {{json .NetworkSettings.Ports}} {{json .HostConfig.PortBindings}} {{.HostConfig.NetworkMode}}",
            "web",
        ],
    ]);
    let mut settings = sandbox.network_redactions(&[]);
    settings.add_filter(&format!(r"\b{port}\b"), "[PORT]");
    snapshot_text(
        "network_published_port",
        format!("{started}{text}{fetched}"),
        settings,
    );
    sandbox.ok(&["rm", "-f", "web"]);
    assert!(!sh("iptables -t nat -S DOCKYARD").contains(&format!("--dport {port} ")));
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn nat_shows_the_hosts_address_to_the_outside() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-nat");
    // A /30 of its own: chapter 05's fake hosts use 198.51.100.0/24, and the
    // longer prefix routes this one's traffic here.
    let outside = testkit::OutsideHost::new(31, "198.51.100.245/30", "198.51.100.246/30");
    let peer = outside.accept_one(9000);
    let text = sandbox.transcripts(&[&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo hi | nc 198.51.100.246 9000",
    ]]);
    snapshot_text("network_nat_outside", text, sandbox.network_redactions(&[]));
    let peer = peer.join().unwrap();
    assert_eq!(
        peer.ip().to_string(),
        "198.51.100.245",
        "the host's address, masqueraded"
    );
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn network_none_has_only_loopback() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-none");
    let text = sandbox.transcripts(&[
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "ip",
            "-o",
            "link",
        ],
        &["run", "--network", "nosuchnet", "busybox", "true"],
        &["run", "--ip", "10.1.2.3", "busybox", "true"],
        &["run", "-p", "70000", "busybox", "true"],
    ]);
    // A directory's container runs with no supervisor to tear a network down.
    let rootfs = testkit::transcript(&mut crate::run_busybox(&sandbox, &["-p", "80", "true"]));
    snapshot_text(
        "network_none",
        text + &rootfs,
        sandbox.network_redactions(&[]),
    );
    assert!(sandbox.networks().state().unwrap().containers.is_empty());
}

#[test]
fn fifty_containers_leak_nothing() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-fifty");
    for i in 0..50 {
        let id = sandbox.ok(&[
            "run",
            "-d",
            "-p",
            "127.0.0.1::80",
            "-p",
            "53/udp",
            "busybox",
            "sleep",
            "600",
        ]);
        let out = sandbox.cmd(&["rm", "-f", id.trim()]).output().unwrap();
        assert!(
            out.status.success(),
            "rm {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn a_killed_supervisors_network_is_removed() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-crash");
    let id = sandbox.ok(&[
        "run",
        "-d",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sleep",
        "600",
    ]);
    let id = id.trim();
    sandbox.wait_running(id);
    assert_eq!(sandbox.networks().state().unwrap().containers.len(), 1);
    let pid = crate::supervisor_pid(id);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    // The next command that looks sees it exited, and removes what is left.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sandbox
        .ok(&["inspect", "--format", "{{.State.Status}}", id])
        .trim()
        != "exited"
    {
        assert!(Instant::now() < deadline, "{id} still running");
        std::thread::sleep(Duration::from_millis(50));
    }
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn restart_cycles_give_the_network_back_each_time() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-restart");
    let id = sandbox.ok(&[
        "run",
        "-d",
        "--restart",
        "on-failure:2",
        "-p",
        "127.0.0.1::80",
        "busybox",
        "sh",
        "-c",
        "ip -4 -o addr show eth0 | wc -l; exit 3",
    ]);
    let id = id.trim();
    let deadline = Instant::now() + Duration::from_secs(20);
    let format = "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}";
    // Its third run has logged its line (so it was recorded as started) and
    // was recorded as exited (after its teardown): it has stopped for good.
    // Each of the three runs had its address: a line "1" each.
    while sandbox.ok(&["inspect", "--format", format, id]).trim() != "exited 2 3"
        || sandbox.ok(&["logs", id]) != "1\n1\n1\n"
    {
        assert!(
            Instant::now() < deadline,
            "{id} never stopped restarting; its log: {:?}",
            sandbox.ok(&["logs", id])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing is held once it has stopped for good.
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn container_mode_shares_another_containers_network() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-shared");
    sandbox.ok(&["run", "-d", "--name", "base", "busybox", "sleep", "600"]);
    sandbox.wait_running("base");
    let text = sandbox.transcripts(&[
        &[
            "run",
            "--rm",
            "--network",
            "container:base",
            "busybox",
            "ip",
            "-4",
            "-o",
            "addr",
        ],
        &[
            "inspect",
            "--format",
            "{{.NetworkSettings.IPAddress}}",
            "base",
        ],
        &[
            "run",
            "--network",
            "container:base",
            "--hostname",
            "other",
            "busybox",
            "true",
        ],
        &[
            "run",
            "--network",
            "container:base",
            "-p",
            "80",
            "busybox",
            "true",
        ],
        &["run", "--network", "container:nosuch", "busybox", "true"],
    ]);
    snapshot_text(
        "network_container_mode",
        text,
        sandbox.network_redactions(&[]),
    );
    sandbox.ok(&["rm", "-f", "base"]);
    sandbox.assert_no_container_leftovers(&[]);
}

#[test]
fn publish_all_gives_each_exposed_port_a_free_host_port() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-net-publish-all");
    sandbox.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--hostname",
        "web",
        "--expose",
        "80",
        "--expose",
        "90/udp",
        "-P",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    sandbox.wait_running("web");
    let port = sandbox.ok(&["port", "web", "80"]);
    let port: u16 = port
        .trim()
        .strip_prefix("0.0.0.0:")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no host port for 80/tcp: {port:?}"));
    let answer = http_get(port, "/hostname");
    assert!(answer.ends_with("\r\n\r\nweb\n"), "{answer}");
    let text = sandbox.transcripts(&[
        &["port", "web"],
        &[
            "inspect",
            "--format",
            "{{json .HostConfig.PortBindings}} {{.HostConfig.PublishAllPorts}}",
            "web",
        ],
    ]);
    let mut settings = sandbox.network_redactions(&[]);
    settings.add_filter(r"0\.0\.0\.0:\d+", "0.0.0.0:[PORT]");
    snapshot_text("network_publish_all", text, settings);
    sandbox.ok(&["rm", "-f", "web"]);
    sandbox.assert_no_container_leftovers(&[]);
}
