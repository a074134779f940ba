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
    sh::run(Command::new("mdbook").arg("build").arg(&book))
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
        let (fixed, n) = sync_page(&text).with_context(|| format!("in {}", page.display()))?;
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

/// The page with each transcript block replaced by its snapshot, and how many changed.
fn sync_page(text: &str) -> anyhow::Result<(String, usize)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len());
    let mut changed = 0;
    let mut i = 0;
    while i < lines.len() {
        out.push_str(lines[i]);
        let Some(rest) = lines[i].trim().strip_prefix(MARKER) else {
            i += 1;
            continue;
        };
        let snapshot = rest.trim_end_matches("-->").trim();
        let body = snapshot_body(&sh::workspace().join(snapshot))
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
