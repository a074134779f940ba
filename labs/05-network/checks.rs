//! Lab 05 checks: IPAM, the MAC derived from an address and the `-p` parser
//! first on their own (the library: no root, milliseconds), then containers
//! plugged into a bridge through `ch05-network` (root). Each check compares what
//! your code produced with the snapshot the reference produced
//! (labs/05-network/snapshots/). Run them with `cargo xtask lab check 05`; each
//! check's hint is in lab.toml.
//!
//! The containers of a check live in a world of their own: a network namespace
//! the check makes (`dylabN-PID`), with its own bridge (`dylN`) and subnet
//! (10.205.N.0/24). Every command of the check, `ch05-network` and the "host"
//! commands (`ip`, `curl`), runs inside it, so no packet leaves it, and deleting
//! it when the check ends, passed or failed, removes whatever your code made.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ch05_network::ipam::{Pool, format_mac, mac_for};
use ch05_network::ports::parse_publish;
use testkit::CgroupParent;

fn snapshot(name: &str, text: &str) {
    let mut settings = testkit::redactions();
    settings.add_filter(r"\bveth[0-9a-f]{7}\b", "vethXXXXXXX");
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[ID]");
    // IPv6 duplicate address detection may or may not have finished.
    settings.add_filter(r"scope link tentative", "scope link");
    let _guard = settings.bind_to_scope();
    insta::assert_snapshot!(name, text);
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

// ---- Part 1: IPAM and MAC addresses ----

/// Allocates `n` addresses in turn, each one held by the next request.
fn allocate_in_turn(pool: &Pool, held: &mut Vec<Ipv4Addr>, n: usize, report: &mut String) {
    for _ in 0..n {
        match pool.allocate(held, None) {
            Ok(got) => {
                writeln!(report, "  allocate -> {got}").unwrap();
                held.push(got);
            }
            Err(err) => writeln!(report, "  allocate -> error: {err}").unwrap(),
        }
    }
}

#[test]
fn ipam_hands_out_the_lowest_free_address() {
    let mut report = String::new();
    let pool = Pool::new("10.205.1.0/24".parse().unwrap(), None, None).unwrap();
    writeln!(report, "10.205.1.0/24, gateway {}:", pool.gateway).unwrap();
    let mut held = Vec::new();
    allocate_in_turn(&pool, &mut held, 3, &mut report);
    held.retain(|a| *a != ip("10.205.1.3"));
    writeln!(report, "  release 10.205.1.3").unwrap();
    allocate_in_turn(&pool, &mut held, 2, &mut report);

    let pool = Pool::new(
        "10.205.2.0/29".parse().unwrap(),
        Some(ip("10.205.2.6")),
        None,
    )
    .unwrap();
    writeln!(report, "10.205.2.0/29, gateway {}:", pool.gateway).unwrap();
    allocate_in_turn(&pool, &mut Vec::new(), 6, &mut report);

    let pool = Pool::new("10.205.3.0/30".parse().unwrap(), None, None).unwrap();
    writeln!(report, "10.205.3.0/30, gateway {}:", pool.gateway).unwrap();
    allocate_in_turn(&pool, &mut Vec::new(), 2, &mut report);
    snapshot("ipam_lowest_free", &report);
}

#[test]
fn ipam_honours_ip_range_and_ip() {
    let mut report = String::new();
    let pool = Pool::new(
        "10.205.4.0/24".parse().unwrap(),
        Some(ip("10.205.4.254")),
        Some("10.205.4.128/25".parse().unwrap()),
    )
    .unwrap();
    writeln!(
        report,
        "10.205.4.0/24, --ip-range 10.205.4.128/25, gateway 10.205.4.254:"
    )
    .unwrap();
    let mut held = Vec::new();
    allocate_in_turn(&pool, &mut held, 2, &mut report);
    for wanted in [
        "10.205.4.9",
        "10.205.4.128",
        "10.205.4.254",
        "10.205.4.0",
        "10.205.4.255",
        "10.9.9.9",
    ] {
        let got = match pool.allocate(&held, Some(ip(wanted))) {
            Ok(got) => got.to_string(),
            Err(err) => format!("error: {err}"),
        };
        writeln!(report, "  --ip {wanted} -> {got}").unwrap();
    }
    held.extend((130..=253).map(|n| Ipv4Addr::new(10, 205, 4, n)));
    writeln!(report, "  (the range's other addresses are held too)").unwrap();
    allocate_in_turn(&pool, &mut held, 1, &mut report);

    let pool = Pool::new("10.205.5.0/31".parse().unwrap(), None, None).unwrap();
    writeln!(
        report,
        "10.205.5.0/31 (no network or broadcast address), gateway {}:",
        pool.gateway
    )
    .unwrap();
    allocate_in_turn(&pool, &mut Vec::new(), 2, &mut report);
    snapshot("ipam_range_and_ip", &report);
}

#[test]
fn macs_are_derived_from_the_address() {
    let mut report = String::new();
    for address in [
        "172.17.0.2",
        "10.205.1.2",
        "192.168.255.254",
        "10.0.0.1",
        "0.0.0.0",
    ] {
        writeln!(
            report,
            "{address:>15} -> {}",
            format_mac(mac_for(ip(address)))
        )
        .unwrap();
    }
    snapshot("macs", &report);
}

// ---- Part 2: -p specs ----

fn show_specs(specs: &[&str]) -> String {
    let mut report = String::new();
    for spec in specs {
        let shown = match parse_publish(spec) {
            Ok(requests) => requests
                .iter()
                .map(|r| {
                    let host_ip = r.host_ip.map_or("any".to_string(), |ip| ip.to_string());
                    let ports = match r.host_ports {
                        None => "a free port".to_string(),
                        Some((a, b)) if a == b => format!("port {a}"),
                        Some((a, b)) => format!("a free port in {a}-{b}"),
                    };
                    format!("{host_ip}, {ports} -> {}/{}", r.container_port, r.proto)
                })
                .collect::<Vec<_>>()
                .join("; "),
            Err(err) => format!("error: {err}"),
        };
        writeln!(report, "{:>28} -> {shown}", format!("-p {spec}")).unwrap();
    }
    report
}

#[test]
fn port_specs_parse_as_docker_does() {
    let report = show_specs(&[
        "80",
        "8080:80",
        "8080:80/udp",
        "127.0.0.1:8080:80",
        "127.0.0.1::80",
        "53:53/UDP",
        "[::1]:8080:80/tcp",
        "8000-8001:80-81",
        "8000-8010:80",
        "80/",
    ]);
    snapshot("port_specs", &report);
}

#[test]
fn port_spec_errors_are_dockers() {
    let report = show_specs(&[
        "abc",
        "x:80",
        "1.2.3:80:80",
        "8080:",
        "80/icmp",
        "70000",
        "90-80",
        "8000-8002:80-81",
        "127.0.0.1:99999:80",
    ]);
    snapshot("port_spec_errors", &report);
}

// ---- Part 3: a container plugged into the bridge ----

/// A check's own network namespace, state directory and cgroup parent.
struct World {
    n: u8,
    netns: String,
    state: tempfile::TempDir,
    parent: CgroupParent,
}

impl World {
    fn new(test: &str, n: u8) -> World {
        let netns = format!("dylab{n}-{}", std::process::id());
        let script = format!("set -e; ip netns add {netns}; ip -n {netns} link set lo up");
        let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
        assert!(status.success(), "make the check's namespace: {script}");
        World {
            n,
            netns,
            state: tempfile::Builder::new().prefix("lab05").tempdir().unwrap(),
            parent: CgroupParent::new(test),
        }
    }

    /// `program ARGS...` inside the world's network namespace.
    fn cmd(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args);
        let netns = std::fs::File::open(format!("/run/netns/{}", self.netns)).unwrap();
        // SAFETY: between fork and exec only setns(2) runs, on a file opened before.
        unsafe {
            cmd.pre_exec(move || {
                nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)
            });
        }
        cmd
    }

    /// `ch05-network ARGS...` with this world's state, bridge `dylN` and 10.205.N.0/24.
    fn ch05(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd(env!("CARGO_BIN_EXE_ch05-network"), args);
        cmd.env("DOCKYARD_NETWORK_STATE", self.state.path())
            .env("DOCKYARD_DEFAULT_BRIDGE", format!("dyl{}", self.n))
            .env("DOCKYARD_DEFAULT_SUBNET", format!("10.205.{}.0/24", self.n))
            .env("DOCKYARD_CGROUP_PARENT", self.parent.name());
        cmd
    }

    /// `ch05-network run --rootfs BUSYBOX ARGS...`.
    fn run(&self, args: &[&str]) -> Command {
        let rootfs = testkit::fixtures::busybox_rootfs();
        let mut all = vec!["run", "--rootfs", rootfs.to_str().unwrap()];
        all.extend(args);
        self.ch05(&all)
    }

    /// Starts a busybox web server (serving /etc) in the background and waits
    /// until `url` answers; fails at once if the container ends first.
    fn start_web(&self, args: &[&str], url: &str) -> Child {
        let mut all = args.to_vec();
        all.extend([
            "sh",
            "-c",
            "trap 'exit 0' TERM; httpd -f -p 80 -h /etc & wait",
        ]);
        let mut child = self
            .run(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
                panic!("the web container ended ({status}) before it answered:\n{err}");
            }
            let answered = self
                .cmd("curl", &["-s", "-m", "1", "-o", "/dev/null", url])
                .status()
                .is_ok_and(|s| s.success());
            if answered {
                return child;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{url} never answered");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Asks a background container to stop (its shell traps SIGTERM) and waits.
    fn stop(&self, mut child: Child) {
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let status = child.wait().unwrap();
        assert!(status.success(), "background container: {status}");
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.ch05(&["cleanup"]).output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn transcripts(cmds: &mut [&mut Command]) -> String {
    cmds.iter_mut().map(|c| testkit::transcript(c)).collect()
}

#[test]
fn a_container_has_eth0_an_address_and_a_route() {
    testkit::require_root!();
    let world = World::new("lab05-eth0", 6);
    let mut run = world.run(&["sh", "-c", "ip addr; ip route"]);
    snapshot("eth0", &testkit::transcript(&mut run));
}

#[test]
fn the_host_and_other_containers_reach_it_through_the_bridge() {
    testkit::require_root!();
    let world = World::new("lab05-bridge", 7);
    let web = world.start_web(&["--hostname", "web"], "http://10.205.7.2/hostname");
    let transcript = transcripts(&mut [
        &mut world.cmd("ip", &["-o", "-4", "addr", "show", "dyl7"]),
        &mut world.cmd("ip", &["route"]),
        &mut world.cmd("curl", &["-s", "http://10.205.7.2/hostname"]),
        &mut world.run(&[
            "sh",
            "-c",
            "ip -4 -o addr show eth0; wget -qO- http://10.205.7.2/hostname; ping -c 1 -W 2 10.205.7.1 | grep -c 'bytes from'",
        ]),
    ]);
    world.stop(web);
    snapshot("through_the_bridge", &transcript);
}

#[test]
fn a_published_port_answers_on_127_0_0_1() {
    testkit::require_root!();
    let world = World::new("lab05-publish", 8);
    let web = world.start_web(
        &[
            "--hostname",
            "web",
            "-p",
            "127.0.0.1:8080:80/tcp",
            "-p",
            "8443:80",
        ],
        "http://127.0.0.1:8080/hostname",
    );
    let transcript = transcripts(&mut [
        &mut world.cmd("curl", &["-s", "http://127.0.0.1:8080/hostname"]),
        &mut world.cmd("iptables", &["-t", "nat", "-S", "DOCKYARD"]),
    ]);
    world.stop(web);
    snapshot("published_port", &transcript);
}
