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

/// What `run`'s flags ask for, before it becomes a [`Spec`]: the flags of
/// `docker run` that shape the container itself. Every binary that runs
/// containers (this chapter's, chapter 03's, `dockyard run`) flattens them into
/// its own arguments with `#[command(flatten)]`, so they are defined once.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunFlags {
    /// The command and its arguments (each binary's positional arguments).
    #[arg(skip)]
    pub args: Vec<String>,
    /// Set an environment variable (`K=V`, or `K` to pass the caller's value on).
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Read environment variables from a file: `K=V` or `K` per line, `#` comments.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Container host name (default: a random 12-digit hex id, like docker's).
    #[arg(long)]
    pub hostname: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: NAME or UID, optionally :GROUP or :GID (looked up in the
    /// rootfs's /etc/passwd and /etc/group).
    #[arg(short = 'u', long = "user", value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Keep stdin open (without it, the command's stdin is /dev/null).
    // Not part of the spec: each runner calls `crate::stdin_unless_interactive`.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Give the command a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Run in a user namespace: root inside is uid 100000 outside.
    #[arg(long)]
    pub userns: bool,
    /// Add a capability to docker's default set (`ALL` for every one).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability from docker's default set (`ALL` for every one).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Every capability, no seccomp filter, nothing masked in /proc, /sys writable:
    /// the container's root is then root on the host.
    #[arg(long)]
    pub privileged: bool,
    /// Security options: seccomp=unconfined, seccomp=PROFILE.json (an OCI
    /// linux.seccomp object), no-new-privileges[=true|false].
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Ulimit options: NAME=SOFT[:HARD] (nofile, nproc, core, stack, ...; -1
    /// for unlimited).
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimits: Vec<String>,
}

/// Builds the spec `docker run` would hand to runc for these flags: docker's
/// namespaces, mounts, default capabilities, masked and read-only paths and
/// seccomp profile. `rootfs` is read (never written) to resolve `-u`.
pub fn build(flags: &RunFlags, rootfs: &Path) -> Result<Spec, Error> {
    if flags.args.is_empty() {
        return Err(Error::NoCommand);
    }
    if let Some(dir) = flags.workdir.as_ref().filter(|d| !d.starts_with('/')) {
        return Err(Error::RelativeWorkdir(dir.clone()));
    }
    let hostname = flags.hostname.clone().unwrap_or_else(short_id);
    let user = resolve_user(flags.user.as_deref(), rootfs)?;
    let security = Security::from_flags(flags)?;
    let env = environment(flags, &hostname, &user.home)?;
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
        .capabilities(security.capabilities)
        .no_new_privileges(security.no_new_privileges)
        // docker sets no limits of its own but `--ulimit`'s: the command
        // inherits the runner's others.
        .rlimits(crate::ulimits::parse(&flags.ulimits)?)
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
    let mut linux = LinuxBuilder::default().namespaces(namespaces);
    // Set both lists even when empty: oci-spec's default `Linux` has masked paths
    // of its own, and --privileged must have none.
    let strings = |paths: &[&str]| paths.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let (masked, readonly) = match flags.privileged {
        true => (Vec::new(), Vec::new()),
        false => (strings(&paths::MASKED), strings(&paths::READONLY)),
    };
    linux = linux.masked_paths(masked).readonly_paths(readonly);
    if let Some(profile) = security.seccomp {
        linux = linux.seccomp(profile);
    }
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
                .readonly(flags.read_only)
                .build()
                .map_err(oci)?,
        )
        .process(process)
        .hostname(hostname)
        .mounts(default_mounts(flags.privileged))
        .linux(linux.build().map_err(oci)?)
        .build()
        .map_err(oci)
}

/// Docker's default mounts: a fresh /proc, a small /dev with its own devpts
/// instance, /dev/shm and /dev/mqueue, and /sys read-only (writable when privileged).
fn default_mounts(privileged: bool) -> Vec<Mount> {
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
            if privileged {
                &["nosuid", "noexec", "nodev"]
            } else {
                &["nosuid", "noexec", "nodev", "ro"]
            },
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

/// What the hardening flags ask for, checked.
struct Security {
    capabilities: oci_spec::runtime::LinuxCapabilities,
    no_new_privileges: bool,
    /// `None`: no filter (`seccomp=unconfined`, or `--privileged`).
    seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
}

impl Security {
    fn from_flags(flags: &RunFlags) -> Result<Security, Error> {
        let mut security = Security {
            capabilities: caps::for_flags(&flags.cap_add, &flags.cap_drop, flags.privileged)?,
            no_new_privileges: !flags.privileged,
            seccomp: (!flags.privileged).then(seccomp::docker_default),
        };
        for opt in &flags.security_opt {
            let bad = |reason: String| Error::BadFlag {
                flag: "--security-opt",
                value: opt.clone(),
                reason,
            };
            match opt.split_once(['=', ':']) {
                Some(("seccomp", "unconfined")) => security.seccomp = None,
                Some(("seccomp", file)) => {
                    let text = std::fs::read_to_string(file)
                        .map_err(|err| bad(format!("cannot read seccomp profile {file}: {err}")))?;
                    let profile = serde_json::from_str(&text).map_err(|err| {
                        bad(format!("seccomp profile {file} is not valid: {err}"))
                    })?;
                    // --privileged turns seccomp off, but an explicit profile still wins.
                    security.seccomp = Some(profile);
                }
                None if opt == "no-new-privileges" => security.no_new_privileges = true,
                Some(("no-new-privileges", value)) => {
                    security.no_new_privileges = value
                        .parse()
                        .map_err(|_| bad("no-new-privileges takes true or false".into()))?;
                }
                _ => {
                    return Err(bad(
                        "supported options are seccomp=unconfined, seccomp=PROFILE.json and no-new-privileges".into(),
                    ));
                }
            }
        }
        Ok(security)
    }
}

/// Has the container join the existing `typ` namespace at `path` instead of
/// making one, if the spec asks for one of that kind (see the runtime's
/// `Joined`, in namespaces.rs). Returns whether it did.
pub fn join_namespace(spec: &mut Spec, typ: LinuxNamespaceType, path: &Path) -> bool {
    let Some(linux) = spec.linux_mut() else {
        return false;
    };
    let Some(ns) = linux
        .namespaces_mut()
        .iter_mut()
        .flatten()
        .find(|ns| ns.typ() == typ)
    else {
        return false;
    };
    ns.set_path(Some(path.to_path_buf()));
    true
}

/// Reads an `--env-file` the way docker does: one `KEY=VALUE` or `KEY` (taken
/// from the caller's environment) per line; blank lines and `#` comments skipped;
/// a key with white space in it is an error naming the file and line.
pub fn read_env_file(path: &Path) -> Result<Vec<String>, Error> {
    let bad = |reason: String| Error::BadFlag {
        flag: "--env-file",
        value: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|err| bad(err.to_string()))?;
    let mut env = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.split('=').next().unwrap_or_default();
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(bad(format!(
                "line {}: variable '{key}' has white space or is empty",
                n + 1
            )));
        }
        env.push(line.to_string());
    }
    Ok(env)
}

