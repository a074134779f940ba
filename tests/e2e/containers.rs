//! Containers on layers: `run IMAGE`, `create`, `ps`, `rm`, `container prune`,
//! `diff`, `commit`, `export`, `system df`.

use std::collections::BTreeMap;
use std::io::Read;

use assert_cmd::Command;

use crate::{Sandbox, assert_aligned, snapshot_text};

#[test]
fn diff_commit_and_run_the_committed_image() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-commit");
    let script = "echo new > /added; echo more >> /etc/passwd; rm /etc/group; mkdir /d; touch /d/f; hostname";
    let hostname = sandbox.ok(&["run", "--name", "changer", "busybox", "sh", "-c", script]);
    let id = crate::short_id(&hostname);
    assert!(
        sandbox.ok(&["ps", "-a", "-q"]).contains(&id),
        "the hostname is the container's short ID"
    );
    let transcript = sandbox.transcripts(&[
        &["diff", "changer"],
        &[
            "commit",
            "-m",
            "add a file",
            "--change",
            r#"CMD ["cat", "/added"]"#,
            "--change",
            "LABEL stage=test",
            "--change",
            "EXPOSE 8080 53/udp",
            "--change",
            "VOLUME /data",
            "--change",
            "STOPSIGNAL SIGQUIT",
            "changer",
            "committed:v1",
        ],
        &["commit", "--change", "RUN true", "changer", "refused"],
        &["run", "--rm", "committed:v1"],
        &[
            "run",
            "--rm",
            "committed:v1",
            "sh",
            "-c",
            "cat /etc/group 2>&1; tail -n1 /etc/passwd; ls /d",
        ],
        &["history", "committed:v1"],
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Cmd}} {{len .RootFS.Layers}}",
            "committed:v1",
        ],
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Labels}} {{json .Config.ExposedPorts}} {{json .Config.Volumes}} {{.Config.StopSignal}}",
            "committed:v1",
        ],
        &["ps", "-a"],
    ]);
    snapshot_text("commit", transcript, sandbox.redactions());
    assert_aligned(&sandbox.ok(&["history", "committed:v1"]));
    // Each step of the history names the local image it made, as docker's does.
    let ids = format!(
        "{}{}",
        sandbox.ok(&["images", "-q", "committed:v1"]),
        sandbox.ok(&["images", "-q", "busybox"])
    );
    assert_eq!(sandbox.ok(&["history", "-q", "committed:v1"]), ids);
    assert!(
        sandbox.ok(&["ps", "-a", "--format", "{{.Names}}"]) == "changer\n",
        "run --rm removed its containers"
    );
}

#[test]
fn ps_shows_docker_status_words_and_formats() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-ps");
    let id = sandbox.ok(&["create", "--name", "fresh", "busybox", "echo", "hi"]);
    assert!(
        id.trim().len() == 64 && id.trim().bytes().all(|b| b.is_ascii_hexdigit()),
        "{id:?}"
    );
    // ps lists newest first; creation times are kept to the second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    Command::from_std(sandbox.cmd(&["run", "--name", "three", "busybox", "sh", "-c", "exit 3"]))
        .assert()
        .code(3);
    assert_aligned(&sandbox.ok(&["ps", "-a"]));
    let transcript = sandbox.transcripts(&[
        &["ps"],
        &["ps", "-a"],
        &["container", "ls", "-a", "-f", "name=thr"],
        // Expressions against `/NAME`, alternatives ORed, as docker's filter.
        &[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "-f",
            "name=^/fre",
            "-f",
            "name=ree$",
        ],
        &["ps", "-a", "-q", "-f", "name=^three$"],
        &["ps", "-a", "--format", r"table {{.Names}}\t{{.Status}}"],
        &["ps", "-a", "--format", "{{.Names}}: {{.Status}}"],
        &[
            "ps",
            "-a",
            "--filter",
            "status=created",
            "--format",
            "{{.Names}} {{.State}} {{.Command}}",
        ],
        &[
            "ps",
            "-a",
            "--no-trunc",
            "--format",
            "{{.Names}} {{.Command}}",
        ],
        &["ps", "-l", "--format", "{{.Names}}"],
        &[
            "ps",
            "-n",
            "2",
            "-s",
            "--format",
            r"table {{.Names}}\t{{.Size}}",
        ],
        &["rm", "fresh", "nosuch"],
        &["container", "prune", "-f"],
        &["ps", "-a"],
    ]);
    snapshot_text("ps", transcript, sandbox.redactions());
}

