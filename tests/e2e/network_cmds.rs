//! `dockyard network ...` as docker's: create, ls, inspect, rm, prune,
//! connect and disconnect, with docker's output, errors and exit codes.
//!
//! Each test has its own engine root, default bridge (`dyncN`) and subnets
//! (10.232.N.0/24 and up), so tests run in parallel with any other; whatever
//! a test made (bridges, rules, veths) goes when its [`NetSandbox`] drops,
//! also when it failed.

use std::process::Command;

use ch05_network::{BridgeDefaults, Networks};

use crate::Sandbox;

/// A sandbox whose default bridge and subnet are the test's own.
struct NetSandbox {
    sandbox: Sandbox,
    bridge: String,
    subnet: String,
}

impl NetSandbox {
    /// Test number `n`'s sandbox: bridge `dyncN`, subnet 10.232.N.0/24.
    fn new(name: &str, n: u8, busybox: bool) -> NetSandbox {
        let sandbox = match busybox {
            true => Sandbox::with_busybox(name),
            false => Sandbox::new(name),
        };
        NetSandbox {
            sandbox,
            bridge: format!("dync{n}"),
            subnet: format!("10.232.{n}.0/24"),
        }
    }

    /// `dockyard ARGS...` with the test's default bridge and subnet.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.sandbox.cmd(args);
        cmd.env("DOCKYARD_DEFAULT_BRIDGE", &self.bridge)
            .env("DOCKYARD_DEFAULT_SUBNET", &self.subnet);
        cmd
    }

    /// Runs `dockyard ARGS...`, asserts it succeeded, and returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args).output().unwrap();
        assert!(
            out.status.success(),
            "dockyard {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The transcripts of each `dockyard ARGS...` (and host commands, given
    /// as `["!ip", ...]`), joined.
    fn transcripts(&self, runs: &[&[&str]]) -> String {
        runs.iter()
            .map(|args| match args[0].strip_prefix('!') {
                Some(program) => testkit::transcript(Command::new(program).args(&args[1..])),
                None => crate::retable(&testkit::transcript(&mut self.cmd(args))),
            })
            .collect()
    }

    /// Snapshots `text` with the sandbox's redactions, and the interface
    /// indexes `ip -o` prints.
    fn snapshot(&self, name: &str, text: String) {
        let mut settings = self.sandbox.redactions();
        settings.add_filter(r"(?m)^\d+: ", "[IFINDEX]: ");
        settings.add_filter(r"@if\d+", "@if[IFINDEX]");
        settings.add_filter(r"\bveth[0-9a-f]{7}\b", "vethXXXXXXX");
        settings.add_filter(r"time=[\d.]+ ms", "time=[T] ms");
        settings.add_filter(r"min/avg/max = [\d./]+ ms", "min/avg/max = [T] ms");
        crate::snapshot_text(name, text, settings);
    }
}

impl Drop for NetSandbox {
    /// Removes every network, bridge, rule and veth this root made (the
    /// sandbox then removes its containers, root and cgroups).
    fn drop(&mut self) {
        let defaults = BridgeDefaults {
            device: self.bridge.clone(),
            subnet: self.subnet.parse().unwrap(),
        };
        let cleanup = Networks::open(&self.sandbox.root().join("network"), defaults)
            .and_then(|networks| networks.cleanup());
        if !std::thread::panicking() {
            cleanup.expect("remove the test's networks");
        }
    }
}

#[test]
fn create_ls_inspect_rm() {
    testkit::require_root!();
    let net = NetSandbox::new("e2e-net-create", 1, false);
    let text = net.transcripts(&[
        &["network", "ls"],
        &[
            "network",
            "create",
            "--subnet",
            "10.232.11.0/24",
            "--gateway",
            "10.232.11.254",
            "--ip-range",
            "10.232.11.128/25",
            "--label",
            "team=web",
            "-o",
            "com.docker.network.bridge.name=dync11",
            "front",
        ],
        &["network", "create", "--subnet", "10.232.12.0/24", "back"],
        &["network", "ls"],
        &["network", "ls", "-q", "--filter", "name=ront"],
        &[
            "network",
            "ls",
            "--filter",
            "driver=bridge",
            "--filter",
            "label=team",
            "--format",
            "{{.Name}}: {{.Driver}} {{.Scope}} {{.Labels}}",
        ],
        &["network", "inspect", "front"],
        &[
            "network",
            "inspect",
            "-f",
            "{{.Name}} {{range .IPAM.Config}}{{.Subnet}} via {{.Gateway}}{{end}}",
            "back",
            "bridge",
            "host",
        ],
        &["!ip", "-4", "-o", "addr", "show", "dev", "dync11"],
        &["network", "rm", "front", "back"],
        &["network", "ls", "--format", "{{.Name}}"],
        &["!ip", "link", "show", "dync11"],
    ]);
    net.snapshot("network_create_ls_inspect_rm", text);
}

