//! The contract: an OCI runtime spec (the `config.json` runc reads).
//!
//! The runtime in this chapter never looks at command-line flags. It takes a
//! [`Spec`] and a rootfs and makes the container from it, as runc does. This
//! module turns `run` flags into that spec the way `docker run` does, loads one
//! from a bundle directory, and prints one, so the same container can be handed
//! to `runc run` and compared.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBuilder, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount,
    MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use crate::Error;
use crate::hardening::{caps, paths, seccomp};

/// With `--userns`, root inside the container is this unprivileged id outside it.
pub const USERNS_HOST_ID: u32 = 100_000;
/// How many ids the user namespace maps (0..65535 inside).
pub const USERNS_SIZE: u32 = 65_536;

/// What `run`'s flags ask for, before it becomes a [`Spec`].
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `-e K=V` (or `-e K`, taken from the caller's environment).
    pub env: Vec<String>,
    /// `--hostname`; a random 12-hex-digit name like docker's short ids when unset.
    pub hostname: Option<String>,
    /// `-w`: the working directory inside the container.
    pub workdir: Option<String>,
    /// `-u NAME|UID[:GROUP|GID]`, looked up in the rootfs's /etc/passwd and /etc/group.
    pub user: Option<String>,
    /// `-t`: give the command a pseudo-terminal.
    pub tty: bool,
    /// `--userns`: root inside is [`USERNS_HOST_ID`] outside.
    pub userns: bool,
}

/// Builds the spec `docker run` would hand to runc for these flags: docker's
/// namespaces, mounts, default capabilities, masked and read-only paths and
/// seccomp profile. `rootfs` is read (never written) to resolve `-u`.
pub fn build(flags: &RunFlags, rootfs: &Path) -> Result<Spec, Error> {
    if flags.args.is_empty() {
        return Err(Error::NoCommand);
    }
    let hostname = flags.hostname.clone().unwrap_or_else(random_hostname);
    let user = resolve_user(flags.user.as_deref(), rootfs)?;
    let env = environment(flags, &hostname, &user.home);
    let oci = |e: oci_spec::OciSpecError| Error::Spec(e.to_string());

    let mut user_builder = UserBuilder::default().uid(user.uid).gid(user.gid);
    if !user.groups.is_empty() {
        user_builder = user_builder.additional_gids(user.groups.clone());
    }
    let process = ProcessBuilder::default()
        .terminal(flags.tty)
        .args(flags.args.clone())
        .env(env)
        .cwd(flags.workdir.clone().unwrap_or_else(|| "/".into()))
        .user(user_builder.build().map_err(oci)?)
        .capabilities(caps::docker_default())
        .no_new_privileges(true)
        // docker sets no limits of its own: the command inherits the runner's.
        .rlimits(Vec::new())
        .build()
        .map_err(oci)?;

    let mut namespaces = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if flags.userns {
        namespaces.push(LinuxNamespaceType::User);
    }
    let namespaces = namespaces
        .into_iter()
        .map(|typ| LinuxNamespaceBuilder::default().typ(typ).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(oci)?;
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .masked_paths(
            paths::MASKED
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )
        .readonly_paths(
            paths::READONLY
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>(),
        )
        .seccomp(seccomp::docker_default());
    if flags.userns {
        let map = LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(USERNS_HOST_ID)
            .size(USERNS_SIZE)
            .build()
            .map_err(oci)?;
        linux = linux.uid_mappings(vec![map]).gid_mappings(vec![map]);
    }

    SpecBuilder::default()
        .version("1.0.2")
        .root(
            RootBuilder::default()
                .path(rootfs)
                .readonly(false)
                .build()
                .map_err(oci)?,
        )
        .process(process)
        .hostname(hostname)
        .mounts(default_mounts())
        .linux(linux.build().map_err(oci)?)
        .build()
        .map_err(oci)
}

/// Docker's default mounts: a fresh /proc, a small /dev with its own devpts
/// instance, /dev/shm and /dev/mqueue, and /sys read-only.
fn default_mounts() -> Vec<Mount> {
    let mount = |dest: &str, typ: &str, source: &str, options: &[&str]| {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(source)
            .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
            .build()
            .expect("a mount with destination, type and source is valid")
    };
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
    ]
}

/// The environment docker gives a command: `PATH`, `HOSTNAME`, `HOME` of the
/// user, `TERM=xterm` with a terminal, then each `-e`, a later one winning.
fn environment(flags: &RunFlags, hostname: &str, home: &str) -> Vec<String> {
    let mut env: Vec<String> = ch01_chroot::default_env()
        .into_iter()
        .filter(|kv| !kv.starts_with("HOME=") && !kv.starts_with("TERM="))
        .collect();
    env.push(format!("HOSTNAME={hostname}"));
    if flags.tty {
        env.push("TERM=xterm".into());
    }
    env.push(format!("HOME={home}"));
    for kv in &flags.env {
        let kv = match kv.split_once('=') {
            Some(_) => kv.clone(),
            None => match std::env::var(kv) {
                Ok(value) => format!("{kv}={value}"),
                Err(_) => continue,
            },
        };
        let key = kv.split('=').next().unwrap_or_default();
        env.retain(|old| old.split('=').next() != Some(key));
        env.push(kv);
    }
    env
}

