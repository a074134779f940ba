//! The book's walkthrough of chapter 05: what `ch05-network` does, seen from
//! inside a container and from the host, as transcripts the book shows.
//!
//! Each test builds a world of its own: a network namespace made by the test
//! (`dybookN-PID`, with only `lo` up), in which `ch05-network` and the "host"
//! commands (`ip`, `iptables`, `curl`) run. Inside it the defaults are the real
//! ones, bridge `dy0` and 172.17.0.0/16 as docker's `docker0`, and the listings
//! hold nothing but dockyard's own links, routes and rules. No packet leaves the
//! namespace, and deleting it on drop removes whatever a failed test left there.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use insta::assert_snapshot;
use testkit::CgroupParent;

/// A test's own network namespace, state directory and cgroup parent.
struct World {
    netns: String,
    state: tempfile::TempDir,
    parent: CgroupParent,
}

impl World {
    fn new(test: &str, n: u8) -> World {
        let netns = format!("dybook{n}-{}", std::process::id());
        let script = format!(
            "set -e; ip netns add {netns}; ip -n {netns} link set lo up; \
             ip netns exec {netns} sh -c 'echo 0 > /proc/sys/net/ipv4/ip_forward'"
        );
        let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
        assert!(status.success(), "make the test's namespace: {script}");
        World {
            netns,
            state: tempfile::Builder::new()
                .prefix("ch05-book")
                .tempdir()
                .unwrap(),
            parent: CgroupParent::new(test),
        }
    }

