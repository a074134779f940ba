//! Namespaces: each one gives the container its own copy of one kind of global
//! resource (namespaces(7)): hostname (UTS), process ids (PID), the mount table
//! (mount), System V IPC and message queues (IPC), network devices and ports
//! (network), the cgroup root (cgroup) and, with `--userns`, user and group ids.

use ch01_chroot::explain;
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Pid, Uid};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::Error;
use crate::channel::Failure;

/// The new namespaces the spec asks for (the ones with a `path` are joined
/// instead: [`Joined`]).
pub(crate) fn wanted(spec: &Spec) -> Vec<LinuxNamespaceType> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|nss| {
            nss.iter()
                .filter(|ns| ns.path().is_none())
                .map(|ns| ns.typ())
                .collect()
        })
        .unwrap_or_default()
}

// ANCHOR: joined
/// The existing namespaces the spec asks the container to join: those with a
/// `path` (the OCI runtime spec, config-linux.md "Namespaces"), such as an
/// engine's network namespace made before the start, as docker's is. The
/// runner opens each path, so that a wrong one is its error and names the
/// path; the helper enters them with setns(2) before it clones the init, which
/// is born in them, as runc's helper joins before it clones, and then goes
/// back to the runner's own: an adopting helper lives on as the supervisor,
/// whose work (a network's teardown) is the host's. Network, IPC and UTS
/// namespaces only: joining a mount, PID, user or cgroup namespace would
/// change what the rest of the start sees, and is refused.
pub(crate) struct Joined {
    /// Each namespace to join: its kind, its path, the open file.
    theirs: Vec<(CloneFlags, String, std::fs::File)>,
    /// The runner's own namespaces of the same kinds, to go back to.
    ours: Vec<(CloneFlags, String, std::fs::File)>,
}

impl Joined {
    /// Opens the namespaces `spec` names by path, and ours of those kinds.
    pub(crate) fn open(spec: &Spec) -> Result<Joined, Error> {
        let mut joined = Joined {
            theirs: Vec::new(),
            ours: Vec::new(),
        };
        let namespaces = spec
            .linux()
            .iter()
            .flat_map(|l| l.namespaces().iter().flatten());
        for ns in namespaces {
            let Some(path) = ns.path() else { continue };
            let path = path.display().to_string();
            let (flag, kind, file, option) = match ns.typ() {
                LinuxNamespaceType::Network => {
                    (CloneFlags::CLONE_NEWNET, "network", "net", "--net")
                }
                LinuxNamespaceType::Ipc => (CloneFlags::CLONE_NEWIPC, "IPC", "ipc", "--ipc"),
                LinuxNamespaceType::Uts => (CloneFlags::CLONE_NEWUTS, "UTS", "uts", "--uts"),
                typ => {
                    return Err(Error::Spec(format!(
                        "joining an existing {typ} namespace ({path}) is not supported"
                    )));
                }
            };
            let open = |path: &str| {
                std::fs::File::open(path)
                    .map_err(Error::io(format!("open the {kind} namespace {path}")))
            };
            explain!("the child will be born in the existing {kind} namespace {path}";
                "nsenter {option}={path}");
            joined.theirs.push((flag, path.clone(), open(&path)?));
            // The calling thread's, which the forked helper inherits (a
            // thread may have joined another namespace than its process's).
            let own = format!("/proc/thread-self/ns/{file}");
            joined.ours.push((flag, own.clone(), open(&own)?));
        }
        Ok(joined)
    }

    /// Enters every namespace with setns(2): in the helper, before its clone.
    /// setns(2) checks that the file is a namespace of the kind named.
    pub(crate) fn enter(&self) -> Result<(), Failure> {
        Self::set(&self.theirs, "setns(2)")
    }

    /// Goes back to the runner's namespaces: in the helper, after its clone.
    pub(crate) fn leave(&self) -> Result<(), Failure> {
        Self::set(&self.ours, "setns(2) back to")
    }

    fn set(namespaces: &[(CloneFlags, String, std::fs::File)], step: &str) -> Result<(), Failure> {
        for (flag, path, file) in namespaces {
            nix::sched::setns(file, *flag).map_err(Failure::at(step, path))?;
        }
        Ok(())
    }
}
// ANCHOR_END: joined

// ANCHOR: clone_flags
/// The clone(2) flags for every namespace made at birth. The cgroup namespace is
/// left out: the child unshares it later, after the runner's `setup` has moved it
/// into its cgroup, so that cgroup becomes the root it sees (cgroup_namespaces(7)).
pub(crate) fn clone_flags(spec: &Spec) -> CloneFlags {
    wanted(spec)
        .into_iter()
        .filter_map(|typ| match typ {
            LinuxNamespaceType::Mount => Some(CloneFlags::CLONE_NEWNS),
            LinuxNamespaceType::Uts => Some(CloneFlags::CLONE_NEWUTS),
            LinuxNamespaceType::Ipc => Some(CloneFlags::CLONE_NEWIPC),
            LinuxNamespaceType::User => Some(CloneFlags::CLONE_NEWUSER),
            LinuxNamespaceType::Pid => Some(CloneFlags::CLONE_NEWPID),
            LinuxNamespaceType::Network => Some(CloneFlags::CLONE_NEWNET),
            _ => None,
        })
        .fold(CloneFlags::empty(), |all, flag| all | flag)
}
// ANCHOR_END: clone_flags

