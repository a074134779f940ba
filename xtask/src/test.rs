//! `cargo xtask test` (the whole suite) and `cargo xtask ci` (format, lints, suite).

use std::fs;

use anyhow::bail;

use crate::{book, fixtures, lab, setup, sh};

/// Set-up, fixtures, every crate's tests, the book, and both sides of every lab.
pub fn run() -> anyhow::Result<()> {
    let labs = lab::all()?;
    for lab in &labs {
        if lab::in_progress(lab)? {
            bail!(
                "lab {} is in progress in {} (its todo!()s would fail the suite): finish it \
                 (`cargo xtask lab check {}`) or restore the reference with `git checkout {}`",
                lab.number(),
                lab.files_shown(),
                lab.number(),
                lab.files_shown()
            );
        }
    }
    lab::check_every_region_is_listed(&labs)?;
    setup::run()?;
    fixtures::run()?;

    let log = sh::workspace().join("target").join("privileged-tests.log");
    let _ = fs::remove_file(&log);
    sh::run(
        sh::cargo()
            .args(["test", "--workspace", "--no-fail-fast"])
            .env("DOCKYARD_PRIVILEGED_LOG", &log)
            // Missing or different snapshots fail; they are never written here.
            .env("INSTA_UPDATE", "no")
            .env("CI", "true"),
    )?;

    let labs_page = fs::read_to_string(sh::workspace().join("book/src/labs.md"))?;
    for lab in lab::all()? {
        // The reference side ran above (each lab is its crate's `lab` test target).
        lab::verify_starter_fails(&lab)?;
        if !labs_page.contains(&format!("\n| {} ", lab.number())) {
            bail!(
                "lab {} is missing from the table in book/src/labs.md",
                lab.number()
            );
        }
    }
    book::check()?;
    privileged_summary(&fs::read_to_string(&log).unwrap_or_default())
}

/// Prints how many privileged tests ran and were skipped. As root nothing may be
/// skipped: a skip there means a test thinks it lacks a privilege it has.
fn privileged_summary(log: &str) -> anyhow::Result<()> {
    let ran = log.lines().filter(|l| l.starts_with("ran ")).count();
    let skipped: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("skipped "))
        .collect();
    eprintln!("\nprivileged tests: {ran} ran, {} skipped", skipped.len());
    if skipped.is_empty() {
        if ran == 0 {
            bail!("no privileged test reported in: the privileged-test log was not written");
        }
        return Ok(());
    }
    for name in &skipped {
        eprintln!("  SKIPPED {name}");
    }
    if sh::is_root() {
        bail!(
            "running as root, yet {} privileged test(s) were skipped",
            skipped.len()
        );
    }
    eprintln!(
        "(not root: run `cargo xtask test` as root to run them; CI does, and fails on any skip)"
    );
    Ok(())
}

/// What CI runs: the format check, clippy with warnings denied, then the suite.
/// `.ci/run` runs the same commands (the suite first); keep the two in step.
pub fn ci() -> anyhow::Result<()> {
    sh::run(sh::cargo().args(["fmt", "--all", "--check"]))?;
    sh::run(sh::cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    supervisor_program()?;
    run()
}

/// The supervisor program's package (`chapters/09-engine/supervisor/bin`) is
/// a workspace of its own (it needs `panic = "abort"`), so `--workspace` and
/// `--all` pass it by: it is formatted and linted here, by its manifest, as
/// the engine's build script builds it (`--release`). Its target directory
/// is one under ours, not one in the source tree.
fn supervisor_program() -> anyhow::Result<()> {
    const MANIFEST: &str = "chapters/09-engine/supervisor/bin/Cargo.toml";
    sh::run(sh::cargo().args(["fmt", "--manifest-path", MANIFEST, "--check"]))?;
    let target = sh::target_dir().join("supervisor-bin");
    sh::run(
        sh::cargo()
            .args([
                "clippy",
                "--manifest-path",
                MANIFEST,
                "--release",
                "--target-dir",
            ])
            .arg(target)
            .args(["--", "-D", "warnings"]),
    )
}