/// The environment docker gives a command: `PATH`, `HOSTNAME`, `HOME` of the
/// user, `TERM=xterm` with a terminal, then each `-e`, a later one winning.
fn environment(flags: &RunFlags, hostname: &str, home: &str) -> Result<Vec<String>, Error> {
    let mut env: Vec<String> = ch01_chroot::default_env()
        .into_iter()
        .filter(|kv| !kv.starts_with("HOME=") && !kv.starts_with("TERM="))
        .collect();
    env.push(format!("HOSTNAME={hostname}"));
    if flags.tty {
        env.push("TERM=xterm".into());
    }
    env.push(format!("HOME={home}"));
    // docker reads --env-file first, so -e wins over it.
    let mut given = Vec::new();
    for file in &flags.env_file {
        given.extend(read_env_file(file)?);
    }
    for kv in &flags.env {
        // docker's ValidateEnv: a name is required (`=foo` and `` are not).
        if kv.split('=').next().unwrap_or_default().is_empty() {
            return Err(Error::BadFlag {
                flag: "-e, --env",
                value: kv.clone(),
                reason: format!("invalid environment variable: {kv}"),
            });
        }
        given.push(kv.clone());
    }
    for kv in &given {
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
    Ok(env)
}

/// A random 12-hex-digit id, the form docker shows container ids in; a container
/// without `--hostname` is named after it, as in docker.
pub fn short_id() -> String {
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

    #[test]
    fn only_a_namespace_the_spec_makes_can_be_joined_instead() {
        let flags = RunFlags {
            args: vec!["sh".into()],
            ..Default::default()
        };
        let mut spec = build(&flags, Path::new("/nonexistent")).unwrap();
        let netns = Path::new("/proc/self/fd/7");
        assert!(join_namespace(
            &mut spec,
            LinuxNamespaceType::Network,
            netns
        ));
        // Without --userns the spec makes no user namespace: nothing to join.
        assert!(!join_namespace(&mut spec, LinuxNamespaceType::User, netns));
        let paths: Vec<_> = spec
            .linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .filter_map(|ns| ns.path().as_ref().map(|path| (ns.typ(), path.clone())))
            .collect();
        assert_eq!(paths, [(LinuxNamespaceType::Network, netns.to_path_buf())]);
    }

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
        let env = environment(&flags, "box", "/root").unwrap();
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

    #[test]
    fn a_relative_working_directory_is_refused() {
        let flags = RunFlags {
            args: vec!["pwd".into()],
            workdir: Some("rel".into()),
            ..Default::default()
        };
        let err = build(&flags, Path::new("/nonexistent")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the working directory 'rel' is invalid, it needs to be an absolute path"
        );
    }

    #[test]
    fn an_env_flag_without_a_name_is_refused_as_docker_refuses_it() {
        for bad in ["=foo", ""] {
            let flags = RunFlags {
                env: vec![bad.into()],
                ..Default::default()
            };
            let err = environment(&flags, "box", "/root").unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid argument {bad:?} for \"-e, --env\" flag: invalid environment variable: {bad}"
                )
            );
        }
    }

    #[test]
    fn env_files_are_read_first_and_minus_e_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("env");
        std::fs::write(&file, "# comment\n\nA=from-file\n  B=2\n").unwrap();
        let flags = RunFlags {
            env_file: vec![file.clone()],
            env: vec!["A=from-flag".into()],
            ..Default::default()
        };
        let env = environment(&flags, "box", "/root").unwrap();
        assert!(env.contains(&"A=from-flag".to_string()) && env.contains(&"B=2".to_string()));
        assert!(!env.iter().any(|kv| kv == "A=from-file"));

        std::fs::write(&file, "OK=1\nBAD KEY=2\n").unwrap();
        let err = read_env_file(&file).unwrap_err().to_string();
        assert!(
            err.contains("--env-file") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn hardening_flags_follow_docker() {
        use oci_spec::runtime::Capability;
        let dir = tempfile::tempdir().unwrap();
        let spec_for = |flags: RunFlags| {
            build(
                &RunFlags {
                    args: vec!["true".into()],
                    ..flags
                },
                dir.path(),
            )
        };

        let spec = spec_for(RunFlags {
            cap_add: vec!["net_admin".into()],
            cap_drop: vec!["CAP_CHOWN".into()],
            ..Default::default()
        })
        .unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert!(caps.contains(&Capability::NetAdmin) && !caps.contains(&Capability::Chown));
        assert_eq!(caps.len(), 14);

        let spec = spec_for(RunFlags {
            cap_drop: vec!["ALL".into()],
            cap_add: vec!["KILL".into()],
            ..Default::default()
        })
        .unwrap();
        let caps = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert_eq!(caps.into_iter().collect::<Vec<_>>(), [Capability::Kill]);

        let privileged = spec_for(RunFlags {
            privileged: true,
            ..Default::default()
        })
        .unwrap();
        let linux = privileged.linux().as_ref().unwrap();
        assert!(
            linux.seccomp().is_none() && linux.masked_paths().as_ref().is_none_or(Vec::is_empty)
        );
        assert!(
            privileged
                .process()
                .as_ref()
                .unwrap()
                .capabilities()
                .as_ref()
                .unwrap()
                .bounding()
                .as_ref()
                .unwrap()
                .contains(&Capability::SysAdmin)
        );

        let unconfined = spec_for(RunFlags {
            security_opt: vec!["seccomp=unconfined".into()],
            ..Default::default()
        })
        .unwrap();
        assert!(unconfined.linux().as_ref().unwrap().seccomp().is_none());
        let read_only = spec_for(RunFlags {
            read_only: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(read_only.root().as_ref().unwrap().readonly(), Some(true));

        let bad = spec_for(RunFlags {
            cap_add: vec!["NOPE".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            bad.to_string(),
            r#"invalid argument "NOPE" for "--cap-add" flag: unknown capability: "CAP_NOPE""#
        );
        let bad = spec_for(RunFlags {
            security_opt: vec!["apparmor=x".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            bad.to_string()
                .starts_with(r#"invalid argument "apparmor=x" for "--security-opt" flag"#)
        );
    }
}
