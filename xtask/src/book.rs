//! `cargo xtask book`: build the book, and keep its outputs true.
//!
//! Listings are `{{#include}}`d from the crates, so they cannot drift. Outputs
//! cannot either: where a page shows a command's output it says which snapshot
//! it comes from,
//!
//! ````text
//! <!-- transcript: chapters/01-chroot/tests/snapshots/cli__echo_hi.snap -->
//! ```console
//! ...filled by `cargo xtask book sync`...
//! ```
//! ````
//!
//! and `cargo xtask test` fails when a block differs from its snapshot.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::sh;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// Open the built book in a browser.
    #[arg(long)]
    open: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Copy each snapshot transcript into the block the book shows it in.
    Sync,
    /// Check the transcripts, build the book, and test its Rust snippets.
    Check,
}

const MARKER: &str = "<!-- transcript: ";

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Some(Action::Sync) => {
            let changed = transcripts(Mode::Fix)?;
            eprintln!("book: {changed} transcript block(s) updated");
            Ok(())
        }
        Some(Action::Check) => check(),
        None => {
            build()?;
            let index = book_dir().join("book").join("index.html");
            println!("The book is at {}", index.display());
            if args.open {
                sh::run(Command::new("xdg-open").arg(&index))?;
            }
            Ok(())
        }
    }
}

/// What `cargo xtask test` runs: transcripts match, the book builds, snippets pass.
pub fn check() -> anyhow::Result<()> {
    let stale = transcripts(Mode::Check)?;
    if stale > 0 {
        bail!(
            "{stale} transcript block(s) in the book differ from their snapshots: run `cargo xtask book sync`"
        );
    }
    build()?;
    sh::run(Command::new("mdbook").arg("test").arg(book_dir()))
}

fn book_dir() -> PathBuf {
    sh::workspace().join("book")
}

fn build() -> anyhow::Result<()> {
    let book = book_dir();
    // mdbook-mermaid's script files are generated, not committed.
    if !book.join("mermaid.min.js").is_file() || !book.join("mermaid-init.js").is_file() {
        sh::run(Command::new("mdbook-mermaid").arg("install").arg(&book))?;
    }
    check_includes()?;
    // mdbook logs a missing include as an ERROR but still exits 0: treat it as a failure.
    let mut cmd = Command::new("mdbook");
    cmd.arg("build").arg(&book);
    eprintln!("$ {}", sh::show(&cmd));
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", sh::show(&cmd)))?;
    let log = String::from_utf8_lossy(&out.stderr);
    eprint!("{log}");
    if !out.status.success() || log.lines().any(|l| l.contains("ERROR")) {
        bail!("`{}` failed", sh::show(&cmd));
    }
    Ok(())
}

