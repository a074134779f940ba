//! `docker run`'s resource flags, with docker's meanings and units, turned into the
//! `resources` part of an OCI runtime spec: the contract between a CLI and a runtime.

use nix::sched::{CpuSet, sched_getaffinity};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};

use crate::error::{Error, Result};

/// The CFS period docker uses with `--cpus`: quotas are given per 100ms.
pub const CPU_PERIOD_US: u64 = 100_000;

/// docker refuses memory limits below 6MB: a container cannot even start in less.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// The limit flags of `docker run`, as a learner types them. Flatten them into a
/// binary's arguments with `#[command(flatten)]`; [`Limits::resources`] turns them
/// into the OCI spec's resources.
#[derive(Debug, Clone, Default, PartialEq, clap::Args)]
pub struct Limits {
    /// Memory limit: a number and an optional unit b, k, m or g (64m).
    #[arg(short = 'm', long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory: Option<u64>,
    /// Memory plus swap limit: the total, not the swap alone; -1 for unlimited swap.
    /// Twice --memory when not given.
    #[arg(long, value_name = "BYTES", value_parser = parse_swap, allow_negative_numbers = true)]
    pub memory_swap: Option<i64>,
    /// Number of CPUs' worth of time: 0.5 is half of one CPU.
    #[arg(long, value_name = "N", value_parser = parse_cpus, allow_negative_numbers = true)]
    pub cpus: Option<u64>,
    /// CPU shares, a weight relative to other containers (1024 is normal).
    #[arg(short = 'c', long, value_name = "SHARES")]
    pub cpu_shares: Option<u64>,
    /// CPUs to run on: numbers and ranges, such as 0-2,4.
    #[arg(long, value_name = "LIST", value_parser = parse_cpuset)]
    pub cpuset_cpus: Option<String>,
    /// Most processes the container may have; 0 or -1 for unlimited.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
}

impl Limits {
    /// The OCI spec's `linux.resources` for these flags, checked the way docker checks
    /// them: a memory limit of at least 6MB, a memory+swap total no smaller than the
    /// memory limit (and only with one), no more CPUs than this machine has.
    pub fn resources(&self) -> Result<LinuxResources> {
        let mut resources = LinuxResources::default();
        resources.set_memory(self.memory()?);
        resources.set_cpu(self.cpu(online_cpus())?);
        if let Some(limit) = self.pids_limit {
            let mut pids = LinuxPids::default();
            // docker: 0 and -1 both mean unlimited; the spec says so with -1.
            pids.set_limit(if limit <= 0 { -1 } else { limit });
            resources.set_pids(Some(pids));
        }
        Ok(resources)
    }

    // ANCHOR: memory_flags
    fn memory(&self) -> Result<Option<LinuxMemory>> {
        let memory = self.memory.filter(|&m| m != 0);
        let swap = self.memory_swap.filter(|&s| s != 0);
        let Some(limit) = memory else {
            return match swap {
                Some(s) if s > 0 => Err(Error::InvalidResources(
                    "--memory-swap needs --memory: it is the total of memory and swap, so set the memory limit too"
                        .to_string(),
                )),
                _ => Ok(None),
            };
        };
        if limit < MIN_MEMORY {
            return Err(Error::InvalidResources(format!(
                "--memory {}: the minimum memory limit allowed is 6MiB",
                format_bytes(limit)
            )));
        }
        let swap = match swap {
            // docker's default: as much swap as memory.
            None => limit
                .checked_mul(2)
                .map_or(-1, |total| i64::try_from(total).unwrap_or(-1)),
            Some(total) if total > 0 && (total as u64) < limit => {
                return Err(Error::InvalidResources(format!(
                    "--memory-swap {} is less than --memory {}: it is the total of memory and swap, so it must be at least the memory limit",
                    format_bytes(total as u64),
                    format_bytes(limit)
                )));
            }
            Some(total) => total,
        };
        let mut spec = LinuxMemory::default();
        spec.set_limit(Some(to_i64(limit)?));
        spec.set_swap(Some(swap));
        Ok(Some(spec))
    }
    // ANCHOR_END: memory_flags

    fn cpu(&self, online: usize) -> Result<Option<LinuxCpu>> {
        let mut cpu = LinuxCpu::default();
        let mut any = false;
        if let Some(nanos) = self.cpus.filter(|&n| n != 0) {
            if nanos > online as u64 * 1_000_000_000 {
                return Err(Error::InvalidResources(format!(
                    "--cpus {}: range of CPUs is from 0.01 to {online}.00, as there are only {online} CPUs available",
                    format_cpus(nanos)
                )));
            }
            let (quota, period) = cpu_quota(nanos);
            cpu.set_quota(Some(quota));
            cpu.set_period(Some(period));
            any = true;
        }
        if let Some(shares) = self.cpu_shares.filter(|&s| s != 0) {
            cpu.set_shares(Some(shares));
            any = true;
        }
        if let Some(cpus) = &self.cpuset_cpus {
            cpu.set_cpus(Some(cpus.clone()));
            any = true;
        }
        Ok(any.then_some(cpu))
    }
}

