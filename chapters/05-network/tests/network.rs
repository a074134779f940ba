//! Chapter 05's containers on their networks, run through `ch05-network`.
//!
//! Each test has its own state directory, default bridge (`dytN`), subnet
//! (10.200.N.0/24), network names and ports, so tests run in parallel without
//! meeting; a [`Lab`] guard runs `cleanup` when the test ends, failed or not.
//! Traffic goes only to 127.0.0.1 and to namespaces the tests made themselves.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ch05_network::{BridgeDefaults, Networks};
use insta::assert_snapshot;
use testkit::{CgroupParent, OutsideHost};

/// One test's own networking world, cleaned up on drop.
struct Lab {
    n: u8,
    state: tempfile::TempDir,
    parent: CgroupParent,
}

impl Lab {
    /// Test number `n` gets bridge `dytN` and subnet 10.200.N.0/24.
    fn new(test: &str, n: u8) -> Lab {
        Lab {
            n,
            state: tempfile::Builder::new()
                .prefix("ch05-state")
                .tempdir()
                .unwrap(),
            parent: CgroupParent::new(test),
        }
    }

    fn bridge(&self) -> String {
        format!("dyt{}", self.n)
    }

    fn subnet(&self) -> String {
        format!("10.200.{}.0/24", self.n)
    }

    /// `ch05-network ARGS...` on this lab's state, default bridge and cgroup parent.
    fn ch05(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ch05-network"));
        cmd.env("DOCKYARD_NETWORK_STATE", self.state.path())
            .env("DOCKYARD_DEFAULT_BRIDGE", self.bridge())
            .env("DOCKYARD_DEFAULT_SUBNET", self.subnet())
            .env("DOCKYARD_CGROUP_PARENT", self.parent.name())
            .args(args);
        cmd
    }

    /// `ch05-network run --rootfs BUSYBOX --dns 127.0.0.1 ARGS...`: the container's
    /// resolver points at its own loopback, so no name lookup leaves the machine.
    fn run(&self, args: &[&str]) -> Command {
        let rootfs = testkit::fixtures::busybox_rootfs();
        let mut all = vec![
            "run",
            "--rootfs",
            rootfs.to_str().unwrap(),
            "--dns",
            "127.0.0.1",
        ];
        all.extend(args);
        self.ch05(&all)
    }