#[test]
fn labels_come_from_the_image_files_and_flags_and_filter_ps() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-labels");
    sandbox.ok(&["create", "--name", "base", "busybox", "true"]);
    sandbox.ok(&[
        "commit",
        "--change",
        "LABEL tier=image stage=base",
        "base",
        "labelled:1",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("labels");
    std::fs::write(&file, "# what the team set\nteam=infra\nreviewed\n").unwrap();
    let file = file.to_str().unwrap();
    // The file first, then the flags (a later one wins), over the image's.
    sandbox.ok(&[
        "create",
        "--name",
        "web",
        "--label-file",
        file,
        "-l",
        "team=web",
        "--label",
        "stage=prod",
        "labelled:1",
        "true",
    ]);
    sandbox.ok(&["create", "--name", "plain", "busybox", "true"]);
    let mut settings = sandbox.redactions();
    settings.add_filter(&testkit::regex_escape(file), "[FILE]");
    let transcript = sandbox.transcripts(&[
        &["inspect", "-f", "{{json .Config.Labels}}", "web", "plain"],
        &[
            "ps",
            "-a",
            "-f",
            "name=^/web$",
            "--format",
            "{{.Names}}: {{.Labels}}",
        ],
        &["ps", "-a", "-f", "label=reviewed", "--format", "{{.Names}}"],
        &["ps", "-a", "-f", "label=team=web", "--format", "{{.Names}}"],
        &[
            "ps",
            "-a",
            "-f",
            "label=team=infra",
            "--format",
            "{{.Names}}",
        ],
        &[
            "create",
            "--label-file",
            "/no/such/labels",
            "busybox",
            "true",
        ],
    ]);
    snapshot_text("labels", transcript, settings);
}

#[test]
fn bad_input_gets_dockers_words_and_exit_codes() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-engine-bad-input");
    sandbox.ok(&["create", "--name", "taken", "busybox"]);
    let transcript = sandbox.transcripts(&[
        &["run", "nosuch"],
        &["create", "nosuch:1.0"],
        &["run", "--name", "taken", "busybox", "true"],
        &["create", "--name", "-bad", "busybox"],
        &["run", "--rm", "busybox", "nosuchcmd"],
        &["rm", "missing"],
        &["diff", "missing"],
        &["commit", "missing"],
        &["export", "missing"],
        &["history", "nosuch"],
        &["images", "--filter", "color=blue"],
    ]);
    snapshot_text("engine_bad_input", transcript, sandbox.redactions());
    // 17 containers: two share a first hex digit, an ambiguous prefix.
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..16 {
        ids.push(sandbox.ok(&["create", "busybox"]).trim().to_string());
    }
    ids.push(
        sandbox
            .ok(&["ps", "-a", "-q", "-f", "name=taken", "--no-trunc"])
            .trim()
            .to_string(),
    );
    let mut first: BTreeMap<char, usize> = BTreeMap::new();
    for id in &ids {
        *first.entry(id.chars().next().unwrap()).or_default() += 1;
    }
    let shared = first.iter().find(|(_, n)| **n > 1).unwrap().0.to_string();
    Command::from_std(sandbox.cmd(&["rm", &shared]))
        .assert()
        .code(1)
        .stderr(format!(
            "Error response from daemon: multiple IDs found with provided prefix: {shared}\n"
        ));
}

#[test]
fn import_then_export_round_trips_content_modes_owners_and_symlinks() {
    testkit::require_root!();
    let sandbox = Sandbox::new("e2e-export");
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |path: &str,
                   kind: tar::EntryType,
                   mode: u32,
                   owner: u64,
                   data: &[u8],
                   link: Option<&str>| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(owner);
        header.set_gid(owner + 1);
        header.set_mtime(1_700_000_000);
        header.set_size(data.len() as u64);
        match link {
            Some(target) => builder.append_link(&mut header, path, target).unwrap(),
            None => builder.append_data(&mut header, path, data).unwrap(),
        }
    };
    add("bin/", tar::EntryType::Directory, 0o755, 0, b"", None);
    add(
        "bin/tool",
        tar::EntryType::Regular,
        0o4755,
        0,
        b"#!/bin/sh\necho tool\n",
        None,
    );
    add("home/", tar::EntryType::Directory, 0o755, 0, b"", None);
    add(
        "home/alice/",
        tar::EntryType::Directory,
        0o700,
        1000,
        b"",
        None,
    );
    add(
        "home/alice/notes.txt",
        tar::EntryType::Regular,
        0o640,
        1000,
        b"secret notes\n",
        None,
    );
    add("etc/", tar::EntryType::Directory, 0o755, 0, b"", None);
    add(
        "etc/motd",
        tar::EntryType::Symlink,
        0o777,
        0,
        b"",
        Some("../home/alice/notes.txt"),
    );
    add(
        "etc/abs",
        tar::EntryType::Symlink,
        0o777,
        0,
        b"",
        Some("/bin/tool"),
    );
    let input = builder.into_inner().unwrap();
    let source = sandbox.root().join("in.tar");
    std::fs::write(&source, &input).unwrap();
    sandbox.ok(&["import", source.to_str().unwrap(), "roundtrip"]);
    sandbox.ok(&["create", "--name", "rt", "roundtrip", "true"]);
    let exported = sandbox.root().join("out.tar");
    sandbox.ok(&["export", "-o", exported.to_str().unwrap(), "rt"]);
    let via_stdout = Command::from_std(sandbox.cmd(&["export", "rt"]))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(via_stdout, std::fs::read(&exported).unwrap());

    let entries = |bytes: &[u8]| -> BTreeMap<String, (u32, u64, u64, String, String)> {
        let mut archive = tar::Archive::new(bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut content = String::new();
                e.read_to_string(&mut content).unwrap();
                let link = e
                    .link_name()
                    .unwrap()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default();
                let path = e.path().unwrap().display().to_string();
                (
                    path.trim_end_matches('/').to_string(),
                    (
                        h.mode().unwrap() & 0o7777,
                        h.uid().unwrap(),
                        h.gid().unwrap(),
                        link,
                        content,
                    ),
                )
            })
            .collect()
    };
    let before = entries(&input);
    let after = entries(&std::fs::read(&exported).unwrap());
    assert_eq!(after, before);
}