/// A spec's memory limit and memory+swap total, checked with docker's rules
/// before either backend writes them: a swap total needs a memory limit and is
/// at least it, and unlimited memory (-1) lifts the swap limit too, or the old
/// one would still cap memory. `None`: no memory limit to write.
pub(crate) fn memory_and_swap(memory: &LinuxMemory) -> Result<Option<(i64, Option<i64>)>> {
    let Some(limit) = memory.limit() else {
        return match memory.swap() {
            Some(_) => Err(Error::InvalidResources(
                "a memory+swap limit needs a memory limit too".to_string(),
            )),
            None => Ok(None),
        };
    };
    let swap = memory.swap().or((limit == -1).then_some(-1));
    if let Some(total) = swap
        && total != -1
        && (limit == -1 || total < limit)
    {
        return Err(Error::InvalidResources(format!(
            "the memory+swap limit ({}) must be at least the memory limit ({})",
            format_bytes(total as u64),
            describe_limit(limit)
        )));
    }
    Ok(Some((limit, swap)))
}

/// The pids limit as runc writes it: 0 leaves the setting alone (`None`), a
/// negative limit is "max".
pub(crate) fn pids_max(limit: i64) -> Option<String> {
    match limit {
        0 => None,
        limit if limit < 0 => Some("max".to_string()),
        limit => Some(limit.to_string()),
    }
}

// ANCHOR: cpu_quota
/// The CFS quota and period for `--cpus`: `0.5` is 50000us of CPU time in every
/// 100000us, half of one CPU (or a quarter of each of two).
pub fn cpu_quota(nano_cpus: u64) -> (i64, u64) {
    // LAB: return (quota, period) in microseconds: the period is CPU_PERIOD_US, and the quota is that share of it, nano_cpus billionths of a CPU (0.5 CPU = 500_000_000 -> 50_000us per 100_000us)
    let quota = nano_cpus * CPU_PERIOD_US / 1_000_000_000;
    (quota as i64, CPU_PERIOD_US)
    // LAB: END
}
// ANCHOR_END: cpu_quota

// ANCHOR: parse_bytes
/// Parses a size as docker's `--memory` does (go-units' `RAMInBytes`): a number,
/// perhaps with a fraction, an optional space, and an optional unit `b`, `k`, `m`,
/// `g`, `t` or `p` (powers of 1024), which may be followed by `b` or `ib`, in any
/// case: `64m`, `64MB`, `64MiB` and `67108864` are all 64MiB.
pub fn parse_bytes(value: &str) -> Result<u64> {
    // LAB: split the value into a number (digits with at most one '.', not at either end) and a unit (one optional space, then b, k, m, g, t or p, each a power of 1024, optionally followed by b or ib, in any case); anything else, or i64::MAX bytes or more, is Error::InvalidSize(value); drop a fraction of a byte
    let invalid = || Error::InvalidSize(value.to_string());
    let split = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(split);
    let suffix = suffix
        .strip_prefix(' ')
        .unwrap_or(suffix)
        .to_ascii_lowercase();
    let valid_number = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.matches('.').count() <= 1;
    if !valid_number {
        return Err(invalid());
    }
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let exponent = match suffix.as_str() {
        "" | "b" => 0,
        _ => {
            let unit = suffix.as_bytes()[0];
            let rest = &suffix[1..];
            if !matches!(rest, "" | "b" | "ib") {
                return Err(invalid());
            }
            match unit {
                b'k' => 1,
                b'm' => 2,
                b'g' => 3,
                b't' => 4,
                b'p' => 5,
                _ => return Err(invalid()),
            }
        }
    };
    let bytes = number * 1024f64.powi(exponent);
    if bytes >= i64::MAX as f64 {
        return Err(invalid());
    }
    // Like docker, a fraction of a byte is dropped.
    Ok(bytes as u64)
    // LAB: END
}
// ANCHOR_END: parse_bytes

/// Parses `--memory-swap`: a size, or `-1` for unlimited swap.
pub fn parse_swap(value: &str) -> Result<i64> {
    if value == "-1" {
        return Ok(-1);
    }
    to_i64(parse_bytes(value)?)
}

