//! `cargo xtask bench`'s network rows (chapter 05, with its binary `ch05-network`):
//! what a container's network costs to set up, and how fast bytes cross it.
//!
//! - set-up: a container on the default bridge (veth pair, address, route,
//!   NAT rules, and their teardown) against one with `--network none`, with
//!   `ch05-network run` (bench.rs has the engine's);
//! - throughput: 256 MiB pushed with busybox `nc` from one container to
//!   another (veth, bridge, veth), and from the host to a container's port
//!   published on 127.0.0.1 (DNAT, route_localnet, masquerade; a chapter 05
//!   container and an engine one), each against the same push over the
//!   host's loopback, measured in the same run.
//!
//! Each receiver is a persistent busybox `nc -ll` whose handler drains the
//! connection and then answers `ok`: busybox `nc` half-closes when its stdin
//! ends and exits when the other side closes, so a timed `nc` exits only once
//! every byte has arrived. The networks live in a state directory, bridge and
//! subnet of their own (`dybench0`, 10.213.7.0/24, and the engine's
//! [`ENGINE_BRIDGE`]); traffic goes only to
//! 127.0.0.1 and to the containers' addresses. Dropping [`NetBench`] stops the
//! containers and removes everything the state recorded.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::bench::{CGROUP_PARENT, ENGINE_BRIDGE, Row, stdout_of};
use crate::sh;

/// The benchmark network's bridge and subnet, away from dockyard's defaults.
const BRIDGE: &str = "dybench0";
const SUBNET: &str = "10.213.7.0/24";
/// The port the receivers listen on: in the container, and its published port.
const PORT: u16 = 5000;
const PUBLISHED: u16 = 40512;
/// The engine's receiver's published port.
const ENGINE_PUBLISHED: u16 = 40513;
/// The host's own receiver, for the loopback baseline.
const LOOPBACK: u16 = 40511;
/// Bytes per push.
const MIB: usize = 256;
/// A receiver: drain the connection, then say so.
const DRAIN: &str = "cat >/dev/null; echo ok";

/// The containers and the host listener the throughput rows talk to.
pub struct NetBench {
    ch05: String,
    /// The engine, and its state root.
    dockyard: (String, PathBuf),
    rootfs: String,
    state: PathBuf,
    data: PathBuf,
    runners: Vec<Child>,
    host_listener: Option<Child>,
    sender_pid: u32,
    receiver_ip: String,
}