    /// Starts a container in the background; stop it with [`Lab::stop`].
    fn start(&self, args: &[&str]) -> Child {
        self.run(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Waits until the container named `name` is plumbed: its veth is up on the bridge.
    fn wait_for(&self, name: &str) {
        let networks = Networks::open(self.state.path(), BridgeDefaults::default()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let state = networks.state().unwrap();
            let veth = state
                .containers
                .values()
                .find(|c| c.name == name)
                .map(|c| c.endpoints[0].veth.clone());
            if let Some(veth) = veth {
                let operstate = format!("/sys/class/net/{veth}/operstate");
                if std::fs::read_to_string(operstate).is_ok_and(|s| s.trim() != "down") {
                    // eth0's address and route are set right after, in the same step.
                    std::thread::sleep(Duration::from_millis(300));
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("container {name} never got its network");
    }

    /// Asks a background container to stop (its shell traps SIGTERM) and waits.
    fn stop(&self, mut child: Child) {
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let status = child.wait().unwrap();
        assert!(status.success(), "background container: {status}");
    }

    /// Checks that nothing of this lab's containers is left: no veth on its
    /// bridges, no DNAT rule to its subnet, no IPAM entry, no container files.
    fn assert_no_container_leftovers(&self) {
        let state = Networks::open(self.state.path(), BridgeDefaults::default())
            .unwrap()
            .state()
            .unwrap();
        assert!(state.containers.is_empty(), "IPAM entries left: {state:?}");
        let containers = self.state.path().join("containers");
        let left = std::fs::read_dir(&containers).map_or(0, |d| d.count());
        assert_eq!(left, 0, "container files left in {}", containers.display());
        for network in state.networks.values() {
            let links = sh(&format!("ip -o link show master {}", network.bridge));
            assert_eq!(links, "", "veths left on {}", network.bridge);
        }
        let prefix = format!("10.200.{}.", self.n);
        let rules: Vec<String> = sh("iptables-save")
            .lines()
            .filter(|l| l.contains("DNAT") && l.contains(&prefix))
            .map(String::from)
            .collect();
        assert!(rules.is_empty(), "DNAT rules left: {rules:?}");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let status = self.ch05(&["cleanup"]).status();
        // After cleanup, nothing of this lab is on the host.
        let bridge = self.bridge();
        let links = sh("ip -o link");
        let rules = sh("iptables-save");
        if !std::thread::panicking() {
            assert!(status.is_ok_and(|s| s.success()), "cleanup failed");
            assert!(
                !links.contains(&format!("{bridge}:")),
                "{bridge} left: {links}"
            );
            assert!(!rules.contains(&bridge), "rules for {bridge} left: {rules}");
        }
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

/// The transcript of `cmd`, snapshot-tested with what varies redacted.
fn snapshot(name: &str, cmd: &mut Command, extra: &[(&str, &str)]) {
    let mut settings = testkit::redactions();
    for (regex, replacement) in extra {
        settings.add_filter(regex, *replacement);
    }
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[ID]");
    settings.add_filter(r"@if\d+", "@if[N]");
    settings.add_filter(r"time=[\d.]+ ms", "time=[T] ms");
    settings.add_filter(r"min/avg/max = [\d./]+ ms", "min/avg/max = [T] ms");
    let _guard = settings.bind_to_scope();
    assert_snapshot!(name, testkit::transcript(cmd));
}

#[test]
fn a_container_has_an_address_and_a_default_route() {
    testkit::require_root!();
    let lab = Lab::new("ch05-addr", 1);
    snapshot(
        "ip_addr_route",
        &mut lab.run(&["sh", "-c", "ip -4 addr; ip link show eth0; ip route"]),
        &[],
    );
    lab.assert_no_container_leftovers();
}

#[test]
fn a_user_network_gives_the_address_mac_and_names_asked_for() {
    testkit::require_root!();
    let lab = Lab::new("ch05-usernet", 2);
    let create = lab
        .ch05(&[
            "network",
            "create",
            "--subnet",
            "10.200.12.0/24",
            "--ip-range",
            "10.200.12.128/25",
            "-o",
            "com.docker.network.bridge.name=dyt2u",
            "usernet",
        ])
        .output()
        .unwrap();
    assert!(create.status.success(), "{create:?}");
    snapshot(
        "user_network_ip_mac",
        &mut lab.run(&[
            "--network",
            "usernet",
            "--ip",
            "10.200.12.7",
            "--mac-address",
            "02:42:0a:00:00:aa",
            "--hostname",
            "box",
            "--add-host",
            "db.example:10.200.12.99",
            "sh",
            "-c",
            "ip -4 addr show eth0; ip link show eth0; cat /etc/hosts /etc/resolv.conf",
        ]),
        &[],
    );
    snapshot(
        "network_ls",
        &mut lab.ch05(&["network", "ls"]),
        &[(r"(?m)^[0-9a-f]{12} ", "[NETWORK-ID] ")],
    );
    snapshot(
        "network_rm_unknown",
        &mut lab.ch05(&["network", "rm", "nosuch"]),
        &[],
    );
    lab.assert_no_container_leftovers();
}

#[test]
fn containers_on_a_user_network_ping_each_other_by_name() {
    testkit::require_root!();
    let lab = Lab::new("ch05-names", 3);
    let create = lab
        .ch05(&[
            "network",
            "create",
            "--subnet",
            "10.200.13.0/24",
            "-o",
            "com.docker.network.bridge.name=dyt3u",
            "names",
        ])
        .output()
        .unwrap();
    assert!(create.status.success(), "{create:?}");
    let web = lab.start(&[
        "--network",
        "names",
        "--name",
        "web",
        "--network-alias",
        "www",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 60 & wait",
    ]);
    lab.wait_for("web");
    snapshot(
        "ping_by_name",
        &mut lab.run(&[
            "--network",
            "names",
            "--name",
            "probe",
            "sh",
            "-c",
            "ping -c 1 -W 2 web && ping -c 1 -W 2 www && grep web /etc/hosts",
        ]),
        &[],
    );
    // In use: it cannot go.
    snapshot(
        "network_rm_in_use",
        &mut lab.ch05(&["network", "rm", "names"]),
        &[(r"id [0-9a-f]{64}", "id [NETWORK-ID]")],
    );
    let inspect = lab.ch05(&["network", "inspect", "names"]).output().unwrap();
    let inspect: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(inspect[0]["Name"], "names");
    assert_eq!(inspect[0]["Driver"], "bridge");
    assert_eq!(inspect[0]["IPAM"]["Config"][0]["Subnet"], "10.200.13.0/24");
    assert_eq!(inspect[0]["IPAM"]["Config"][0]["Gateway"], "10.200.13.1");
    let containers = inspect[0]["Containers"].as_object().unwrap();
    assert_eq!(containers.len(), 1);
    let web_endpoint = containers.values().next().unwrap();
    assert_eq!(web_endpoint["Name"], "web");
    assert_eq!(web_endpoint["IPv4Address"], "10.200.13.2/24");
    lab.stop(web);
    let rm = lab.ch05(&["network", "rm", "names"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&rm.stdout), "names\n");
    lab.assert_no_container_leftovers();
}

#[test]
fn the_default_bridge_resolves_no_names() {
    testkit::require_root!();
    let lab = Lab::new("ch05-nonames", 4);
    let web = lab.start(&[
        "--name",
        "web",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 60 & wait",
    ]);
    lab.wait_for("web");
    snapshot(
        "default_bridge_no_names",
        &mut lab.run(&[
            "--name",
            "probe",
            "sh",
            "-c",
            "ping -c 1 -W 1 web; ping -c 1 -W 2 10.200.4.2 >/dev/null && echo by address: ok",
        ]),
        &[],
    );
    lab.stop(web);
    lab.assert_no_container_leftovers();
}

#[test]
fn a_published_port_answers_on_the_hosts_loopback() {
    testkit::require_root!();
    let lab = Lab::new("ch05-publish", 5);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let web = lab.start(&[
        "-p",
        &publish,
        "--name",
        "web",
        "--hostname",
        "web",
        "sh",
        "-c",
        "trap 'exit 0' TERM; httpd -f -p 80 -h /etc & wait",
    ]);
    lab.wait_for("web");
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        let attempt = TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(b"GET /hostname HTTP/1.0\r\n\r\n")?;
            let mut text = String::new();
            s.read_to_string(&mut text)?;
            Ok(text)
        });
        match attempt {
            Ok(text) if !text.is_empty() => break text,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            other => panic!("no answer on 127.0.0.1:{port}: {other:?}"),
        }
    };
    assert!(
        answer.starts_with("HTTP/1.") && answer.contains(" 200 "),
        "{answer}"
    );
    assert!(answer.ends_with("\r\n\r\nweb\n"), "{answer}");
    // The DNAT rule is in dockyard's chain while the container runs...
    let rules = sh("iptables -t nat -S DOCKYARD");
    let expected = format!(
        "-A DOCKYARD -d 127.0.0.1/32 ! -i dyt5 -p tcp -m tcp --dport {port} -j DNAT --to-destination 10.200.5.2:80"
    );
    assert!(rules.contains(&expected), "{rules}");
    lab.stop(web);
    // ...and gone after.
    assert!(!sh("iptables -t nat -S DOCKYARD").contains(&format!("--dport {port} ")));
    lab.assert_no_container_leftovers();
}

/// The fake outside host of test `n`, on the `block`th /30 of 198.51.100.0/24:
/// the host at .(4·block+1), the fake at .(4·block+2). A /30 per test keeps the
/// routes of tests that run at the same time (and of the engine's e2e tests,
/// which take blocks from 61 up) apart.
fn outside_host(n: u8, block: u8) -> OutsideHost {
    let host = format!("198.51.100.{}/30", 4 * block + 1);
    let fake = format!("198.51.100.{}/30", 4 * block + 2);
    OutsideHost::new(n, &host, &fake)
}

#[test]
fn nat_shows_the_hosts_address_to_the_outside() {
    testkit::require_root!();
    let lab = Lab::new("ch05-nat", 6);
    let outside = outside_host(6, 0);
    let peer = outside.accept_one(9000);
    snapshot(
        "nat_outside",
        &mut lab.run(&["sh", "-c", "echo hi | nc 198.51.100.2 9000"]),
        &[],
    );
    let peer = peer.join().unwrap();
    assert_eq!(
        peer.ip().to_string(),
        "198.51.100.1",
        "the host's address, masqueraded"
    );
    lab.assert_no_container_leftovers();
}

#[test]
fn network_none_has_only_loopback() {
    testkit::require_root!();
    let lab = Lab::new("ch05-none", 7);
    snapshot(
        "network_none",
        &mut lab.run(&["--network", "none", "-p", "8080:80", "ip", "-o", "link"]),
        &[],
    );
    assert!(
        Networks::open(lab.state.path(), BridgeDefaults::default())
            .unwrap()
            .state()
            .unwrap()
            .containers
            .is_empty()
    );
}

#[test]
fn fifty_containers_leak_nothing() {
    testkit::require_root!();
    let lab = Lab::new("ch05-fifty", 8);
    for i in 0..50 {
        let out = lab
            .run(&["-p", "127.0.0.1::80", "-p", "53/udp", "true"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    lab.assert_no_container_leftovers();
    let ours = sh("ip -o link show master dyt8");
    assert_eq!(ours, "");
}

#[test]
fn teardown_after_a_crash_removes_everything_and_can_run_twice() {
    testkit::require_root!();
    let lab = Lab::new("ch05-crash", 9);
    let mut runner = lab.start(&[
        "-p",
        "127.0.0.1::80",
        "--name",
        "victim",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 60 & wait",
    ]);
    lab.wait_for("victim");
    // The runner dies without its teardown; the container dies with it (pdeathsig).
    runner.kill().unwrap();
    runner.wait().unwrap();
    let networks = Networks::open(lab.state.path(), BridgeDefaults::default()).unwrap();
    let state = networks.state().unwrap();
    let (id, victim) = state
        .containers
        .iter()
        .next()
        .expect("the record survives the crash");
    assert_eq!(victim.name, "victim");
    assert!(sh("iptables -t nat -S DOCKYARD").contains("10.200.9.2:80"));
    networks.teardown(id).unwrap();
    networks.teardown(id).unwrap();
    lab.assert_no_container_leftovers();
    // The crashed runner also left chapter 03's cgroup: recovery removes it too,
    // once the container (killed with its runner) has gone from it.
    let cgroup = ch03_cgroups::Hierarchy::system()
        .unwrap()
        .open(lab.parent.name(), id)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cgroup.remove().is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn container_mode_shares_another_namespace() {
    testkit::require_root!();
    let lab = Lab::new("ch05-shared", 10);
    let outside = outside_host(10, 1);
    let shared = format!("container:/run/netns/{}", outside.netns);
    snapshot(
        "network_container",
        &mut lab.run(&["--network", &shared, "ip", "-4", "addr", "show", "dyo10p"]),
        &[(&testkit::regex_escape(&outside.netns), "[NETNS]")],
    );
    lab.assert_no_container_leftovers();
}

#[test]
fn networks_are_isolated_from_each_other() {
    testkit::require_root!();
    let lab = Lab::new("ch05-isolation", 11);
    for (name, subnet, bridge) in [
        ("left", "10.200.21.0/24", "dyt11l"),
        ("right", "10.200.22.0/24", "dyt11r"),
    ] {
        let option = format!("com.docker.network.bridge.name={bridge}");
        let create = lab
            .ch05(&["network", "create", "--subnet", subnet, "-o", &option, name])
            .output()
            .unwrap();
        assert!(create.status.success(), "{create:?}");
    }
    let web = lab.start(&[
        "--network",
        "left",
        "--name",
        "web",
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 60 & wait",
    ]);
    lab.wait_for("web");
    let probe = "ping -c 1 -W 1 10.200.21.2 >/dev/null && echo web reached || echo web unreachable";
    // From its own network web is reachable; from another network, and from the
    // default bridge (a network too), it is not: docker's isolation.
    for (name, network) in [
        ("isolation_same_network", "left"),
        ("isolation_other_network", "right"),
        ("isolation_default_bridge", "bridge"),
    ] {
        snapshot(
            name,
            &mut lab.run(&["--network", network, "sh", "-c", probe]),
            &[],
        );
    }
    lab.stop(web);
    for name in ["left", "right"] {
        let rm = lab.ch05(&["network", "rm", name]).output().unwrap();
        assert!(rm.status.success(), "{rm:?}");
    }
    lab.assert_no_container_leftovers();
}

/// The host PID of the container that the runner `runner` started: its child
/// that is PID 1 of its own PID namespace.
fn init_of(runner: &Child) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name));
            let init = field("NSpid:").and_then(|ids| ids.split_whitespace().last()) == Some("1");
            if init && field("PPid:").is_some_and(|p| p.trim() == runner.id().to_string()) {
                return pid;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("runner {} started no container", runner.id());
}

#[test]
fn a_running_container_is_connected_to_one_more_network_and_disconnected() {
    testkit::require_root!();
    let lab = Lab::new("ch05-connect", 14);
    let create = lab
        .ch05(&[
            "network",
            "create",
            "--subnet",
            "10.200.24.0/24",
            "-o",
            "com.docker.network.bridge.name=dyt14u",
            "back",
        ])
        .output()
        .unwrap();
    assert!(create.status.success(), "{create:?}");
    let sleeper = "trap 'exit 0' TERM; sleep 600 & wait";
    let db = lab.start(&["--network", "back", "--name", "db", "sh", "-c", sleeper]);
    let web = lab.start(&["--name", "web", "sh", "-c", sleeper]);
    lab.wait_for("db");
    lab.wait_for("web");
    let (db_pid, web_pid) = (init_of(&db), init_of(&web));
    let networks = Networks::open(lab.state.path(), BridgeDefaults::default()).unwrap();
    let web_id = networks
        .state()
        .unwrap()
        .containers
        .into_values()
        .find(|c| c.name == "web")
        .unwrap()
        .id;
    // What both see: web's devices, and db's /etc/hosts (through its root).
    let look = format!(
        "nsenter -t {web_pid} -n ip -4 -o addr show scope global; \
         grep web /proc/{db_pid}/root/etc/hosts || echo 'db: no web in /etc/hosts'"
    );
    let pids = [(r"-t \d+", "-t [PID]"), (r"/proc/\d+/", "/proc/[PID]/")];
    snapshot(
        "connect_before",
        Command::new("sh").args(["-c", &look]),
        &pids,
    );
    let attach = ch05_network::Attach {
        id: web_id.clone(),
        name: "web".into(),
        network: "back".into(),
        aliases: vec!["www".into()],
        ..Default::default()
    };
    let endpoint = networks.connect_network(&attach, Some(web_pid)).unwrap();
    assert_eq!(endpoint.map(|e| e.ip), Some(Ipv4Addr::new(10, 200, 24, 3)));
    snapshot(
        "connect_after",
        Command::new("sh").args([
            "-c",
            &format!("{look}; nsenter -t {db_pid} -a ping -c 1 -W 2 www"),
        ]),
        &pids,
    );
    let again = networks
        .connect_network(&attach, Some(web_pid))
        .unwrap_err();
    assert_eq!(
        again.to_string(),
        "endpoint with name web already exists in network back"
    );
    networks.disconnect_network(&web_id, "back").unwrap();
    snapshot(
        "connect_disconnected",
        Command::new("sh").args(["-c", &look]),
        &pids,
    );
    let again = networks.disconnect_network(&web_id, "back").unwrap_err();
    assert_eq!(
        again.to_string(),
        format!("container {web_id} is not connected to network back")
    );
    lab.stop(web);
    lab.stop(db);
    lab.assert_no_container_leftovers();
}