/// Parses `--cpus` into billionths of a CPU (docker's `NanoCPUs`), exactly, without
/// floating point: `0.5` is 500000000. `0` means no limit, as in docker.
pub fn parse_cpus(value: &str) -> Result<u64> {
    let invalid = |reason| Error::InvalidCpus {
        value: value.to_string(),
        reason,
    };
    if value.starts_with('-') {
        return Err(invalid(
            "the number of CPUs must be positive, such as 0.5 or 2",
        ));
    }
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(invalid("use a decimal number of CPUs, such as 0.5 or 2"));
    }
    if fraction.len() > 9 {
        return Err(invalid("too precise: use at most 9 decimal places"));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid("too large"))?
    };
    let fraction: u64 = format!("{fraction:0<9}")
        .parse()
        .map_err(|_| invalid("too precise"))?;
    let nanos = whole
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(fraction))
        .ok_or_else(|| invalid("too large"))?;
    // The kernel's smallest quota is 1ms per period: 0.01 CPU with docker's 100ms period.
    if nanos != 0 && nanos < 10_000_000 {
        return Err(invalid("the smallest limit is 0.01 CPUs"));
    }
    Ok(nanos)
}

/// Checks a `--cpuset-cpus` list (`0-2,4`): CPU numbers and ascending ranges,
/// separated by commas. The kernel checks that the CPUs exist.
pub fn parse_cpuset(value: &str) -> Result<String> {
    let number = |s: &str| {
        (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let valid = !value.is_empty()
        && value.split(',').all(|part| match part.split_once('-') {
            Some((low, high)) => {
                matches!((number(low), number(high)), (Some(l), Some(h)) if l <= h)
            }
            None => number(part).is_some(),
        });
    if valid {
        Ok(value.to_string())
    } else {
        Err(Error::InvalidCpuList(value.to_string()))
    }
}

/// A byte count as docker prints it (go-units' `BytesSize`): powers of 1024, four
/// significant digits: `64MiB`, `1.526MiB`, `512B`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let decimals = match value {
        v if v >= 1000.0 => 0,
        v if v >= 100.0 => 1,
        v if v >= 10.0 => 2,
        _ => 3,
    };
    let text = format!("{value:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", UNITS[unit])
}

/// A limit as the OCI spec gives it, -1 being "unlimited", for narration and errors.
pub(crate) fn describe_limit(value: i64) -> String {
    if value < 0 {
        "unlimited".to_string()
    } else {
        format_bytes(value as u64)
    }
}

