//! Counting privileged tests, so a skip can never pass silently.

use std::io::Write;

/// Where each privileged test appends `ran NAME` or `skipped NAME`. `cargo xtask test`
/// sets it and reads it back; when unset (a plain `cargo test`) nothing is recorded.
pub const LOG_VAR: &str = "DOCKYARD_PRIVILEGED_LOG";

/// Records that a privileged test started and returns whether it may run (we are root).
/// `target` names the test binary (`package/target`); libtest names each test's
/// thread after the test. Call it through [`require_root!`](crate::require_root!).
pub fn record_privileged(target: &str) -> bool {
    let thread = std::thread::current();
    let test = thread.name().filter(|n| *n != "main").unwrap_or("?");
    let name = format!("{target}: {test}");
    let is_root = nix::unistd::geteuid().is_root();
    if !is_root {
        eprintln!("SKIPPED (needs root): {name}: run the tests as root to include it");
    }
    if let Some(log) = std::env::var_os(LOG_VAR) {
        let line = format!("{} {name}\n", if is_root { "ran" } else { "skipped" });
        // O_APPEND writes of one short line are atomic, so parallel tests may share the file.
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap_or_else(|err| panic!("cannot open {}: {err}", log.display()));
        file.write_all(line.as_bytes())
            .expect("record privileged test");
    }
    is_root
}
