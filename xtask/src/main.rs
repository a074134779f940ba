//! `cargo xtask`: everything around the code, written in Rust so it runs wherever
//! cargo does (matklad's cargo-xtask pattern). If `cargo xtask ci` passes on your
//! machine, CI passes.

mod bench;
mod bench_cpu;
mod bench_net;
mod bench_settle;
mod book;
mod demo;
mod fixtures;
mod lab;
mod setup;
mod sh;
mod test;

use clap::{Parser, Subcommand};

/// Set-up, fixtures, tests, book, labs and benchmarks for dockyard.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install what is missing: busybox-static, iptables, docker-registry, skopeo, tini, mdbook.
    Setup,
    /// Make target/fixtures/busybox-rootfs and busybox.tar (deterministic).
    Fixtures,
    /// Set up, build, and run a command in the busybox rootfs with --explain.
    Demo,
    /// The whole suite: set-up, fixtures, workspace tests, book, labs.
    Test,
    /// What CI runs: rustfmt check, clippy with warnings denied, then `test`.
    Ci,
    /// Build the book (or check it, or refresh its command transcripts).
    Book(book::Args),
    /// Course labs: list them, check your work, reset a lab to its starter.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Benchmarks, as ratios against a baseline measured in the same run.
    Bench(bench::Args),
}

fn main() -> std::process::ExitCode {
    match run(Cli::parse().task) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> anyhow::Result<()> {
    match task {
        Task::Setup => setup::run(),
        Task::Fixtures => fixtures::run().map(drop),
        Task::Demo => demo::run(),
        Task::Test => test::run(),
        Task::Ci => test::ci(),
        Task::Book(args) => book::run(args),
        Task::Lab(cmd) => lab::run(cmd),
        Task::Bench(args) => bench::run(args),
    }
}