/// `--cpus` as the user typed it, back from billionths.
fn format_cpus(nanos: u64) -> String {
    let text = format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn to_i64(bytes: u64) -> Result<i64> {
    i64::try_from(bytes).map_err(|_| Error::InvalidSize(bytes.to_string()))
}

/// The CPUs this process may run on, as docker counts them (Go's `runtime.NumCPU`).
fn online_cpus() -> usize {
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count(),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn sizes_parse_with_dockers_units() {
        for (text, bytes) in [
            ("64m", 64 * MIB),
            ("64M", 64 * MIB),
            ("64MB", 64 * MIB),
            ("64MiB", 64 * MIB),
            ("64 m", 64 * MIB),
            ("1.5g", 1536 * MIB),
            ("1k", 1024),
            ("512b", 512),
            ("67108864", 64 * MIB),
            ("0.5k", 512),
            ("1t", 1 << 40),
        ] {
            assert_eq!(parse_bytes(text).unwrap(), bytes, "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_refused_with_the_value() {
        for text in [
            "12x", "", "m", "-1", "1.2.3", "64mbb", "64bb", ".5m", "5.m", "64 m b", "1e3",
        ] {
            let err = parse_bytes(text).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "invalid size {text:?}: use a number and an optional unit b, k, m or g, such as 64m"
                )
            );
        }
        assert!(parse_bytes("9000p").is_err(), "beyond i64");
    }

    #[test]
    fn swap_takes_minus_one_for_unlimited() {
        assert_eq!(parse_swap("-1").unwrap(), -1);
        assert_eq!(parse_swap("128m").unwrap(), 128 << 20);
        assert!(parse_swap("-2").is_err());
    }

    #[test]
    fn cpus_are_exact_billionths() {
        assert_eq!(parse_cpus("0.5").unwrap(), 500_000_000);
        assert_eq!(parse_cpus(".5").unwrap(), 500_000_000);
        assert_eq!(parse_cpus("2").unwrap(), 2_000_000_000);
        assert_eq!(parse_cpus("1.25").unwrap(), 1_250_000_000);
        assert_eq!(parse_cpus("0.01").unwrap(), 10_000_000);
        assert_eq!(parse_cpus("0").unwrap(), 0);
        assert_eq!(cpu_quota(500_000_000), (50_000, 100_000));
        assert_eq!(cpu_quota(1_500_000_000), (150_000, 100_000));
        assert_eq!(cpu_quota(10_000_000), (1_000, 100_000));
    }

    #[test]
    fn bad_cpus_say_why() {
        let message = |text| parse_cpus(text).unwrap_err().to_string();
        assert_eq!(
            message("-1"),
            "invalid number of CPUs \"-1\": the number of CPUs must be positive, such as 0.5 or 2"
        );
        assert_eq!(
            message("half"),
            "invalid number of CPUs \"half\": use a decimal number of CPUs, such as 0.5 or 2"
        );
        assert_eq!(
            message("."),
            "invalid number of CPUs \".\": use a decimal number of CPUs, such as 0.5 or 2"
        );
        assert_eq!(
            message("0.001"),
            "invalid number of CPUs \"0.001\": the smallest limit is 0.01 CPUs"
        );
        assert!(message("0.0000000001").contains("too precise"));
        assert!(message("99999999999999999999").contains("too large"));
    }

    #[test]
    fn cpu_lists_are_numbers_and_ascending_ranges() {
        for good in ["0", "0-1", "0-2,4", "3,1"] {
            assert_eq!(parse_cpuset(good).unwrap(), good);
        }
        for bad in ["", "1-0", "a", "0,,1", "0-", "-1", " 0"] {
            assert!(
                matches!(parse_cpuset(bad), Err(Error::InvalidCpuList(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn no_flags_no_resources() {
        let resources = Limits::default().resources().unwrap();
        assert_eq!(resources, LinuxResources::default());
    }

    #[test]
    fn memory_gets_dockers_default_swap() {
        let limits = Limits {
            memory: Some(64 * MIB),
            ..Limits::default()
        };
        let memory = limits.resources().unwrap().memory().unwrap();
        assert_eq!(memory.limit(), Some(64 << 20));
        assert_eq!(memory.swap(), Some(128 << 20));

        let limits = Limits {
            memory: Some(64 * MIB),
            memory_swap: Some(-1),
            ..Limits::default()
        };
        assert_eq!(
            limits.resources().unwrap().memory().unwrap().swap(),
            Some(-1)
        );
        // 0 means "not set", as in docker.
        let limits = Limits {
            memory: Some(0),
            memory_swap: Some(0),
            ..Limits::default()
        };
        assert_eq!(limits.resources().unwrap().memory(), &None);
    }

    #[test]
    fn memory_flags_are_checked_as_docker_checks_them() {
        let error = |memory, memory_swap| {
            Limits {
                memory,
                memory_swap,
                ..Limits::default()
            }
            .resources()
            .unwrap_err()
            .to_string()
        };
        assert_eq!(
            error(Some(4 * MIB), None),
            "--memory 4MiB: the minimum memory limit allowed is 6MiB"
        );
        assert_eq!(
            error(Some(64 * MIB), Some(32 << 20)),
            "--memory-swap 32MiB is less than --memory 64MiB: it is the total of memory and swap, so it must be at least the memory limit"
        );
        assert_eq!(
            error(None, Some(32 << 20)),
            "--memory-swap needs --memory: it is the total of memory and swap, so set the memory limit too"
        );
        // Unlimited swap alone limits nothing, and is no error.
        let limits = Limits {
            memory_swap: Some(-1),
            ..Limits::default()
        };
        assert_eq!(limits.resources().unwrap().memory(), &None);
    }

    #[test]
    fn cpu_flags_become_quota_shares_and_cpuset() {
        let limits = Limits {
            cpus: Some(500_000_000),
            cpu_shares: Some(512),
            cpuset_cpus: Some("0".to_string()),
            ..Limits::default()
        };
        let cpu = limits.cpu(2).unwrap().unwrap();
        assert_eq!((cpu.quota(), cpu.period()), (Some(50_000), Some(100_000)));
        assert_eq!(cpu.shares(), Some(512));
        assert_eq!(cpu.cpus().as_deref(), Some("0"));
    }

    #[test]
    fn more_cpus_than_the_machine_has_are_refused() {
        let limits = Limits {
            cpus: Some(2_500_000_000),
            ..Limits::default()
        };
        assert_eq!(
            limits.cpu(2).unwrap_err().to_string(),
            "--cpus 2.5: range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        assert!(limits.cpu(4).is_ok());
    }

    #[test]
    fn pids_limit_zero_or_negative_is_unlimited() {
        for (flag, spec) in [(64, 64), (0, -1), (-1, -1)] {
            let limits = Limits {
                pids_limit: Some(flag),
                ..Limits::default()
            };
            assert_eq!(
                limits.resources().unwrap().pids().unwrap().limit(),
                spec,
                "{flag}"
            );
        }
    }

    #[test]
    fn bytes_print_as_docker_prints_them() {
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(512), "512B");
        assert_eq!(format_bytes(64 * MIB), "64MiB");
        assert_eq!(format_bytes(1536 * MIB), "1.5GiB");
        assert_eq!(format_bytes(1_600_000), "1.526MiB");
        assert_eq!(format_bytes(1023 * 1024 + 1000), "1024KiB");
    }
}
