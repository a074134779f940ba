//! A container's mounts beyond its root, from `run`'s flags: `-v`, `--mount`,
//! `--tmpfs`, `--volumes-from` and the image's `VOLUME`s. Each becomes a
//! [`MountPoint`] (kept in the container's host config, shown by `inspect`)
//! and an OCI spec mount, which chapter 02's runtime makes inside the
//! container's root before it pivots, as runc does.

use std::path::{Path, PathBuf};

use anyhow::Context;
use oci_spec::runtime::{Mount, MountBuilder, Spec};

use crate::details::MountPoint;

/// What the flags ask for, before volumes are found or made.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A host directory.
    Bind {
        source: PathBuf,
        target: String,
        rw: bool,
    },
    /// A named volume, or an anonymous one (`None`).
    Volume {
        name: Option<String>,
        target: String,
        rw: bool,
    },
    /// A tmpfs with its options.
    Tmpfs {
        target: String,
        options: Vec<String>,
    },
}

impl Request {
    /// Where it appears in the container.
    pub fn target(&self) -> &str {
        match self {
            Request::Bind { target, .. }
            | Request::Volume { target, .. }
            | Request::Tmpfs { target, .. } => target,
        }
    }
}

fn invalid_spec(spec: &str) -> anyhow::Error {
    anyhow::anyhow!("invalid volume specification: '{spec}'")
}

fn absolute_target(spec: &str, target: &str) -> anyhow::Result<String> {
    if !target.starts_with('/') {
        anyhow::bail!(
            "invalid volume specification: '{spec}': invalid mount config for type \"bind\": invalid mount path: '{target}' mount path must be absolute"
        );
    }
    Ok(target.to_string())
}

/// `-v`: `/host:/ctr[:ro|rw]` (or `./host`, from the current directory),
/// `name:/ctr[:ro|rw]` or `/ctr` (an anonymous volume). Any other source
/// with a `/` in it is a volume name with characters no name may have:
/// docker's error says to use an absolute path.
pub fn parse_volume(spec: &str) -> anyhow::Result<Request> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => {
            return Ok(Request::Volume {
                name: None,
                target: absolute_target(spec, target)?,
                rw: true,
            });
        }
        [source, target] => (*source, *target, None),
        [source, target, mode] => (*source, *target, Some(*mode)),
        _ => return Err(invalid_spec(spec)),
    };
    if source.is_empty() || target.is_empty() {
        return Err(invalid_spec(spec));
    }
    let rw = match mode {
        None | Some("rw") => true,
        Some("ro") => false,
        Some(mode) => anyhow::bail!("invalid mode: {mode}"),
    };
    let target = absolute_target(spec, target)?;
    if source.starts_with('/') {
        return Ok(Request::Bind {
            source: PathBuf::from(source),
            target,
            rw,
        });
    }
    // docker's CLI (since 23.0) makes `.` and `./PATH` absolute, from where
    // it runs; `data/dir` stays a (bad) volume name.
    if source == "." || source.starts_with("./") {
        let cwd = std::env::current_dir().context("find the current directory")?;
        return Ok(Request::Bind {
            source: match source.strip_prefix("./") {
                Some(rest) => cwd.join(rest),
                None => cwd,
            },
            target,
            rw,
        });
    }
    if !crate::volumes::valid_name(source) {
        return Err(crate::volumes::VolumeError::InvalidName(source.into()).into());
    }
    Ok(Request::Volume {
        name: Some(source.into()),
        target,
        rw,
    })
}

/// `--mount type=bind|volume|tmpfs,source=...,target=...,readonly`.
pub fn parse_mount(spec: &str) -> anyhow::Result<Request> {
    let (mut kind, mut source, mut target, mut rw) = ("volume", None, None, true);
    let mut options = Vec::new();
    for field in spec.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => kind = value,
            "source" | "src" => source = Some(value),
            "target" | "destination" | "dst" => target = Some(value),
            "readonly" | "ro" => rw = matches!(value, "false" | "0"),
            "tmpfs-size" => options.push(format!("size={value}")),
            "tmpfs-mode" => options.push(format!("mode={value}")),
            _ => anyhow::bail!(
                "invalid argument \"{spec}\" for \"--mount\" flag: unexpected key '{key}' in '{field}'"
            ),
        }
    }
    let Some(target) = target else {
        anyhow::bail!("invalid argument \"{spec}\" for \"--mount\" flag: target is required");
    };
    let target = absolute_target(spec, target)?;
    Ok(match (kind, source) {
        ("bind", Some(source)) if source.starts_with('/') => Request::Bind {
            source: source.into(),
            target,
            rw,
        },
        ("bind", Some(source)) => anyhow::bail!(
            "invalid mount config for type \"bind\": invalid mount path: '{source}' mount path must be absolute"
        ),
        ("bind", None) => {
            anyhow::bail!("invalid mount config for type \"bind\": field Source must not be empty")
        }
        ("volume", name) => Request::Volume {
            name: name.map(str::to_string),
            target,
            rw,
        },
        ("tmpfs", _) => Request::Tmpfs { target, options },
        (kind, _) => anyhow::bail!(
            "invalid argument \"{spec}\" for \"--mount\" flag: invalid mount type '{kind}'"
        ),
    })
}

