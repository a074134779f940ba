//! The test kit: what every crate's tests share.
//!
//! - [`fixtures`]: where `cargo xtask fixtures` put the busybox rootfs.
//! - [`require_root!`]: privileged tests run as root and are *counted*: each one
//!   records whether it ran or was skipped, so `cargo xtask test` can print the
//!   totals and fail when run as root with anything skipped.
//! - [`transcript`]: a command and its output as a terminal shows them, for
//!   snapshots that the book shows too.
//! - [`redactions`]: insta filters for what varies between runs (paths, PIDs).
//! - [`CgroupParent`]: a test's own cgroup parent, removed with all under it.
//! - [`OutsideHost`]: a fake host outside the machine, in a namespace of its own.

mod cgroups;
pub mod fixtures;
mod host_secret;
mod outside;
mod privileged;
mod transcript;

pub use cgroups::{Cgroup1Mount, Cgroup2Mount, CgroupParent};
pub use host_secret::HostSecret;
pub use outside::OutsideHost;
pub use privileged::record_privileged;
pub use transcript::{transcript, transcript_of};

/// Insta settings that replace what varies between machines and runs with stable
/// placeholders: the fixtures directory reads `target/fixtures` (as a reader in
/// the workspace would type it), the workspace path `[WORKSPACE]`, PIDs `[PID]`. Bind the result for the duration of the assertions:
/// `let _guard = testkit::redactions().bind_to_scope();`
pub fn redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        &regex_escape(&fixtures::dir().display().to_string()),
        "target/fixtures",
    );
    settings.add_filter(
        &regex_escape(&fixtures::workspace_root().display().to_string()),
        "[WORKSPACE]",
    );
    settings.add_filter(r"\bpid \d+\b", "pid [PID]");
    settings.add_filter(r"\b\d+ ended\b", "[PID] ended");
    settings
}

/// Escapes `text` so an insta filter (a regex) matches it literally.
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_ascii_alphanumeric() {
                vec![c]
            } else {
                vec!['\\', c]
            }
        })
        .collect()
}

/// Skips the calling test, loudly and counted, unless it runs as root.
///
/// ```ignore
/// #[test]
/// fn chroot_runs_echo() {
///     testkit::require_root!();
///     // ... the privileged part
/// }
/// ```
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::record_privileged(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_CRATE_NAME")
        )) {
            return;
        }
    };
}
