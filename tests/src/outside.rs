//! A fake host "outside" the machine, for network tests that must not send
//! a packet off it: its own network namespace on a veth pair, with an address
//! in 198.51.100.0/24 (TEST-NET-2, RFC 5737: documentation only, never
//! routed), and the host's end of the veth addressed too, so traffic from a
//! container is routed (and masqueraded) to it as to a real outside host.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;
use std::time::Duration;

/// The fake host; its namespace and veth are removed on drop.
#[derive(Debug)]
pub struct OutsideHost {
    /// Its network namespace's name (`/run/netns/NAME`, ip-netns(8)).
    pub netns: String,
    veth: String,
    address: Ipv4Addr,
}

impl OutsideHost {
    /// Fake host `n`: netns `dyfakeN-PID`, veth `dyoNh` on the host (with
    /// `host`, CIDR form) and `dyoNp` inside (with `fake`). Tests that run
    /// at the same time use different `n` and non-overlapping subnets.
    pub fn new(n: u8, host: &str, fake: &str) -> OutsideHost {
        let netns = format!("dyfake{n}-{}", std::process::id());
        let veth = format!("dyo{n}h");
        let address = fake
            .split('/')
            .next()
            .and_then(|a| a.parse().ok())
            .expect("fake is an IPv4 CIDR");
        let outside = OutsideHost {
            netns: netns.clone(),
            veth: veth.clone(),
            address,
        };
        let script = format!(
            "set -e; ip netns add {netns}; ip link add {veth} type veth peer name dyo{n}p netns {netns}; \
             ip addr add {host} dev {veth}; ip link set {veth} up; \
             ip -n {netns} addr add {fake} dev dyo{n}p; ip -n {netns} link set dyo{n}p up; ip -n {netns} link set lo up"
        );
        let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
        assert!(status.success(), "make the fake outside host: {script}");
        outside
    }

    /// Accepts one TCP connection on its address, PORT, inside its namespace
    /// (setns(2) in a thread of its own), says hello, and returns the peer's
    /// address: what the outside sees a container as.
    pub fn accept_one(&self, port: u16) -> std::thread::JoinHandle<SocketAddr> {
        let path = format!("/run/netns/{}", self.netns);
        let address = self.address;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let netns = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let listener = TcpListener::bind((address, port)).unwrap();
            ready_tx.send(()).unwrap();
            let (mut stream, peer) = listener.accept().unwrap();
            let _ = stream.write_all(b"hello from outside\n");
            peer
        });
        ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        handle
    }
}

impl Drop for OutsideHost {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}