impl NetBench {
    /// Starts the receiving and sending containers and the host's receiver,
    /// and waits until all of them listen.
    pub fn start(
        ch05: &str,
        rootfs: &str,
        dir: &Path,
        (dockyard, engine_root): (&str, &Path),
    ) -> anyhow::Result<NetBench> {
        for bridge in [BRIDGE, ENGINE_BRIDGE.0] {
            if Path::new("/sys/class/net").join(bridge).exists() {
                bail!(
                    "the bridge {bridge} exists: a benchmark that crashed left it \
                     (`ch05-network --state DIR cleanup` on its state, or `ip link del {bridge}`)"
                );
            }
        }
        for port in [LOOPBACK, PUBLISHED, ENGINE_PUBLISHED] {
            TcpListener::bind(("0.0.0.0", port))
                .with_context(|| format!("the network rows need port {port} free"))?;
        }
        let state = dir.join("network-state");
        let _ = fs::remove_dir_all(&state);
        let data = dir.join(format!("net-{MIB}m"));
        fs::write(&data, vec![0u8; MIB << 20])?;
        let mut bench = NetBench {
            ch05: ch05.into(),
            dockyard: (dockyard.into(), engine_root.into()),
            rootfs: rootfs.into(),
            state,
            data,
            runners: Vec::new(),
            host_listener: None,
            sender_pid: 0,
            receiver_ip: String::new(),
        };
        let publish = format!("127.0.0.1:{PUBLISHED}:{PORT}");
        let receiver = format!("trap 'exit 0' TERM; nc -ll -p {PORT} -e sh -c '{DRAIN}' & wait");
        bench.spawn(&["--name", "bench-rx", "-p", &publish, "sh", "-c", &receiver])?;
        let receiver_pid = init_of(bench.runners[0].id())?;
        let engine_publish = format!("127.0.0.1:{ENGINE_PUBLISHED}:{PORT}");
        let engine_receiver = bench.engine(&[
            "run",
            "-d",
            "--name",
            "bench-net-rx",
            "--cgroup-parent",
            CGROUP_PARENT,
            "-p",
            &engine_publish,
            "busybox",
            "sh",
            "-c",
            &receiver,
        ])?;
        let engine_pid = bench.engine(&["inspect", "-f", "{{.State.Pid}}", &engine_receiver])?;
        bench.spawn(&[
            "--name",
            "bench-tx",
            "sh",
            "-c",
            "trap 'exit 0' TERM; sleep 3600 & wait",
        ])?;
        bench.sender_pid = init_of(bench.runners[1].id())?;
        bench.host_listener = Some(
            Command::new("busybox")
                .args([
                    "nc",
                    "-ll",
                    "-p",
                    &LOOPBACK.to_string(),
                    "-e",
                    "sh",
                    "-c",
                    DRAIN,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .context("start busybox nc on the host")?,
        );
        wait_listening(&format!("/proc/{receiver_pid}/net"), PORT)?;
        wait_listening("/proc/net", LOOPBACK)?;
        wait_listening(&format!("/proc/{engine_pid}/net"), PORT)?;
        bench.receiver_ip = bench.address_of("bench-rx")?;
        Ok(bench)
    }

    /// `ch05-network` on the benchmark's state, bridge and subnet.
    fn ch05(&self) -> Command {
        let mut cmd = Command::new(&self.ch05);
        cmd.arg("--state")
            .arg(&self.state)
            .args(["--default-bridge", BRIDGE, "--default-subnet", SUBNET])
            .args(["--cgroup-parent", CGROUP_PARENT]);
        cmd
    }

    /// `dockyard ARGS` on the benchmark's engine root; its stdout.
    fn engine(&self, args: &[&str]) -> anyhow::Result<String> {
        let (dockyard, root) = &self.dockyard;
        let mut cmd = Command::new(dockyard);
        cmd.arg("--root").arg(root);
        stdout_of(cmd, args)
    }

    /// Starts `ch05-network run ARGS` in the background.
    fn spawn(&mut self, args: &[&str]) -> anyhow::Result<()> {
        let child = self
            .ch05()
            .args(["run", "--rootfs", &self.rootfs])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("start ch05-network run")?;
        self.runners.push(child);
        Ok(())
    }

    /// The address container `name` has on the default bridge.
    fn address_of(&self, name: &str) -> anyhow::Result<String> {
        let out = self
            .ch05()
            .args(["network", "inspect", "bridge"])
            .output()?;
        let all: serde_json::Value = serde_json::from_slice(&out.stdout)
            .with_context(|| String::from_utf8_lossy(&out.stderr).into_owned())?;
        let containers = all[0]["Containers"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        containers
            .values()
            .find(|c| c["Name"] == name)
            .and_then(|c| c["IPv4Address"].as_str())
            .and_then(|cidr| cidr.split('/').next())
            .map(str::to_string)
            .with_context(|| format!("no address for {name} in {all}"))
    }

    /// The rows: set-up time, then the two pushes against loopback.
    pub fn rows(&self, runs: usize) -> Vec<Row> {
        let words = |s: &[&str]| s.iter().map(|w| w.to_string()).collect::<Vec<_>>();
        let run = |network: &str| {
            let mut argv = vec![self.ch05.clone()];
            let cmd = self.ch05();
            argv.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
            argv.extend(words(&[
                "run",
                "--network",
                network,
                "--rootfs",
                &self.rootfs,
            ]));
            argv.push("/bin/true".into());
            argv
        };
        let data = self.data.display();
        let push = |to: String| words(&["sh", "-c", &format!("{to} < {data}")]);
        let loopback = push(format!("busybox nc 127.0.0.1 {LOOPBACK}"));
        vec![
            Row {
                name: "ch05-network run (bridge: veth, addr, route, NAT)",
                baseline_name: "ch05-network run --network none /bin/true",
                command: run("bridge"),
                baseline: run("none"),
                runs: runs / 4,
                reset: None,
            },
            Row {
                name: "ch05 container -> container, nc 256 MiB",
                baseline_name: "host loopback, nc 256 MiB",
                command: push(format!(
                    "nsenter -t {} -n busybox nc {} {PORT}",
                    self.sender_pid, self.receiver_ip
                )),
                baseline: loopback.clone(),
                runs: 10,
                reset: None,
            },
            Row {
                name: "host -> ch05 container's published port, 256 MiB",
                baseline_name: "host loopback, nc 256 MiB",
                command: push(format!("busybox nc 127.0.0.1 {PUBLISHED}")),
                baseline: loopback.clone(),
                runs: 10,
                reset: None,
            },
            Row {
                name: "host -> dockyard run -p 127.0.0.1:P:5000, 256 MiB",
                baseline_name: "host loopback, nc 256 MiB",
                command: push(format!("busybox nc 127.0.0.1 {ENGINE_PUBLISHED}")),
                baseline: loopback,
                runs: 10,
                reset: None,
            },
        ]
    }
}

impl Drop for NetBench {
    /// Stops the containers (their shells exit on SIGTERM, and each runner
    /// then tears its network down), the host's receiver, and removes what
    /// the state still records.
    fn drop(&mut self) {
        if let Some(mut listener) = self.host_listener.take() {
            let _ = listener.kill();
            let _ = listener.wait();
        }
        for runner in &mut self.runners {
            let pid = runner.id() as libc::pid_t;
            // SAFETY: kill(2) on a child we started and have not reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for runner in &mut self.runners {
            while runner.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = runner.kill();
            let _ = runner.wait();
        }
        if let Err(err) = self.engine(&["rm", "-f", "bench-net-rx"]) {
            eprintln!("bench: {err}");
        }
        // The engine keeps chapter 05's state in ROOT/network: the same
        // cleanup removes its default bridge and rules.
        let engine_state = self.dockyard.1.join("network");
        let mut engine_cleanup = Command::new(&self.ch05);
        engine_cleanup
            .arg("--state")
            .arg(&engine_state)
            .args(["--default-bridge", ENGINE_BRIDGE.0])
            .args(["--default-subnet", ENGINE_BRIDGE.1]);
        for mut cleanup in [self.ch05(), engine_cleanup] {
            match cleanup.arg("cleanup").status() {
                Ok(status) if status.success() => {}
                other => eprintln!("bench: {}: {other:?}", sh::show(&cleanup)),
            }
        }
        let _ = fs::remove_dir_all(&self.state);
        let _ = fs::remove_file(&self.data);
    }
}

/// The host PID of the container that runner `runner` started: its child
/// that is PID 1 of its own namespace (chapter 02 clones the container's init
/// from the runner), once it exists.
fn init_of(runner: u32) -> anyhow::Result<u32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        for entry in fs::read_dir("/proc")?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let status = fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name));
            // Its other children (iptables, for one) are not PID 1 of a namespace.
            let init = field("NSpid:").and_then(|ids| ids.split_whitespace().last()) == Some("1");
            if init && field("PPid:").is_some_and(|p| p.trim() == runner.to_string()) {
                return Ok(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("ch05-network run (pid {runner}) started no container")
}

/// Waits until `net` (a /proc/.../net directory, proc(5)) lists a TCP socket
/// listening (state 0A) on `port`, IPv4 or IPv6 (busybox `nc -l` listens on
/// `::`, which takes IPv4 connections too).
fn wait_listening(net: &str, port: u16) -> anyhow::Result<()> {
    let local = format!(":{port:04X}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let listening = ["tcp", "tcp6"].iter().any(|table| {
            let text = fs::read_to_string(format!("{net}/{table}")).unwrap_or_default();
            text.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[1].ends_with(&local) && fields[3] == "0A"
            })
        });
        if listening {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing listens on port {port} in {net}/tcp or tcp6")
}
