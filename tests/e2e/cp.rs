//! `cp` both ways, and the CVE-2018-15664 lesson: a symlink the container
//! holds never leads a copy outside the container's root.

use crate::{Sandbox, snapshot_text};

#[test]
fn cp_out_through_a_symlink_to_root_stays_inside_the_container() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-cp-out");
    let script = "ln -s / /escape; ln -s ../../../../../../../.. /up; echo inside > /etc/marker; mkdir -p /data/sub; echo a > /data/sub/a; ln -s sub/a /data/link";
    sandbox.ok(&["run", "--name", "tricky", "busybox", "sh", "-c", script]);
    let host = tempfile::tempdir().unwrap();
    let dest = |name: &str| host.path().join(name).display().to_string();

    sandbox.ok(&["cp", "tricky:/escape/etc/marker", &dest("via-escape")]);
    assert_eq!(
        std::fs::read_to_string(dest("via-escape")).unwrap(),
        "inside\n"
    );
    sandbox.ok(&["cp", "tricky:/up/etc/passwd", &dest("passwd")]);
    assert_eq!(
        std::fs::read(dest("passwd")).unwrap(),
        std::fs::read(testkit::fixtures::busybox_rootfs().join("etc/passwd")).unwrap(),
        "the container's /etc/passwd, not the host's"
    );
    // A symlink is copied as a symlink; a directory with what is in it.
    sandbox.ok(&["cp", "tricky:/data", &dest("data")]);
    assert_eq!(
        std::fs::read_link(dest("data/link")).unwrap().to_str(),
        Some("sub/a")
    );
    assert_eq!(std::fs::read_to_string(dest("data/sub/a")).unwrap(), "a\n");

    let mut settings = sandbox.redactions();
    settings.add_filter(
        &testkit::regex_escape(&host.path().display().to_string()),
        "[HOST]",
    );
    let transcript = sandbox.transcripts(&[
        &["cp", "tricky:/escape/nosuch", &dest("x")],
        &["cp", "tricky:/data", &dest("via-escape")],
        &["cp", "nosuch:/etc/passwd", &dest("x")],
        &["cp", "a", "b"],
    ]);
    snapshot_text("cp_out", transcript, settings);
}

#[test]
fn cp_into_a_container_lands_in_its_upper_dir_only() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-cp-in");
    sandbox.ok(&[
        "run",
        "--name",
        "target",
        "busybox",
        "sh",
        "-c",
        "ln -s / /escape; ln -s /etc /tmp/etc-link",
    ]);
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("greeting.txt");
    std::fs::write(&file, "hello from the host\n").unwrap();
    let dir = host.path().join("bundle");
    std::fs::create_dir_all(dir.join("inner")).unwrap();
    std::fs::write(dir.join("inner/x"), "x\n").unwrap();
    let unique = format!("dockyard-cp-{}", std::process::id());

    sandbox.ok(&["cp", file.to_str().unwrap(), "target:/tmp/"]);
    sandbox.ok(&[
        "cp",
        file.to_str().unwrap(),
        &format!("target:/escape/tmp/{unique}"),
    ]);
    sandbox.ok(&["cp", dir.to_str().unwrap(), "target:/srv"]);
    // A symlink to a directory at the destination is followed, inside the
    // container: the file lands in the container's /etc.
    sandbox.ok(&["cp", file.to_str().unwrap(), "target:/tmp/etc-link"]);
    assert!(
        !std::path::Path::new("/tmp").join(&unique).exists(),
        "the copy went to the host's /tmp"
    );
    let transcript = sandbox.transcripts(&[
        &["diff", "target"],
        &["commit", "target", "withfiles"],
        &[
            "run",
            "--rm",
            "withfiles",
            "sh",
            "-c",
            &format!("cat /tmp/greeting.txt /tmp/{unique} /srv/inner/x /etc/greeting.txt"),
        ],
    ]);
    let mut settings = sandbox.redactions();
    settings.add_filter(&unique, "[UNIQUE]");
    snapshot_text("cp_in", transcript, settings);
}

#[test]
fn cp_reaches_volumes_and_refuses_read_only_binds() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-cp-volumes");
    let host = tempfile::tempdir().unwrap();
    let shared = host.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("from-host"), "bound\n").unwrap();
    let ro_bind = format!("{}:/ro:ro", shared.display());
    sandbox.ok(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "-v",
        "store:/data",
        "-v",
        &ro_bind,
        "busybox",
        "sh",
        "-c",
        "echo kept > /data/kept; sleep 60",
    ]);
    // The file is in the volume, not in the container's upper dir: only a
    // copy that sees the volume mounted finds it.
    let out = host.path().join("kept");
    let out = out.to_str().unwrap();
    let mut tries = 0;
    while sandbox
        .cmd(&["cp", "keeper:/data/kept", out])
        .status()
        .unwrap()
        .code()
        != Some(0)
    {
        tries += 1;
        assert!(tries < 50, "the container never wrote /data/kept");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(out).unwrap(), "kept\n");
    let note = host.path().join("note");
    std::fs::write(&note, "from cp\n").unwrap();
    sandbox.ok(&["cp", note.to_str().unwrap(), "keeper:/data/"]);
    // Another container with the same volume sees what cp put there.
    let seen = sandbox.ok(&["run", "--rm", "-v", "store:/d", "busybox", "cat", "/d/note"]);
    assert_eq!(seen, "from cp\n");
    // `cp CONTAINER:PATH` to a new file of the host's; what it holds.
    let copied_out = |from: &str, name: &str| {
        let to = host.path().join(name);
        sandbox.ok(&["cp", from, to.to_str().unwrap()]);
        std::fs::read_to_string(to).unwrap()
    };
    assert_eq!(copied_out("keeper:/ro/from-host", "back"), "bound\n");

    let mut settings = sandbox.redactions();
    settings.add_filter(
        &testkit::regex_escape(&host.path().display().to_string()),
        "[HOST]",
    );
    let transcript = sandbox.transcripts(&[&["cp", note.to_str().unwrap(), "keeper:/ro/"]]);
    assert!(
        !shared.join("note").exists(),
        "cp wrote through a read-only bind"
    );
    // Stopped, its volume is still there for cp, as in docker.
    sandbox.ok(&["stop", "-t", "0", "keeper"]);
    assert_eq!(copied_out("keeper:/data/note", "again"), "from cp\n");
    snapshot_text("cp_read_only_bind", transcript, settings);
}