    /// `program ARGS...`, run inside the world's network namespace (setns(2)
    /// between fork and exec), so the transcript reads as on a host.
    fn cmd(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).env("TZ", "UTC");
        let path = format!("/run/netns/{}", self.netns);
        // SAFETY: between fork and exec only system calls run (setns(2) and,
        // for `ip`, unshare(2) and mount(2)); the file is opened before the fork.
        let netns = std::fs::File::open(path).unwrap();
        // `ip` names a veth's peer namespace by walking /run/netns, where
        // tests running at the same time add and delete theirs: one deleted
        // mid-walk makes it print "Peer netns reference is invalid". So `ip`
        // runs in a mount namespace of its own (private, mount_namespaces(7))
        // with an empty tmpfs on /run/netns, and lists the peer by its id.
        let own_netns_dir = program == "ip";
        unsafe {
            cmd.pre_exec(move || {
                use nix::mount::{MsFlags, mount};
                nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)?;
                if own_netns_dir {
                    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
                    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
                    mount(None::<&str>, "/", None::<&str>, private, None::<&str>)?;
                    let tmpfs = Some("tmpfs");
                    mount(tmpfs, "/run/netns", tmpfs, MsFlags::empty(), None::<&str>)?;
                }
                Ok(())
            });
        }
        cmd
    }

    /// `ch05-network ARGS...` on the world's state, with the default bridge and subnet.
    fn ch05(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd(env!("CARGO_BIN_EXE_ch05-network"), args);
        cmd.env("DOCKYARD_NETWORK_STATE", self.state.path())
            .env("DOCKYARD_CGROUP_PARENT", self.parent.name())
            .env_remove("DOCKYARD_DEFAULT_BRIDGE")
            .env_remove("DOCKYARD_DEFAULT_SUBNET");
        cmd
    }

    /// `ch05-network [--explain] run --rootfs BUSYBOX ARGS...`.
    fn run(&self, explain: bool, args: &[&str]) -> Command {
        let rootfs = testkit::fixtures::busybox_rootfs();
        let mut all = if explain { vec!["--explain"] } else { vec![] };
        all.extend(["run", "--rootfs", rootfs.to_str().unwrap()]);
        all.extend(args);
        self.ch05(&all)
    }

    /// Starts a container in the background.
    fn start(&self, args: &[&str]) -> Child {
        self.run(false, args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Waits until a veth is up on `dy0` and `url` answers from the host.
    fn wait_for(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let ok = self
                .cmd("curl", &["-s", "-m", "1", "-o", "/dev/null", url])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{url} never answered");
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
        let cleanup = self.ch05(&["cleanup"]).output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
        if !std::thread::panicking() {
            assert!(
                cleanup.as_ref().is_ok_and(|o| o.status.success()),
                "cleanup failed: {cleanup:?}"
            );
        }
    }
}

/// A web server on port 80 that stops cleanly on SIGTERM; it serves /etc.
const HTTPD: &str = "trap 'exit 0' TERM; httpd -f -p 80 -h /etc & wait";

/// Snapshot-tests `text` with what varies redacted: container ids (which name
/// veths and host names), PIDs, and, where `macs` is true, the random MAC
/// addresses of host-side devices (a container's are derived from its address).
fn snapshot(name: &str, text: &str, macs: bool) {
    let mut settings = testkit::redactions();
    // Same width as the names they replace, so --explain's columns stay aligned.
    settings.add_filter(r"\bveth[0-9a-f]{7}\b", "vethXXXXXXX");
    settings.add_filter(r"/tmp/ch05-book\w+", "[STATE]");
    settings.add_filter(r"/tmp/dockyard-ch02-\w+", "/tmp/dockyard-ch02-[RANDOM]");
    // IPv6 duplicate address detection may or may not have finished.
    settings.add_filter(r"scope link tentative", "scope link");
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[ID]");
    settings.add_filter(r"netns \d+\b", "netns [PID]");
    settings.add_filter(r"/proc/\d+/", "/proc/[PID]/");
    settings.add_filter(r"dockyard-test-[\w-]+-\d+", "[CGROUP-PARENT]");
    if macs {
        settings.add_filter(r"link/ether [0-9a-f:]{17}", "link/ether [MAC]");
        settings.add_filter(r"fe80::[0-9a-f:]+/64", "fe80::[FROM-MAC]/64");
    }
    let _guard = settings.bind_to_scope();
    assert_snapshot!(name, text);
}

/// Keeps the `--explain` lines of this chapter's steps (and the container's
/// start and end, for orientation); each run of other lines (chapter 02's
/// namespaces and mounts, chapter 03's cgroups, which differ between cgroup v1
/// and v2 machines) becomes one line saying so.
fn network_steps(transcript: &str) -> String {
    const OURS: [&str; 16] = [
        "IPAM",
        "bridge",
        "veth",
        "eth0",
        "dy0",
        "firewall",
        "publish",
        "net.ipv4",
        "route",
        "loopback",
        "clone(2)",
        "execve(2)",
        "waitpid(2)",
        "/etc/hosts",
        "delete the link",
        "$ ch05",
    ];
    let mut out = String::new();
    let mut skipping = false;
    for line in transcript.lines() {
        // Whether the veth is still there at teardown is a race with the kernel,
        // which deletes it when the container's namespace goes: not shown.
        if line.contains("delete the link veth") {
            continue;
        }
        let ours = !line.starts_with("[explain]") || OURS.iter().any(|w| line.contains(w));
        if ours {
            out.push_str(line);
            out.push('\n');
            skipping = false;
        } else if !skipping {
            out.push_str("[explain] ... (steps of chapters 02 and 03: cgroups, namespaces, mounts, capabilities)\n");
            skipping = true;
        }
    }
    out
}

fn transcripts(cmds: &mut [&mut Command]) -> String {
    cmds.iter_mut().map(|c| testkit::transcript(c)).collect()
}

#[test]
fn inside_a_container() {
    testkit::require_root!();
    let world = World::new("ch05-book-inside", 1);
    // First, on a fresh world: the bridge, its rules and the sysctls are made here.
    let explained =
        testkit::transcript(&mut world.run(true, &["-p", "127.0.0.1:8080:80", "ip", "route"]));
    snapshot("explain_run", &network_steps(&explained), false);
    snapshot(
        "inside",
        &testkit::transcript(&mut world.run(false, &["sh", "-c", "ip addr; ip route"])),
        false,
    );
    // Again: the bridge, its address and its rules exist now, and --explain says so.
    let again = testkit::transcript(&mut world.run(true, &["ip", "route"]));
    snapshot("explain_run_again", &network_steps(&again), false);
    // The bridge stays after its containers: `--network host` sees it, and no veth.
    snapshot(
        "host_mode",
        &testkit::transcript(
            &mut world.run(false, &["--network", "host", "ip", "-4", "-o", "addr"]),
        ),
        false,
    );
}

#[test]
fn outside_a_container() {
    testkit::require_root!();
    let world = World::new("ch05-book-outside", 2);
    let web = world.start(&[
        "--name",
        "web",
        "--hostname",
        "web",
        "-p",
        "127.0.0.1:8080:80",
        "sh",
        "-c",
        HTTPD,
    ]);
    world.wait_for("http://127.0.0.1:8080/hostname");
    snapshot(
        "outside_links",
        &transcripts(&mut [
            &mut world.cmd("ip", &["addr", "show", "dy0"]),
            &mut world.cmd("ip", &["link", "show", "master", "dy0"]),
            &mut world.cmd("ip", &["route"]),
        ]),
        true,
    );
    snapshot(
        "nat_rules",
        &transcripts(&mut [
            &mut world.cmd("iptables", &["-t", "nat", "-S"]),
            &mut world.cmd("iptables", &["-S"]),
            &mut world.cmd(
                "sysctl",
                &["net.ipv4.ip_forward", "net.ipv4.conf.dy0.route_localnet"],
            ),
        ]),
        false,
    );
    snapshot(
        "published_port",
        &transcripts(&mut [
            &mut world.cmd("curl", &["-s", "http://127.0.0.1:8080/hostname"]),
            &mut world.run(
                false,
                &[
                    "sh",
                    "-c",
                    "ip -4 -o addr show eth0; wget -qO- http://172.17.0.2/hostname",
                ],
            ),
        ]),
        false,
    );
    world.stop(web);
    let left = world
        .cmd("iptables", &["-t", "nat", "-S", "DOCKYARD"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&left.stdout),
        "-N DOCKYARD\n",
        "the DNAT rule goes with the container"
    );
}

#[test]
fn after_a_crash() {
    testkit::require_root!();
    let world = World::new("ch05-book-crash", 3);
    let mut runner = world.start(&[
        "--name",
        "web",
        "-p",
        "127.0.0.1:8080:80",
        "sh",
        "-c",
        HTTPD,
    ]);
    world.wait_for("http://127.0.0.1:8080/");
    // The runner dies without its teardown; the container dies with it (pdeathsig).
    runner.kill().unwrap();
    runner.wait().unwrap();
    // Wait for the container's namespace to go: the kernel then deletes its veth pair.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let links = world
            .cmd("ip", &["-o", "link", "show", "master", "dy0"])
            .output()
            .unwrap();
        if links.stdout.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "the veth stayed after the crash");
        std::thread::sleep(Duration::from_millis(50));
    }
    let networks = ch05_network::Networks::open(world.state.path(), Default::default()).unwrap();
    let id = networks.state().unwrap().containers.into_keys().next();
    let id = id.expect("the record survives the crash");
    snapshot(
        "after_crash",
        &transcripts(&mut [
            &mut world.cmd("iptables", &["-t", "nat", "-S", "DOCKYARD"]),
            &mut world.ch05(&["--explain", "cleanup"]),
            &mut world.cmd("iptables", &["-t", "nat", "-S"]),
            &mut world.cmd("ip", &["-o", "link"]),
        ]),
        true,
    );
    // The crashed runner also left chapter 03's cgroup: recovery removes it too,
    // once the container (killed with its runner) has gone from it.
    let cgroup = ch03_cgroups::Hierarchy::system()
        .unwrap()
        .open(world.parent.name(), &id)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while cgroup.remove().is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}