#[test]
fn system_df_counts_shared_layers_once() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-df");
    sandbox.ok(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo 1234567 > /data",
    ]);
    sandbox.ok(&["commit", "writer", "derived"]);
    assert_aligned(&sandbox.ok(&["system", "df"]));
    let transcript = sandbox.transcripts(&[&["system", "df"], &["system", "df", "-v"]]);
    snapshot_text("system_df", transcript, sandbox.redactions());
}

#[test]
fn a_running_container_is_up_and_removed_only_with_force() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-rm-force");
    let mut runner = sandbox
        .cmd(&["run", "--name", "long", "busybox", "sleep", "60"])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sandbox.ok(&["ps", "-q"]).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the container never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let transcript = sandbox.transcripts(&[
        &["ps", "--format", "{{.Names}} {{.State}} {{.Status}}"],
        &["rm", "long"],
        &["rm", "-f", "long"],
        &["ps", "-a"],
    ]);
    let mut settings = sandbox.redactions();
    settings.add_filter(r"\bUp (Less than a second|\d+ seconds?)\b", "Up [TIME]");
    snapshot_text("rm_force", transcript, settings);
    let status = runner.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(137),
        "run exits as its container did: SIGKILL"
    );
}

#[test]
fn rename_moves_a_name_and_keeps_names_unique() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-rename");
    sandbox.ok(&["create", "--name", "first", "busybox", "true"]);
    sandbox.ok(&["create", "--name", "taken", "busybox", "true"]);
    let transcript = sandbox.transcripts(&[
        &["rename", "first", "second"],
        &["inspect", "-f", "{{.Name}}", "second"],
        &["rename", "second", "taken"],
        &["rename", "nosuch", "third"],
    ]);
    snapshot_text("rename", transcript, sandbox.redactions());
}

/// One container whose records are garbage (a disk error, a hand edit) does
/// not stop the commands that show all of them: `ps` lists the others and
/// says which it left out, where; `images` works. The checks that must see
/// every container (is this image in use?) still refuse, naming the file.
/// `rm` removes it, name and all, unless its supervisor still runs it.
#[test]
fn a_container_with_unreadable_records_is_left_out_and_removable() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-unreadable");
    let records = |name: &str, file: &str| {
        let id = sandbox.ok(&["inspect", "-f", "{{.Id}}", name]);
        sandbox.root().join("containers").join(id.trim()).join(file)
    };
    let create_broken = [
        "create",
        "--network",
        "none",
        "--name",
        "broken",
        "busybox",
        "true",
    ];
    sandbox.ok(&create_broken);
    let args = [
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "busy",
        "busybox",
        "sleep",
        "60",
    ];
    sandbox.ok(&args);
    let (config, state) = (
        records("broken", "config.json"),
        records("busy", "state.json"),
    );
    let busy_state = std::fs::read(&state).unwrap();
    std::fs::write(&config, "{\"id\": ").unwrap();
    let mut transcript = sandbox.transcripts(&[
        &["ps", "-a", "--format", "{{.Names}}"],
        &["images", "--format", "{{.Repository}}"],
        &["rmi", "busybox"],
        &["rm", "broken"],
        &create_broken,
    ]);
    // One at a time: the listing's order of two is the directory's.
    std::fs::write(&state, "{").unwrap();
    transcript.push_str(&sandbox.transcripts(&[&["rm", "-f", "busy"]]));
    snapshot_text("unreadable_records", transcript, sandbox.redactions());
    std::fs::write(&state, busy_state).unwrap();
    sandbox.ok(&["rm", "-f", "broken", "busy"]);
}

/// The same for an image whose config is garbage: `images` lists the others
/// and says which it left out; `rmi` removes it, its names with it.
#[test]
fn an_image_with_an_unreadable_config_is_left_out_and_removable() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-unreadable-image");
    let tar = testkit::fixtures::dir().join("busybox.tar");
    sandbox.ok(&["import", tar.to_str().unwrap(), "other:1"]);
    let id = sandbox.ok(&["image", "inspect", "-f", "{{.Id}}", "other:1"]);
    let hex = id.trim().trim_start_matches("sha256:");
    let config = sandbox
        .root()
        .join("images/sha256")
        .join(hex)
        .join("config.json");
    std::fs::write(&config, "{\"created\": ").unwrap();
    let transcript = sandbox.transcripts(&[
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "echo",
            "still runs",
        ],
        &["rmi", "other:1"],
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
    ]);
    snapshot_text("unreadable_image", transcript, sandbox.redactions());
}
