//! `cargo xtask lab`: the course labs.
//!
//! A lab works on the files its `lab.toml` lists, in one chapter crate or
//! several (lab 09a: the supervisor in the shim crate and `exec` in the
//! engine's). The reference code marks the parts a student writes with
//! `// LAB: <hint>` ... `// LAB: END`; the starter is generated from it by
//! replacing each region with the hint and a `todo!()`, so starter and
//! reference can never drift. Checks are tests (`labs/NN-*/checks.rs`, run as
//! one package's `lab` test target) whose expected outputs are insta
//! snapshots; each check's hint lives in `lab.toml`. `cargo xtask test` proves
//! that every check passes on the reference and fails on the untouched
//! starter, and that every file with a region belongs to a lab.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::{fixtures, sh};

#[derive(Debug, clap::Subcommand)]
pub enum LabCommand {
    /// List the labs.
    List,
    /// Run a lab's checks against your code and show a hint for each that fails.
    Check {
        /// Lab number, e.g. 01.
        lab: String,
    },
    /// Replace the lab's parts of the chapter crate with the starter (todo!s and hints).
    Reset {
        /// Lab number, e.g. 01.
        lab: String,
    },
}

/// `labs/NN-name/lab.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    pub title: String,
    /// The package whose `lab` test target is the lab's checks.rs.
    pub package: String,
    /// The files with the student's parts (`// LAB:` regions), relative to
    /// the workspace: what `reset` rewrites and `git checkout` restores.
    pub files: Vec<PathBuf>,
    /// The book chapter that teaches what the lab asks for.
    pub book: PathBuf,
    /// About how long the lab takes, for instructors.
    pub minutes: u32,
    #[serde(rename = "check")]
    pub checks: Vec<Check>,
    #[serde(skip)]
    pub dir: PathBuf,
}

/// One check: a test in `checks.rs` and what to tell a student when it fails.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub hint: String,
}

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed,
    /// Needed root and did not have it.
    Skipped,
}

pub fn run(cmd: LabCommand) -> anyhow::Result<()> {
    match cmd {
        LabCommand::List => {
            for lab in all()? {
                println!(
                    "{}  {} ({} checks, about {} minutes)",
                    lab.number(),
                    lab.title,
                    lab.checks.len(),
                    lab.minutes
                );
            }
            println!(
                "\nStart one with `cargo xtask lab reset NN`, check it with `cargo xtask lab check NN`."
            );
            Ok(())
        }
        LabCommand::Check { lab } => {
            fixtures::run()?;
            let lab = find(&lab)?;
            let results = run_checks(&lab, &sh::workspace(), None)?;
            report(&lab, &results)
        }
        LabCommand::Reset { lab } => reset(&find(&lab)?),
    }
}

impl Lab {
    /// "01" for labs/01-chroot.
    pub fn number(&self) -> String {
        let name = self.dir.file_name().unwrap_or_default().to_string_lossy();
        name.split('-').next().unwrap_or_default().to_string()
    }

    /// The lab's files, space-separated, as `git checkout` takes them.
    pub fn files_shown(&self) -> String {
        let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        files.join(" ")
    }
}

