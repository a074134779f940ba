//! End-to-end scenarios: `dockyard` used as a person would use docker.
//! One module per theme; each grows as the engine does.

mod isolation;
mod run;

use std::process::Command;

use testkit::CgroupParent;

/// `dockyard ARGS...`, its containers' cgroups under the test's own `parent`.
fn dockyard(parent: &CgroupParent) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dockyard"));
    cmd.env("DOCKYARD_CGROUP_PARENT", parent.name());
    cmd
}

/// `dockyard run --rootfs BUSYBOX ARGS...`.
fn run_busybox(parent: &CgroupParent, args: &[&str]) -> Command {
    let mut cmd = dockyard(parent);
    cmd.args(["run", "--rootfs"])
        .arg(testkit::fixtures::busybox_rootfs())
        .args(args);
    cmd
}

/// Snapshots the transcript of `cmd` as `tests/e2e/snapshots/e2e__NAME.snap`.
fn snapshot(name: &str, cmd: &mut Command) {
    snapshot_text(name, testkit::transcript(cmd), testkit::redactions());
}

/// Snapshots `text` (transcripts joined, say) as `e2e__NAME.snap`, with `settings`'
/// redactions. Every scenario snapshots through here, so names do not depend on
/// the module a test is in.
fn snapshot_text(name: &str, text: String, settings: insta::Settings) {
    let _guard = settings.bind_to_scope();
    insta::assert_snapshot!(name, text);
}