/// `--tmpfs /path[:opts]`.
pub fn parse_tmpfs(spec: &str) -> anyhow::Result<Request> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    Ok(Request::Tmpfs {
        target: absolute_target(spec, target)?,
        options: options
            .split(',')
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

/// The OCI spec mount for `m`: a recursive bind (read-only where asked), or
/// a tmpfs with docker's `noexec,nosuid,nodev`.
pub fn to_oci(m: &MountPoint) -> anyhow::Result<Mount> {
    let (typ, source, mut options) = match m.kind.as_str() {
        "tmpfs" => (
            "tmpfs",
            PathBuf::from("tmpfs"),
            vec!["noexec".into(), "nosuid".into(), "nodev".into()],
        ),
        _ => ("bind", m.source.clone(), vec!["rbind".to_string()]),
    };
    options.extend(m.options.iter().cloned());
    options.push(if m.rw { "rw" } else { "ro" }.into());
    MountBuilder::default()
        .destination(&m.destination)
        .typ(typ)
        .source(source)
        .options(options)
        .build()
        .context("build a mount for the spec")
}

/// Adds `mounts` to the spec after docker's own (a mount on the same
/// destination replaces the spec's, as a `-v` on /etc/hosts would).
pub fn add_to_spec(spec: &mut Spec, mounts: &[MountPoint]) -> anyhow::Result<()> {
    let mut all: Vec<Mount> = spec.mounts().clone().unwrap_or_default();
    for m in mounts {
        all.retain(|existing| existing.destination() != Path::new(&m.destination));
        all.push(to_oci(m)?);
    }
    spec.set_mounts(Some(all));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags_read_as_dockers() {
        assert_eq!(
            parse_volume("/srv:/data:ro").unwrap(),
            Request::Bind {
                source: "/srv".into(),
                target: "/data".into(),
                rw: false
            }
        );
        assert_eq!(
            parse_volume("cache:/var/cache").unwrap(),
            Request::Volume {
                name: Some("cache".into()),
                target: "/var/cache".into(),
                rw: true
            }
        );
        assert!(matches!(
            parse_volume("/data").unwrap(),
            Request::Volume { name: None, .. }
        ));
        let err = |spec: &str| parse_volume(spec).unwrap_err().to_string();
        assert_eq!(err("/a:/b:xyz"), "invalid mode: xyz");
        assert!(
            err("data/x:/b")
                .contains("If you intended to pass a host directory, use absolute path")
        );
        assert!(err("/a:b").contains("mount path must be absolute"));
    }

    #[test]
    fn a_dot_relative_source_is_a_bind_of_an_absolute_path() {
        let cwd = std::env::current_dir().unwrap();
        for (source, host) in [
            ("./srv", cwd.join("srv")),
            (".", cwd.clone()),
            ("./.hidden", cwd.join(".hidden")),
        ] {
            assert_eq!(
                parse_volume(&format!("{source}:/data")).unwrap(),
                Request::Bind {
                    source: host,
                    target: "/data".into(),
                    rw: true
                }
            );
        }
    }

    #[test]
    fn mount_flags_read_as_dockers() {
        assert_eq!(
            parse_mount("type=bind,source=/srv,target=/data,readonly").unwrap(),
            Request::Bind {
                source: "/srv".into(),
                target: "/data".into(),
                rw: false
            }
        );
        assert_eq!(
            parse_tmpfs("/run:size=64m").unwrap(),
            Request::Tmpfs {
                target: "/run".into(),
                options: vec!["size=64m".into()]
            }
        );
    }
}
