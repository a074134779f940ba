//! Nothing lost: `kill -9` of `dockyard` in the middle of `import` and of
//! `commit`, at several moments, leaves stores that `images` and `ps -a` read.

use std::time::Duration;

use crate::Sandbox;

/// A tar of `files` files of 64 KiB each, big enough to be caught mid-way.
fn big_tar(files: usize) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let data = vec![7u8; 64 * 1024];
    for i in 0..files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        builder
            .append_data(&mut header, format!("data/file-{i}"), &data[..])
            .unwrap();
    }
    builder.into_inner().unwrap()
}

/// Starts `dockyard ARGS...`, kills it with SIGKILL after `delay`, and checks
/// the stores still read.
fn kill_after(sandbox: &Sandbox, args: &[&str], delay: Duration) {
    let mut child = sandbox
        .cmd(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL
    child.wait().unwrap();
    sandbox.ok(&["images"]);
    sandbox.ok(&["ps", "-a"]);
    sandbox.ok(&["system", "df"]);
}

const DELAYS_MS: [u64; 7] = [0, 2, 5, 10, 25, 60, 150];

#[test]
fn kill_9_during_import_leaves_readable_stores() {
    testkit::require_root!();
    let sandbox = Sandbox::new("e2e-crash-import");
    let tar = sandbox.root().join("big.tar");
    std::fs::write(&tar, big_tar(400)).unwrap();
    for ms in DELAYS_MS {
        kill_after(
            &sandbox,
            &["import", tar.to_str().unwrap(), "big"],
            Duration::from_millis(ms),
        );
    }
    sandbox.ok(&["import", tar.to_str().unwrap(), "big"]);
    assert!(sandbox.ok(&["images"]).contains("big "));
    // What the killed imports left (layers no image holds) goes with a prune.
    sandbox.ok(&["image", "prune", "-f"]);
    assert_eq!(layers(&sandbox), 1);
}

/// How many layers the sandbox's layer store holds.
fn layers(sandbox: &Sandbox) -> usize {
    std::fs::read_dir(sandbox.root().join("layers"))
        .unwrap()
        .filter(|e| {
            !e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count()
}

#[test]
fn kill_9_during_commit_leaves_readable_stores() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-crash-commit");
    sandbox.ok(&[
        "run",
        "--name",
        "fat",
        "busybox",
        "sh",
        "-c",
        "mkdir /data; for i in $(seq 200); do head -c 65536 /dev/urandom > /data/f$i; done",
    ]);
    for ms in DELAYS_MS {
        kill_after(
            &sandbox,
            &["commit", "fat", "snapshot"],
            Duration::from_millis(ms),
        );
    }
    sandbox.ok(&["commit", "fat", "snapshot"]);
    assert!(sandbox.ok(&["images"]).contains("snapshot "));
    assert!(sandbox.ok(&["ps", "-a"]).contains("fat"));
    sandbox.ok(&["image", "prune", "-f"]);
    assert_eq!(layers(&sandbox), 2, "busybox's layer and the commit's");
}
