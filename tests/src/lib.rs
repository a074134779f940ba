//! The test kit: what every crate's tests share.
//!
//! - [`fixtures`]: where `cargo xtask fixtures` put the busybox rootfs.
//! - [`require_root!`]: privileged tests run as root and are *counted*: each one
//!   records whether it ran or was skipped, so `cargo xtask test` can print the
//!   totals and fail when run as root with anything skipped.
//! - [`redactions`]: insta filters for what varies between runs (paths, PIDs).

pub mod fixtures;
mod privileged;

pub use privileged::record_privileged;

/// Insta settings that replace what varies between machines and runs with stable
/// placeholders: the workspace path becomes `[WORKSPACE]`, the busybox rootfs
/// `[ROOTFS]`. Bind the result for the duration of the assertions:
/// `let _guard = testkit::redactions().bind_to_scope();`
pub fn redactions() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let rootfs = fixtures::busybox_rootfs_path();
    settings.add_filter(&regex_escape(&rootfs.display().to_string()), "[ROOTFS]");
    settings.add_filter(&regex_escape(&fixtures::workspace_root().display().to_string()), "[WORKSPACE]");
    settings.add_filter(r"\bpid \d+\b", "pid [PID]");
    settings.add_filter(r"\b\d+ ended\b", "[PID] ended");
    settings
}

fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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
        if !$crate::record_privileged(module_path!()) {
            return;
        }
    };
}