/// The shell words for `unshare(1)` making the same namespaces, for `--explain`.
pub(crate) fn unshare_words(flags: CloneFlags) -> String {
    let mut words = vec!["unshare"];
    for (flag, word) in [
        (CloneFlags::CLONE_NEWUSER, "--user"),
        (CloneFlags::CLONE_NEWPID, "--pid --fork"),
        (CloneFlags::CLONE_NEWNS, "--mount"),
        (CloneFlags::CLONE_NEWUTS, "--uts"),
        (CloneFlags::CLONE_NEWIPC, "--ipc"),
        (CloneFlags::CLONE_NEWNET, "--net"),
    ] {
        if flags.contains(flag) {
            words.push(word);
        }
    }
    words.join(" ")
}

// ANCHOR: write_id_maps
/// Writes the user namespace's id maps, from the runner (the parent user
/// namespace), as newuidmap(1) would. user_namespaces(7): a map can be written
/// once, by a process with CAP_SETUID/CAP_SETGID in the parent namespace.
pub(crate) fn write_id_maps(child: Pid, spec: &Spec) -> Result<(), Error> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    for (file, maps) in [
        ("uid_map", linux.uid_mappings()),
        ("gid_map", linux.gid_mappings()),
    ] {
        let text: String = maps
            .iter()
            .flatten()
            .map(|m: &LinuxIdMapping| {
                format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())
            })
            .collect();
        if text.is_empty() {
            continue;
        }
        let path = format!("/proc/{child}/{file}");
        explain!("map ids in the user namespace: {}", text.trim_end();
            "echo '{}' > {path}", text.trim_end());
        std::fs::write(&path, &text).map_err(Error::io(format!("write {path}")))?;
    }
    Ok(())
}
// ANCHOR_END: write_id_maps

// ANCHOR: become_root_in_userns
/// In a fresh user namespace the child's ids are unmapped until the runner
/// writes the maps; then it takes on root (0) inside, which is the unprivileged
/// host id the map names outside.
pub(crate) fn become_root_in_userns() -> Result<(), Failure> {
    explain!("become root inside the user namespace"; "setpriv --reuid=0 --regid=0 --clear-groups");
    nix::unistd::setgroups(&[]).map_err(Failure::step("setgroups(2)"))?;
    let (gid, uid) = (Gid::from_raw(0), Uid::from_raw(0));
    nix::unistd::setresgid(gid, gid, gid).map_err(Failure::step("setresgid(2) to 0"))?;
    nix::unistd::setresuid(uid, uid, uid).map_err(Failure::step("setresuid(2) to 0"))
}
// ANCHOR_END: become_root_in_userns

// ANCHOR: unshare_cgroup
/// Enters a new cgroup namespace: from here on /proc/self/cgroup shows the
/// current cgroup as `/`.
pub(crate) fn unshare_cgroup() -> Result<(), Failure> {
    explain!("unshare(2) a new cgroup namespace: the current cgroup becomes its root"; "unshare --cgroup");
    nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
        .map_err(Failure::step("unshare(CLONE_NEWCGROUP)"))
}
// ANCHOR_END: unshare_cgroup

// ANCHOR: set_hostname
/// Sets the hostname in the container's own UTS namespace.
pub(crate) fn set_hostname(name: &str) -> Result<(), Failure> {
    explain!("sethostname(2) in the new UTS namespace"; "hostname {name}");
    nix::unistd::sethostname(name).map_err(Failure::at("sethostname(2)", name))
}
// ANCHOR_END: set_hostname

/// A new network namespace has one device, `lo`, and it is down: bring it up
/// with the SIOCSIFFLAGS ioctl, as `ip link set lo up` does (netdevice(7)).
/// The init does it in the namespace it was born in; an engine that makes a
/// container's namespace ahead (chapter 09) does it there, in the thread
/// that made it.
pub fn loopback_up() -> nix::Result<()> {
    explain!("bring up the loopback device of the new network namespace"; "ip link set lo up");
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: fd is a socket we just opened and nothing else owns.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&sock);
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write the ifreq we pass, which outlives the calls.
    unsafe {
        if libc::ioctl(raw, libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(nix::errno::Errno::last());
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(raw, libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(nix::errno::Errno::last());
        }
    }
    Ok(())
}

/// Makes every mount in this mount namespace private, so that nothing mounted
/// here propagates back to the host. mount_namespaces(7): a new mount namespace
/// starts as a copy whose mounts may still share mount events with the host's
/// (systemd makes `/` shared), so this comes first, before any mount.
pub fn make_mounts_private() -> nix::Result<()> {
    explain!("make every mount private, so nothing propagates back to the host"; "mount --make-rprivate /");
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
}

/// Moves this process into a mount namespace of its own with private mounts:
/// what it mounts from now on is seen by it and its children only, and the
/// kernel unmounts it when the last of them exits, even after `kill -9`.
/// Chapter 04's runner and the engine mount container roots this way.
pub fn private_mount_namespace() -> nix::Result<()> {
    explain!("unshare(2) a mount namespace: what we mount vanishes when we exit"; "unshare --mount");
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)?;
    make_mounts_private()
}
