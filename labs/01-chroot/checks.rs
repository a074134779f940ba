//! Lab 01 checks: `ch01-chroot` as a user runs it. Each check compares a real run
//! with the snapshot the reference code produced (labs/01-chroot/snapshots/).
//! Run them with `cargo xtask lab check 01`; each check's hint is in lab.toml.

use std::process::Command;

fn check(name: &str, args: &[&str]) {
    testkit::require_root!();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ch01-chroot"));
    cmd.arg(testkit::fixtures::busybox_rootfs()).args(args);
    let _guard = testkit::redactions().bind_to_scope();
    insta::assert_snapshot!(name, testkit::transcript(&mut cmd));
}

#[test]
fn runs_a_command_inside_the_rootfs() {
    check("echo", &["/bin/echo", "hello from the rootfs"]);
}

#[test]
fn the_rootfs_is_the_new_root() {
    check("ls_root", &["/bin/ls", "/"]);
}

#[test]
fn the_working_directory_is_inside() {
    check("pwd", &["/bin/pwd"]);
}

#[test]
fn bare_names_are_found_in_path() {
    check("bare_name", &["echo", "found in PATH"]);
}

#[test]
fn missing_commands_exit_127() {
    check("missing", &["no-such-command"]);
}
