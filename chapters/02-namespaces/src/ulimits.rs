//! `--ulimit NAME=SOFT[:HARD]`: docker's flag for a container's resource
//! limits, which become the OCI spec's `process.rlimits` (config.md,
//! POSIX process) and the init's setrlimit(2) calls (see
//! [`hardening`](crate::hardening)). Without the flag docker sets none, and
//! the command inherits the runner's. A hard limit above the runner's own
//! can only be set with CAP_SYS_RESOURCE (setrlimit(2), EPERM).

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};

use crate::Error;

/// The names docker knows (go-units' `ulimitNameMapping`), with their types.
const NAMES: [(&str, PosixRlimitType); 15] = [
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
];

// ANCHOR: parse
/// The spec's rlimits for each `--ulimit`, a later one for a name replacing
/// an earlier, with docker's errors.
pub fn parse(flags: &[String]) -> Result<Vec<PosixRlimit>, Error> {
    let mut limits: Vec<PosixRlimit> = Vec::new();
    for flag in flags {
        let limit = parse_one(flag).map_err(|reason| Error::BadFlag {
            flag: "--ulimit",
            value: flag.clone(),
            reason,
        })?;
        limits.retain(|l| l.typ() != limit.typ());
        limits.push(limit);
    }
    Ok(limits)
}

fn parse_one(flag: &str) -> Result<PosixRlimit, String> {
    let Some((name, values)) = flag.split_once('=') else {
        return Err(format!("invalid ulimit argument: {flag}"));
    };
    let typ = NAMES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, typ)| *typ)
        .ok_or_else(|| format!("invalid ulimit type: {name}"))?;
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => (number(values)?, number(values)?),
    };
    // -1 is "unlimited" (RLIM_INFINITY), above every other value.
    let rlim = |n: i64| if n < 0 { u64::MAX } else { n as u64 };
    if rlim(soft) > rlim(hard) {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    PosixRlimitBuilder::default()
        .typ(typ)
        .soft(rlim(soft))
        .hard(rlim(hard))
        .build()
        .map_err(|err| err.to_string())
}

/// A limit as Go's strconv.ParseInt reads it (docker's words on failure);
/// -1 is the only negative one that means something.
fn number(text: &str) -> Result<i64, String> {
    match text.parse::<i64>() {
        Ok(n) if n >= -1 => Ok(n),
        _ => Err(format!(
            "strconv.ParseInt: parsing {text:?}: invalid syntax"
        )),
    }
}

// ANCHOR_END: parse

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ulimits_read_as_dockers_and_a_later_one_wins() {
        let limits = parse(&flags(&[
            "nofile=1024:2048",
            "nproc=100",
            "nofile=512:4096",
            "core=-1",
        ]))
        .unwrap();
        let seen: Vec<(PosixRlimitType, u64, u64)> = limits
            .iter()
            .map(|l| (l.typ(), l.soft(), l.hard()))
            .collect();
        assert_eq!(
            seen,
            [
                (PosixRlimitType::RlimitNproc, 100, 100),
                (PosixRlimitType::RlimitNofile, 512, 4096),
                (PosixRlimitType::RlimitCore, u64::MAX, u64::MAX),
            ]
        );
    }

    #[test]
    fn bad_ulimits_get_dockers_words() {
        let err = |flag: &str| parse(&flags(&[flag])).unwrap_err().to_string();
        assert_eq!(
            err("nofile=x"),
            r#"invalid argument "nofile=x" for "--ulimit" flag: strconv.ParseInt: parsing "x": invalid syntax"#
        );
        assert_eq!(
            err("bogus=1"),
            r#"invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus"#
        );
        assert_eq!(
            err("nofile"),
            r#"invalid argument "nofile" for "--ulimit" flag: invalid ulimit argument: nofile"#
        );
        assert_eq!(
            err("nofile=2048:1024"),
            r#"invalid argument "nofile=2048:1024" for "--ulimit" flag: ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"#
        );
    }
}