/// A 12-hex-digit hostname, as docker names a container after its short id.
fn random_hostname() -> String {
    let mut bytes = [0u8; 6];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if read.is_err() {
        bytes = (std::process::id() as u64).to_be_bytes()[2..]
            .try_into()
            .expect("6 bytes");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who the command runs as, resolved against the rootfs.
#[derive(Debug, PartialEq)]
struct ResolvedUser {
    uid: u32,
    gid: u32,
    groups: Vec<u32>,
    home: String,
}

/// Resolves `-u` the way docker does: a name must be in the rootfs's
/// /etc/passwd; a number need not be (then its group is 0 and its home `/`).
fn resolve_user(user: Option<&str>, rootfs: &Path) -> Result<ResolvedUser, Error> {
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap_or_default();
    let group = std::fs::read_to_string(rootfs.join("etc/group")).unwrap_or_default();
    let (user, group_spec) = match user {
        None => ("0", None),
        Some(spec) => match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        },
    };
    let entry = passwd
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 7 && (f[0] == user || f[2] == user));
    let (uid, mut gid, name, home) = match (entry, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse().unwrap_or(0),
            f[3].parse().unwrap_or(0),
            Some(f[0].to_string()),
            f[5].to_string(),
        ),
        (None, Ok(uid)) => (uid, 0, None, "/".to_string()),
        (None, Err(_)) => {
            return Err(Error::UnknownUser {
                kind: "user",
                name: user.into(),
                file: "passwd",
            });
        }
    };
    let groups_file = group
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>());
    if let Some(g) = group_spec {
        gid = match groups_file
            .clone()
            .find(|f| f.len() >= 3 && (f[0] == g || f[2] == g))
        {
            Some(f) => f[2].parse().unwrap_or(0),
            None => g.parse().map_err(|_| Error::UnknownUser {
                kind: "group",
                name: g.into(),
                file: "group",
            })?,
        };
    }
    let groups = match &name {
        Some(name) => groups_file
            .filter(|f| f.len() >= 4 && f[3].split(',').any(|member| member == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect(),
        None => Vec::new(),
    };
    Ok(ResolvedUser {
        uid,
        gid,
        groups,
        home,
    })
}

/// Loads `DIR/config.json` and returns the spec with the rootfs it names
/// (relative to the bundle, as runc resolves it).
pub fn load_bundle(bundle: &Path) -> Result<(Spec, PathBuf), Error> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|err| Error::BadConfig {
        path: path.clone(),
        reason: err.to_string(),
    })?;
    let spec: Spec = serde_json::from_str(&text).map_err(|err| Error::BadConfig {
        path: path.clone(),
        reason: err.to_string(),
    })?;
    let root = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .ok_or_else(|| Error::BadConfig {
            path: path.clone(),
            reason: "no root.path: the spec does not say where the rootfs is".into(),
        })?;
    Ok((spec, bundle.join(root)))
}

/// The spec as `config.json` text, pretty-printed with capability sets sorted
/// (they are hash sets, so their order would otherwise change from run to run).
pub fn to_json(spec: &Spec) -> String {
    let mut value = serde_json::to_value(spec).expect("a spec always serializes");
    if let Some(sets) = value
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    {
        for set in sets.values_mut() {
            if let Some(list) = set.as_array_mut() {
                list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
    serde_json::to_string_pretty(&value).expect("json values serialize") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nalice:x:1000:\nwheel:x:10:alice\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn users_resolve_like_docker() {
        let dir = rootfs();
        let r = |u: &str| resolve_user(Some(u), dir.path());
        let alice = ResolvedUser {
            uid: 1000,
            gid: 1000,
            groups: vec![10],
            home: "/home/alice".into(),
        };
        assert_eq!(r("alice").unwrap(), alice);
        assert_eq!(r("1000").unwrap(), alice);
        assert_eq!(r("alice:wheel").unwrap().gid, 10);
        assert_eq!(
            r("4242:7").unwrap(),
            ResolvedUser {
                uid: 4242,
                gid: 7,
                groups: vec![],
                home: "/".into()
            }
        );
        assert!(matches!(
            r("bob"),
            Err(Error::UnknownUser { kind: "user", .. })
        ));
        assert!(matches!(
            r("alice:nogroup"),
            Err(Error::UnknownUser { kind: "group", .. })
        ));
        assert_eq!(resolve_user(None, dir.path()).unwrap().home, "/root");
    }

    #[test]
    fn later_env_wins_and_hostname_is_set() {
        let flags = RunFlags {
            env: vec!["PATH=/x".into(), "A=1".into(), "A=2".into()],
            ..Default::default()
        };
        let env = environment(&flags, "box", "/root");
        assert!(env.contains(&"PATH=/x".to_string()));
        assert!(env.contains(&"HOSTNAME=box".to_string()));
        assert_eq!(
            env.iter()
                .filter(|kv| kv.starts_with("A="))
                .collect::<Vec<_>>(),
            ["A=2"]
        );
    }

    #[test]
    fn a_spec_survives_a_round_trip_through_config_json() {
        let dir = rootfs();
        let flags = RunFlags {
            args: vec!["sh".into()],
            userns: true,
            ..Default::default()
        };
        let spec = build(&flags, dir.path()).unwrap();
        let bundle = tempfile::tempdir().unwrap();
        std::fs::write(bundle.path().join("config.json"), to_json(&spec)).unwrap();
        let (loaded, root) = load_bundle(bundle.path()).unwrap();
        assert_eq!(loaded, spec);
        assert_eq!(root, dir.path());
    }
}
