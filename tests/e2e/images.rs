//! Images: `import`, `images`, `tag`, `rmi`, `image prune`, `history`,
//! `image inspect`, on chapter 04's stores, with docker's words.

use std::io::{Read, Write};

use assert_cmd::Command;

use crate::{Sandbox, assert_aligned, snapshot_text};

#[test]
fn imported_images_are_listed_tagged_and_inspected_like_dockers() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-images");
    assert_aligned(&sandbox.ok(&["images"]));
    sandbox.ok(&["tag", "busybox", "mybox:1.0"]);
    assert_aligned(&sandbox.ok(&["images"]));
    let id = sandbox.ok(&["images", "-q"]);
    crate::short_id(&id);
    let transcript = sandbox.transcripts(&[
        &["images"],
        &["image", "ls", "-q"],
        &["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"],
        &["images", "--filter", "dangling=true"],
        &["images", "--digests", "mybox"],
        &["history", "busybox"],
        &[
            "image",
            "inspect",
            "--format",
            "{{.Os}} {{.Architecture}}",
            "mybox:1.0",
        ],
        &[
            "image",
            "inspect",
            "--format",
            "{{.RootFS.Layers}}",
            "busybox",
        ],
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config}}",
            "busybox",
        ],
        &[
            "image",
            "inspect",
            "--format",
            "{{.RepoTags}} {{.Size}}",
            "busybox",
        ],
        &["tag", "nosuch", "other"],
        &["tag", "busybox", "Bad Name"],
    ]);
    snapshot_text("images", transcript, sandbox.redactions());

    let inspect: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["image", "inspect", "busybox"])).unwrap();
    let image = &inspect[0];
    assert_eq!(
        image["RepoTags"],
        serde_json::json!(["busybox:latest", "mybox:1.0"])
    );
    assert_eq!(
        image["Id"].as_str().unwrap(),
        format!("sha256:{}", &image["Id"].as_str().unwrap()[7..])
    );
    assert!(image["Id"].as_str().unwrap()[7..].starts_with(id.trim()));
    assert_eq!(image["RootFS"]["Type"], "layers");
    assert_eq!(image["Os"], "linux");
}

/// A one-shot HTTP server on 127.0.0.1 that answers any GET with `body`.
fn serve_once(body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/busybox.tar", listener.local_addr().unwrap());
    let thread = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).unwrap();
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .unwrap();
        stream.write_all(&body).unwrap();
    });
    (url, thread)
}

#[test]
fn import_reads_stdin_and_urls_and_applies_changes() {
    testkit::require_root!();
    let sandbox = Sandbox::new("e2e-import");
    let tar = std::fs::read(testkit::fixtures::dir().join("busybox.tar")).unwrap();
    let out = Command::from_std(sandbox.cmd(&[
        "import",
        "--change",
        r#"CMD ["sh", "-c", "echo $GREETING from $PWD"]"#,
        "--change",
        "ENV GREETING=hello",
        "--change",
        "WORKDIR /tmp",
        "-",
        "fromstdin",
    ]))
    .write_stdin(tar.clone())
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    let id = String::from_utf8(out).unwrap();
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id:?}");

    let (url, server) = serve_once(tar);
    let out = sandbox.ok(&["import", "-m", "over http", &url, "fromurl:v1"]);
    server.join().unwrap();
    // The same layer either way: both images hold one layer directory.
    assert_eq!(
        std::fs::read_dir(sandbox.root().join("layers"))
            .unwrap()
            .filter(|e| !e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.'))
            .count(),
        1
    );
    assert_ne!(out, id, "the config (and so the ID) differs");

    let transcript = sandbox.transcripts(&[
        &["run", "--rm", "fromstdin"],
        &["run", "--rm", "-e", "GREETING=bye", "fromstdin"],
        &[
            "image",
            "inspect",
            "--format",
            "{{json .Config.Env}} {{.Config.WorkingDir}}",
            "fromstdin",
        ],
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.ID}}: {{.Comment}}",
            "fromurl:v1",
        ],
        &["import", "--change", "FROB x", "-", "bad"],
        &["import", "/nonexistent.tar"],
        &["image", "prune", "-a", "-f"],
        &["images", "-a"],
    ]);
    snapshot_text("import", transcript, sandbox.redactions());
}

#[test]
fn removing_an_image_keeps_the_layers_other_images_share() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-rmi-shared");
    sandbox.ok(&[
        "run",
        "--name",
        "maker",
        "busybox",
        "sh",
        "-c",
        "echo one > /one",
    ]);
    sandbox.ok(&["commit", "maker", "one"]);
    sandbox.ok(&["rm", "maker"]);
    let parent = crate::short_id(&sandbox.ok(&["images", "-q", "busybox"]));
    // As docker: the parent of a committed image is only untagged (it
    // becomes an intermediate image), and goes with its last child.
    let transcript = sandbox.transcripts(&[
        &["rmi", "busybox"],
        &["images"],
        &["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"],
        &["rmi", "-f", &parent],
        &[
            "run",
            "--rm",
            "one",
            "sh",
            "-c",
            "cat /one && ls /bin/busybox",
        ],
        &["rmi", "one"],
        &["images", "-a"],
    ]);
    snapshot_text("rmi_shared", transcript, sandbox.redactions());
    let left: Vec<_> = std::fs::read_dir(sandbox.root().join("layers"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "layers left: {left:?}");
}

#[test]
fn an_image_a_running_container_uses_is_only_untagged_even_when_forced() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-rmi-running");
    sandbox.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "runner",
        "busybox",
        "sleep",
        "60",
    ]);
    let id = crate::short_id(&sandbox.ok(&["images", "-q"]));
    // docker's hard conflict: by ID, not even -f deletes it; by name, -f
    // only untags it.
    let transcript = sandbox.transcripts(&[
        &["rmi", "-f", &id],
        &["rmi", "-f", "busybox"],
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
        &["rm", "-f", "runner"],
    ]);
    snapshot_text("rmi_running", transcript, sandbox.redactions());
}

#[test]
fn an_image_a_container_uses_is_kept_unless_forced() {
    testkit::require_root!();
    let sandbox = Sandbox::with_busybox("e2e-rmi-in-use");
    sandbox.ok(&["create", "--name", "user", "busybox", "true"]);
    sandbox.ok(&["tag", "busybox", "second"]);
    let id = crate::short_id(&sandbox.ok(&["images", "-q"]));
    let transcript = sandbox.transcripts(&[
        &["rmi", "second"],
        &["rmi", "busybox"],
        &["rmi", &id],
        &["rmi", "nosuch"],
        &["rmi", "-f", "busybox"],
        &["images"],
        &["image", "prune", "-f"],
        &["rm", "user"],
        &["image", "prune", "-f"],
        &["images", "-a"],
    ]);
    snapshot_text("rmi_in_use", transcript, sandbox.redactions());
}