#[test]
fn bad_input_in_dockers_words() {
    testkit::require_root!();
    let net = NetSandbox::new("e2e-net-bad", 2, false);
    net.ok(&["network", "create", "--subnet", "10.232.21.0/24", "taken"]);
    let text = net.transcripts(&[
        &["network", "create", "--subnet", "10.232.21.7/24", "x"],
        &["network", "create", "--subnet", "banana", "x"],
        &["network", "create", "--gateway", "10.232.22.1", "x"],
        &[
            "network",
            "create",
            "--subnet",
            "10.232.22.0/24",
            "--gateway",
            "10.232.23.1",
            "x",
        ],
        &["network", "create", "--subnet", "10.232.21.128/25", "x"],
        &["network", "create", "--subnet", "10.232.24.0/24", "taken"],
        &["network", "create", "-d", "overlay", "x"],
        &["network", "create", "bridge"],
        &["network", "inspect", "nope"],
        &["network", "rm", "nope", "taken"],
        &["network", "rm", "-f", "nope"],
        &["network", "rm", "bridge"],
        &["network", "ls", "--filter", "colour=blue"],
        &["network", "ls", "--format", "{{.Name}}"],
    ]);
    net.snapshot("network_bad_input", text);
}

#[test]
fn prune_removes_unused_networks() {
    testkit::require_root!();
    let net = NetSandbox::new("e2e-net-prune", 3, false);
    net.ok(&["network", "create", "--subnet", "10.232.31.0/24", "one"]);
    net.ok(&["network", "create", "--subnet", "10.232.32.0/24", "two"]);
    let text = net.transcripts(&[
        // No answer (stdin is empty): nothing is removed.
        &["network", "prune"],
        &["network", "ls", "--format", "{{.Name}}"],
        &["network", "prune", "-f"],
        &["network", "ls", "--format", "{{.Name}}"],
        &["network", "prune", "-f"],
    ]);
    net.snapshot("network_prune", text);
}

#[test]
fn connect_and_disconnect_a_stopped_container() {
    testkit::require_root!();
    let net = NetSandbox::new("e2e-net-connect-created", 4, true);
    net.ok(&["network", "create", "--subnet", "10.232.41.0/24", "back"]);
    net.ok(&["create", "--name", "app", "busybox", "true"]);
    net.ok(&[
        "create",
        "--name",
        "alone",
        "--network",
        "none",
        "busybox",
        "true",
    ]);
    net.ok(&[
        "create",
        "--name",
        "on-host",
        "--network",
        "host",
        "busybox",
        "true",
    ]);
    net.ok(&[
        "create",
        "--name",
        "beside",
        "--network",
        "container:app",
        "busybox",
        "true",
    ]);
    let text = net.transcripts(&[
        &["network", "connect", "--alias", "api", "back", "app"],
        &["network", "connect", "back", "alone"],
        &["network", "connect", "back", "on-host"],
        &["network", "connect", "back", "beside"],
        &["network", "connect", "back", "app"],
        &["network", "connect", "nope", "app"],
        &["network", "connect", "back", "ghost"],
        &["network", "connect", "host", "app"],
        &["network", "connect", "--ip", "10.232.4.9", "bridge", "app"],
        &["network", "disconnect", "back", "app"],
        &["network", "disconnect", "back", "app"],
        &["network", "disconnect", "-f", "back", "ghost"],
    ]);
    net.snapshot("network_connect_stopped", text);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    testkit::require_root!();
    let net = NetSandbox::new("e2e-net-connect-running", 5, true);
    net.ok(&["network", "create", "--subnet", "10.232.51.0/24", "front"]);
    net.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "600"]);
    net.ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "front",
        "busybox",
        "sleep",
        "600",
    ]);
    let addresses: &[&str] = &[
        "exec", "web", "ip", "-4", "-o", "addr", "show", "scope", "global",
    ];
    let text = net.transcripts(&[
        addresses,
        &["network", "connect", "--alias", "www", "front", "web"],
        addresses,
        &["exec", "peer", "ping", "-c", "1", "-W", "2", "www"],
        &["network", "rm", "front"],
        &["network", "disconnect", "front", "web"],
        addresses,
        &["exec", "peer", "ping", "-c", "1", "-W", "1", "www"],
        // Connected again, it stays on the network across a restart, as in docker.
        &["network", "connect", "front", "web"],
        &["restart", "-t", "0", "web"],
        addresses,
    ]);
    net.snapshot("network_connect_running", text);
}
