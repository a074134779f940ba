//! Capabilities: root's powers, split into ~40 pieces, of which docker keeps 14.
//!
//! capabilities(7): the bounding set caps what any later execve(2) can gain, so
//! it is reduced first, while we still hold CAP_SETPCAP. Then the process switches
//! to the container's user with PR_SET_KEEPCAPS on (a uid change would otherwise
//! clear the permitted set), and finally the effective, permitted, inheritable and
//! ambient sets are set to what the spec says.

use std::collections::HashSet;

use caps::{CapSet, CapsHashSet};
use ch01_chroot::explain;
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxCapabilitiesBuilder};

use crate::Error;
use crate::channel::Failure;

/// Docker's default capabilities (moby's `oci/caps/defaults.go`, documented under
/// "Runtime privilege and Linux capabilities" in `docker run`'s reference).
/// Everything else, CAP_SYS_ADMIN (mount), CAP_NET_ADMIN, CAP_SYS_MODULE,
/// CAP_SYS_PTRACE, CAP_SYS_TIME, ..., is dropped.
pub const DOCKER_DEFAULT: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// The capability sets docker puts in a spec: the default set bounding,
/// effective and permitted; inheritable and ambient empty (CVE-2022-24769:
/// a non-empty inheritable set let file capabilities leak into a container).
pub fn docker_default() -> LinuxCapabilities {
    for_flags(&[], &[], false).expect("no names to parse")
}

/// The capability sets for `--privileged`, `--cap-add` and `--cap-drop`, with
/// docker's rules: `--privileged` gives every capability; otherwise start from
/// the default 14 (every one if `--cap-add ALL`, none if `--cap-drop ALL`), take
/// away what `--cap-drop` names, then add what `--cap-add` names. Names may have
/// the `CAP_` prefix or not, in any case.
///
/// "Every capability" is every one in our own bounding set: no process can hand
/// out a capability it cannot have (capabilities(7)), and some hosts, and runners
/// that are themselves in a container, lack a few. Asking for one of those by
/// name is an error that says so.
pub fn for_flags(
    add: &[String],
    drop: &[String],
    privileged: bool,
) -> Result<LinuxCapabilities, Error> {
    let ours = caps::read(None, CapSet::Bounding).unwrap_or_else(|_| caps::all());
    let every: HashSet<Capability> = ours.iter().filter_map(|c| to_oci(*c)).collect();
    let is_all = |names: &[String]| names.iter().any(|n| n.eq_ignore_ascii_case("ALL"));
    let mut set: HashSet<Capability> = if privileged || is_all(add) {
        every.clone()
    } else if is_all(drop) {
        HashSet::new()
    } else {
        DOCKER_DEFAULT.into_iter().collect()
    };
    if !privileged {
        for name in drop.iter().filter(|n| !n.eq_ignore_ascii_case("ALL")) {
            set.remove(&parse(name, "--cap-drop")?);
        }
        for name in add.iter().filter(|n| !n.eq_ignore_ascii_case("ALL")) {
            let cap = parse(name, "--cap-add")?;
            if !every.contains(&cap) {
                return Err(Error::BadFlag {
                    flag: "--cap-add",
                    value: name.clone(),
                    reason: format!(
                        "CAP_{cap} is not in this process's bounding set, so no container it starts can have it"
                    ),
                });
            }
            set.insert(cap);
        }
    }
    Ok(LinuxCapabilitiesBuilder::default()
        .bounding(set.clone())
        .effective(set.clone())
        .permitted(set)
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()
        .expect("capability sets are always valid"))
}

/// `net_admin`, `CAP_NET_ADMIN` -> [`Capability::NetAdmin`].
fn parse(name: &str, flag: &'static str) -> Result<Capability, Error> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    bare.parse().map_err(|_| Error::BadFlag {
        flag,
        value: name.to_string(),
        reason: format!("unknown capability: \"CAP_{bare}\""),
    })
}

/// The caps crate's capability as the spec's (`CAP_CHOWN` -> `Chown`).
fn to_oci(cap: caps::Capability) -> Option<Capability> {
    cap.to_string().strip_prefix("CAP_")?.parse().ok()
}

fn to_caps(set: &Option<HashSet<Capability>>) -> CapsHashSet {
    set.iter()
        .flatten()
        .filter_map(|cap| format!("CAP_{cap}").parse::<caps::Capability>().ok())
        .collect()
}

fn failed(step: &str) -> impl FnOnce(caps::errors::CapsError) -> Failure {
    let step = step.to_string();
    move |err| Failure::Caps {
        step,
        message: err.to_string(),
    }
}

/// Step one, before the user switch: shrink the bounding set to the spec's.
pub(crate) fn limit_bounding(spec: &LinuxCapabilities) -> Result<(), Failure> {
    let keep = to_caps(spec.bounding());
    let drop: Vec<_> = caps::all().difference(&keep).copied().collect();
    explain!("drop {} capabilities from the bounding set, keep {}", drop.len(), keep.len();
        "capsh --drop={}", names(&drop));
    for cap in drop {
        // A capability this kernel does not know is not in the bounding set anyway.
        if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).map_err(failed("drop bounding capability"))?;
        }
    }
    Ok(())
}

/// Step two, after the user switch: set the other four sets. Ambient is set
/// last because the kernel only allows what is permitted and inheritable.
pub(crate) fn apply(spec: &LinuxCapabilities) -> Result<(), Failure> {
    explain!("keep {} capabilities effective and permitted, none inheritable", to_caps(spec.effective()).len();
        "capsh --caps={}+ep", names(&to_caps(spec.effective()).into_iter().collect::<Vec<_>>()));
    // Effective first: the kernel refuses a permitted set smaller than the effective one.
    caps::set(None, CapSet::Effective, &to_caps(spec.effective()))
        .map_err(failed("set effective capabilities"))?;
    caps::set(None, CapSet::Permitted, &to_caps(spec.permitted()))
        .map_err(failed("set permitted capabilities"))?;
    caps::set(None, CapSet::Inheritable, &to_caps(spec.inheritable()))
        .map_err(failed("set inheritable capabilities"))?;
    caps::clear(None, CapSet::Ambient).map_err(failed("clear ambient capabilities"))?;
    for cap in to_caps(spec.ambient()) {
        caps::raise(None, CapSet::Ambient, cap).map_err(failed("raise ambient capability"))?;
    }
    Ok(())
}

fn names(caps: &[caps::Capability]) -> String {
    let mut names: Vec<String> = caps.iter().map(|c| c.to_string().to_lowercase()).collect();
    names.sort();
    names.join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_default_capability_is_known_to_the_caps_crate() {
        let spec = super::docker_default();
        assert_eq!(
            super::to_caps(spec.bounding()).len(),
            super::DOCKER_DEFAULT.len()
        );
        assert!(super::to_caps(spec.bounding()).contains(&caps::Capability::CAP_NET_BIND_SERVICE));
    }
}