/// Every `{{#include FILE:ANCHOR}}` must name a file that exists and an anchor
/// it has (mdbook silently includes nothing for a missing anchor).
fn check_includes() -> anyhow::Result<()> {
    for page in markdown_files(&book_dir().join("src"))? {
        let text = fs::read_to_string(&page)?;
        for (n, line) in text.lines().enumerate() {
            let Some(start) = line.find("{{#include ") else {
                continue;
            };
            let spec = line[start + "{{#include ".len()..]
                .split("}}")
                .next()
                .unwrap_or_default();
            let (file, anchor) = spec.trim().split_once(':').unwrap_or((spec.trim(), ""));
            let path = page.parent().unwrap_or(Path::new(".")).join(file);
            let where_ = || format!("{}:{}", page.display(), n + 1);
            let source = fs::read_to_string(&path).with_context(|| {
                format!("{}: included file {} is missing", where_(), path.display())
            })?;
            let is_anchor =
                !anchor.is_empty() && !anchor.chars().next().is_some_and(|c| c.is_ascii_digit());
            if is_anchor
                && !source
                    .lines()
                    .any(|l| l.trim().ends_with(&format!("ANCHOR: {anchor}")))
            {
                bail!("{}: {} has no `ANCHOR: {anchor}`", where_(), path.display());
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Check,
    Fix,
}

/// Compares (or rewrites) every transcript block; returns how many differ.
fn transcripts(mode: Mode) -> anyhow::Result<usize> {
    let mut differ = 0;
    for page in markdown_files(&book_dir().join("src"))? {
        let text = fs::read_to_string(&page)?;
        let (fixed, n) =
            sync_page(&text, &sh::workspace()).with_context(|| format!("in {}", page.display()))?;
        if n > 0 {
            differ += n;
            match mode {
                Mode::Check => {
                    eprintln!("book: {} has {n} stale transcript block(s)", page.display())
                }
                Mode::Fix => fs::write(&page, fixed)?,
            }
        }
    }
    Ok(differ)
}

/// The page with each transcript block replaced by its snapshot (paths relative
/// to `root`), and how many blocks changed.
fn sync_page(text: &str, root: &Path) -> anyhow::Result<(String, usize)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = 0;
    let mut in_fence = false;
    let mut i = 0;
    while i < lines.len() {
        out.push_str(lines[i]);
        if lines[i].trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        // A marker inside a code block is an example of one, not a marker.
        let marker = if in_fence {
            None
        } else {
            lines[i].trim().strip_prefix(MARKER)
        };
        let Some(rest) = marker else {
            i += 1;
            continue;
        };
        let snapshot = rest.trim_end_matches("-->").trim();
        let body = snapshot_body(&root.join(snapshot))
            .with_context(|| format!("line {}: transcript {snapshot}", i + 1))?;
        let open = i + 1;
        if lines.get(open).map(|l| l.trim()) != Some("```console") {
            bail!(
                "line {}: a transcript marker must be followed by a ```console block",
                i + 1
            );
        }
        let close = (open + 1..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .with_context(|| format!("line {}: the ```console block is never closed", open + 1))?;
        let current: String = lines[open + 1..close].concat();
        if current != body {
            changed += 1;
        }
        out.push_str(lines[open]);
        out.push_str(&body);
        out.push_str(lines[close]);
        i = close + 1;
    }
    Ok((out, changed))
}

/// What an insta snapshot recorded: everything after its `---` header.
fn snapshot_body(path: &Path) -> anyhow::Result<String> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut parts = text.splitn(3, "---\n");
    match (parts.next(), parts.next(), parts.next()) {
        (Some(""), Some(_header), Some(body)) => {
            let mut body = body.trim_end_matches('\n').to_string();
            body.push('\n');
            Ok(body)
        }
        _ => bail!("{} is not an insta snapshot", path.display()),
    }
}

fn markdown_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(markdown_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::sync_page;

    /// A temporary directory holding `s.snap` with `body`.
    fn root_with_snapshot(body: &str) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(
            root.path().join("s.snap"),
            format!("---\nsource: x\n---\n{body}"),
        )
        .unwrap();
        root
    }

    #[test]
    fn blocks_are_filled_from_their_snapshot() {
        let root = root_with_snapshot("$ echo hi\nhi\n");
        let page = "text\n<!-- transcript: s.snap -->\n```console\nold\n```\nmore\n";
        let (fixed, changed) = sync_page(page, root.path()).unwrap();
        assert_eq!(changed, 1);
        assert_eq!(
            fixed,
            "text\n<!-- transcript: s.snap -->\n```console\n$ echo hi\nhi\n```\nmore\n"
        );
        assert_eq!(
            sync_page(&fixed, root.path()).unwrap().1,
            0,
            "an up-to-date page has nothing to change"
        );
    }

    #[test]
    fn markers_inside_code_blocks_are_examples() {
        let root = root_with_snapshot("x\n");
        let page = "```text\n<!-- transcript: missing.snap -->\n```\n";
        assert_eq!(sync_page(page, root.path()).unwrap(), (page.to_string(), 0));
    }

    #[test]
    fn a_marker_without_a_console_block_is_an_error() {
        let root = root_with_snapshot("x\n");
        let err = sync_page("<!-- transcript: s.snap -->\ntext\n", root.path()).unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