/// Every lab under labs/, in order.
pub fn all() -> anyhow::Result<Vec<Lab>> {
    let mut labs = Vec::new();
    let mut dirs: Vec<PathBuf> = fs::read_dir(sh::workspace().join("labs"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("lab.toml").is_file())
        .collect();
    dirs.sort();
    for dir in dirs {
        let path = dir.join("lab.toml");
        let text = fs::read_to_string(&path)?;
        let mut lab: Lab = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid lab", path.display()))?;
        lab.dir = dir;
        labs.push(lab);
    }
    Ok(labs)
}

fn find(number: &str) -> anyhow::Result<Lab> {
    let wanted = format!("{:0>2}", number);
    all()?
        .into_iter()
        .find(|lab| lab.number() == wanted)
        .with_context(|| format!("no lab {number}: `cargo xtask lab list` shows the labs"))
}

/// Runs the lab's checks in the workspace at `root` and returns each check's outcome.
/// `target_dir` keeps a starter copy's build apart from the real one.
pub fn run_checks(
    lab: &Lab,
    root: &Path,
    target_dir: Option<&Path>,
) -> anyhow::Result<BTreeMap<String, Outcome>> {
    let log = tempfile_path("lab-privileged");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root)
        .args([
            "test",
            "--package",
            &lab.package,
            "--test",
            "lab",
            "--",
            "--color",
            "never",
        ])
        .env("DOCKYARD_PRIVILEGED_LOG", &log)
        .env("DOCKYARD_FIXTURES", fixtures::dir())
        .env("INSTA_UPDATE", "no")
        .env("CI", "true");
    if let Some(dir) = target_dir {
        cmd.env("CARGO_TARGET_DIR", dir);
    }
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", sh::show(&cmd)))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let skipped = fs::read_to_string(&log).unwrap_or_default();
    let _ = fs::remove_file(&log);

    let mut results = BTreeMap::new();
    for line in stdout.lines() {
        // libtest prints `test NAME ... ok` / `... FAILED` per test.
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, verdict)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let outcome = match verdict.trim() {
            "ok" if skipped
                .lines()
                .any(|l| l.starts_with("skipped ") && l.ends_with(&format!(": {name}"))) =>
            {
                Outcome::Skipped
            }
            "ok" => Outcome::Passed,
            "FAILED" => Outcome::Failed,
            _ => continue,
        };
        results.insert(name.to_string(), outcome);
    }
    if results.is_empty() {
        bail!(
            "the checks of lab {} did not run (does the crate build?):\n{}",
            lab.number(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed: Vec<&str> = lab.checks.iter().map(|c| c.name.as_str()).collect();
    let ran: Vec<&str> = results.keys().map(String::as_str).collect();
    if listed.iter().collect::<std::collections::BTreeSet<_>>() != ran.iter().collect() {
        bail!(
            "lab {}: lab.toml lists checks {listed:?} but checks.rs has {ran:?}",
            lab.number()
        );
    }
    Ok(results)
}

fn report(lab: &Lab, results: &BTreeMap<String, Outcome>) -> anyhow::Result<()> {
    println!("lab {}: {}", lab.number(), lab.title);
    for check in &lab.checks {
        match results[&check.name] {
            Outcome::Passed => println!("  passed   {}", check.name),
            Outcome::Skipped => println!("  SKIPPED  {} (needs root: run as root)", check.name),
            Outcome::Failed => {
                println!("  FAILED   {}\n           hint: {}", check.name, check.hint)
            }
        }
    }
    let passed = results.values().filter(|o| **o == Outcome::Passed).count();
    println!("{passed}/{} checks passed", results.len());
    if passed == results.len() {
        println!(
            "Lab {} done. The book chapter is {}.",
            lab.number(),
            lab.book.display()
        );
        Ok(())
    } else {
        bail!("lab {} is not done yet", lab.number())
    }
}

/// Rewrites the lab's regions as the starter.
fn reset(lab: &Lab) -> anyhow::Result<()> {
    let files = apply_starter(&sh::workspace(), &lab.files)?;
    if files.is_empty() {
        println!(
            "lab {}: already at the starter (no `// LAB: END` regions left)",
            lab.number()
        );
    }
    for file in &files {
        println!("reset {}", file.display());
    }
    println!(
        "\nLab {}: {}\nRead labs/{}/README.md, fill in each todo!(), then run `cargo xtask lab check {}`.\n\
         The reference is in git: `git checkout {}` brings it back.",
        lab.number(),
        lab.title,
        lab.dir.file_name().unwrap_or_default().to_string_lossy(),
        lab.number(),
        lab.files_shown()
    );
    Ok(())
}

/// Applies [`starter`] to each of `files` (relative to the workspace at
/// `root`); returns the files changed.
pub fn apply_starter(root: &Path, files: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut changed = Vec::new();
    for file in files {
        let file = root.join(file);
        let text =
            fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let starter = starter(&text).with_context(|| format!("in {}", file.display()))?;
        if starter != text {
            fs::write(&file, starter)?;
            changed.push(file);
        }
    }
    Ok(changed)
}

fn rust_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The starter version of one source file: each region
///
/// ```text
///     // LAB: what to write
///     ...reference code...
///     // LAB: END
/// ```
///
/// becomes `// TODO: what to write` and a `todo!()` at the same indentation
/// (so the starter of a starter is itself). Text outside the regions is kept
/// byte for byte.
pub fn starter(source: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(source.len());
    let mut open: Option<(usize, &str)> = None;
    for (index, line) in source.split_inclusive('\n').enumerate() {
        let trimmed = line.trim();
        match (open, trimmed.strip_prefix("// LAB:").map(str::trim)) {
            (None, Some("END")) => bail!("line {}: `// LAB: END` without a start", index + 1),
            (None, Some(hint)) => {
                open = Some((index, hint));
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push_str(&format!("{indent}// TODO: {hint}\n"));
                out.push_str(&format!(
                    "{indent}todo!(\"lab: {}\")\n",
                    hint.replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        // todo!()'s argument is a format string.
                        .replace('{', "{{")
                        .replace('}', "}}")
                ));
            }
            (Some(_), Some("END")) => open = None,
            (Some((start, _)), Some(_)) => bail!(
                "line {}: a LAB region opened on line {} is not closed",
                index + 1,
                start + 1
            ),
            (Some(_), None) => {}
            (None, None) => out.push_str(line),
        }
    }
    if let Some((start, _)) = open {
        bail!(
            "line {}: a LAB region is never closed with `// LAB: END`",
            start + 1
        );
    }
    Ok(out)
}

/// Whether a student has reset this lab and not finished it: its files still
/// have the starter's `todo!()`s (then the rest of the suite cannot pass).
pub fn in_progress(lab: &Lab) -> anyhow::Result<bool> {
    for file in &lab.files {
        let file = sh::workspace().join(file);
        let text =
            fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        if text.contains("todo!(\"lab: ") {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Every file under chapters/ with a `// LAB:` region must be listed by a
/// lab: `reset` rewrites only the files a lab lists, so a region anywhere
/// else would stay reference code in the starter.
pub fn check_every_region_is_listed(labs: &[Lab]) -> anyhow::Result<()> {
    let work = sh::workspace();
    let listed: Vec<PathBuf> = labs
        .iter()
        .flat_map(|lab| lab.files.iter().map(|f| work.join(f)))
        .collect();
    for file in rust_files(&work.join("chapters"))? {
        let has_region = fs::read_to_string(&file)?
            .lines()
            .any(|line| line.trim() == "// LAB: END");
        if has_region && !listed.contains(&file) {
            bail!(
                "{} has `// LAB:` regions but no labs/*/lab.toml lists it in `files`",
                file.display()
            );
        }
    }
    Ok(())
}

/// Proves that every check of `lab` fails on the starter: copies the workspace
/// (without target/), applies the starter, and runs the checks there.
pub fn verify_starter_fails(lab: &Lab) -> anyhow::Result<()> {
    let work = sh::workspace();
    let copy = work.join("target").join("lab-starter").join(lab.number());
    if copy.exists() {
        fs::remove_dir_all(&copy)?;
    }
    fs::create_dir_all(&copy)?;
    let entries = [
        "Cargo.toml",
        "Cargo.lock",
        ".cargo",
        "chapters",
        "labs",
        "tests",
        "xtask",
    ];
    sh::run(
        Command::new("cp")
            .arg("-a")
            .args(entries.map(|e| work.join(e)))
            .arg(&copy),
    )?;
    let changed = apply_starter(&copy, &lab.files)?;
    for file in &lab.files {
        if !changed.contains(&copy.join(file)) {
            bail!(
                "lab {}: {} has no `// LAB:` regions, so its starter is the reference",
                lab.number(),
                file.display()
            );
        }
    }
    // A target dir of its own: the starter's binaries must never replace the real ones.
    let results = run_checks(
        lab,
        &copy,
        Some(&work.join("target").join("lab-starter-target")),
    )?;
    if results.values().all(|o| *o == Outcome::Skipped) {
        eprintln!(
            "lab {}: SKIPPED checking that the starter fails: its checks need root",
            lab.number()
        );
        return Ok(());
    }
    let passing: Vec<&String> = results
        .iter()
        .filter(|(_, o)| **o != Outcome::Failed)
        .map(|(n, _)| n)
        .collect();
    if !passing.is_empty() {
        bail!(
            "lab {}: these checks do not fail on the untouched starter: {passing:?}",
            lab.number()
        );
    }
    eprintln!(
        "lab {}: all {} checks fail on the starter, as they should",
        lab.number(),
        results.len()
    );
    Ok(())
}

fn tempfile_path(prefix: &str) -> PathBuf {
    let dir = sh::workspace().join("target").join("tmp");
    let _ = fs::create_dir_all(&dir);
    dir.join(format!("{prefix}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::starter;

    #[test]
    fn regions_become_hint_and_todo() {
        let source = "fn f() -> u32 {\n    // LAB: return \"one\"\n    1\n    // LAB: END\n}\n";
        assert_eq!(
            starter(source).unwrap(),
            "fn f() -> u32 {\n    // TODO: return \"one\"\n    todo!(\"lab: return \\\"one\\\"\")\n}\n"
        );
    }

    #[test]
    fn every_region_in_the_chapters_is_a_lab_file_and_every_lab_file_has_one() {
        let labs = super::all().unwrap();
        super::check_every_region_is_listed(&labs).unwrap();
        for lab in &labs {
            for file in &lab.files {
                let text = std::fs::read_to_string(crate::sh::workspace().join(file)).unwrap();
                assert!(
                    text.contains("// LAB: END"),
                    "lab {} lists {}, which has no region",
                    lab.number(),
                    file.display()
                );
            }
        }
    }

    #[test]
    fn braces_in_a_hint_are_not_format_arguments() {
        assert_eq!(
            starter("// LAB: open /proc/{pid}\nx\n// LAB: END\n").unwrap(),
            "// TODO: open /proc/{pid}\ntodo!(\"lab: open /proc/{{pid}}\")\n"
        );
    }

    #[test]
    fn the_starter_of_a_starter_is_itself() {
        let once = starter("// LAB: x\ny\n// LAB: END\nz\n").unwrap();
        assert_eq!(starter(&once).unwrap(), once);
    }

    #[test]
    fn unbalanced_regions_are_errors_with_a_line() {
        assert!(
            starter("// LAB: x\n")
                .unwrap_err()
                .to_string()
                .contains("line 1")
        );
        assert!(
            starter("a\n// LAB: END\n")
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
    }
}
