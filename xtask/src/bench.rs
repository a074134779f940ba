//! `cargo xtask bench`: how fast each chapter's machinery is, as a ratio against
//! a baseline measured in the same run (never an absolute time: machines differ).
//!
//! Each row runs a command and its baseline alternately, many times, and reports
//! the minimum and the median wall time of each and the ratio of the medians.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::{fixtures, sh};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runs of each command.
    #[arg(long, default_value_t = 200)]
    runs: usize,
}

/// One row of the report: a command against its baseline.
struct Row {
    name: String,
    baseline_name: String,
    command: Vec<String>,
    baseline: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !sh::is_root() {
        bail!("cargo xtask bench runs containers and needs root: run it as root");
    }
    sh::run(sh::cargo().args(["build", "--quiet", "--release", "--package", "ch01-chroot"]))?;
    let fixtures = fixtures::run()?;
    let release = sh::workspace().join("target").join("release");
    let rootfs = fixtures.rootfs.display().to_string();

    let rows = [Row {
        name: "ch01-chroot ROOTFS /bin/true".into(),
        baseline_name: "chroot ROOTFS /bin/true".into(),
        command: vec![
            release.join("ch01-chroot").display().to_string(),
            rootfs.clone(),
            "/bin/true".into(),
        ],
        baseline: vec!["chroot".into(), rootfs, "/bin/true".into()],
    }];

    println!(
        "{:<36} {:>10} {:>10}   median vs baseline",
        "command", "min", "median"
    );
    for row in rows {
        let (mut ours, mut base) = (Vec::new(), Vec::new());
        for _ in 0..args.runs {
            base.push(time(&row.baseline)?);
            ours.push(time(&row.command)?);
        }
        let (base_min, base_med) = stats(&mut base);
        let (min, med) = stats(&mut ours);
        println!(
            "{:<36} {:>10} {:>10}   baseline",
            row.baseline_name,
            ms(base_min),
            ms(base_med)
        );
        println!(
            "{:<36} {:>10} {:>10}   {:.2}x",
            row.name,
            ms(min),
            ms(med),
            med.as_secs_f64() / base_med.as_secs_f64()
        );
    }
    Ok(())
}

fn time(argv: &[String]) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let status = Command::new(Path::new(&argv[0]))
        .args(&argv[1..])
        .stdout(Stdio::null())
        .status()?;
    let elapsed = start.elapsed();
    if !status.success() {
        bail!("`{}` failed: {status}", argv.join(" "));
    }
    Ok(elapsed)
}

fn stats(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    (samples[0], samples[samples.len() / 2])
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}
