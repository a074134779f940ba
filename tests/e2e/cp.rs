//! `cp` both ways, and the CVE-2018-15664 lesson: a symlink the container
//! holds never leads a copy outside the container's root.

use std::io::{Read, Write};

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

#[test]
fn cp_streams_tar_archives_both_ways_and_refuses_one_that_leaves() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-cp-tar");
    let script = "mkdir -p /d/sub; echo a > /d/sub/a; ln -s /etc /d/link";
    sandbox.ok(&["run", "--name", "box", "busybox", "sh", "-c", script]);
    // Out: `cp CTR:/d -` is a tar of d/, symlinks kept as symlinks.
    let out = sandbox.cmd(&["cp", "box:/d", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut entries: Vec<String> = tar::Archive::new(out.stdout.as_slice())
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| format!(" -> {}", l.display()));
            format!(
                "{}{}",
                e.path().unwrap().display(),
                link.unwrap_or_default()
            )
        })
        .collect();
    entries.sort();
    assert_eq!(entries, ["d/", "d/link -> /etc", "d/sub", "d/sub/a"]);

    // In: `cp - CTR:/d` unpacks a tar from stdin into the directory.
    let archive = |build: &dyn Fn(&mut tar::Builder<Vec<u8>>)| {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o640);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        b.append_data(&mut header, path, data).unwrap();
    };
    let unpack = |tar: Vec<u8>| {
        let mut child = sandbox
            .cmd(&["cp", "-", "box:/d"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&tar).unwrap();
        child.wait_with_output().unwrap()
    };
    let done = unpack(archive(&|b| file(b, "new/hello", b"from a tar\n")));
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    // Back out, with its mode.
    let cat = sandbox
        .cmd(&["cp", "box:/d/new/hello", "-"])
        .output()
        .unwrap();
    assert!(cat.status.success());
    let mut read = tar::Archive::new(cat.stdout.as_slice());
    let mut entry = read.entries().unwrap().next().unwrap().unwrap();
    assert_eq!(entry.header().mode().unwrap() & 0o777, 0o640);
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    assert_eq!(text, "from a tar\n");

    // A symlink in the archive that leads out, then an entry through it.
    let unique = format!("dockyard-cp-tar-{}", std::process::id());
    let evil = archive(&|b| {
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        link.set_uid(0);
        link.set_gid(0);
        link.set_mtime(0);
        b.append_link(&mut link, "up", "/").unwrap();
        file(b, &format!("up/tmp/{unique}"), b"escaped\n");
    });
    let refused = unpack(evil);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("outside of destination"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(
        !std::path::Path::new("/tmp").join(&unique).exists(),
        "the archive wrote outside the container"
    );
}
