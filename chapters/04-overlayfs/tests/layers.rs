//! Commit and unpack: an upper dir to a layer blob and back, and the layers
//! that must be refused.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use ch04_overlayfs::commit::{commit, write_tar};
use ch04_overlayfs::store::ContentStore;
use ch04_overlayfs::unpack::{UnpackError, unpack};
use ch04_overlayfs::{Digest, whiteout, xattr};

/// A tar entry for crafted layers: the name is written raw, so it can be as
/// malicious as an attacker's (the tar crate refuses to *write* `..` paths).
struct Raw<'a> {
    name: &'a str,
    kind: tar::EntryType,
    link: &'a str,
    data: &'a [u8],
}

fn raw(name: &str) -> Raw<'_> {
    Raw {
        name,
        kind: tar::EntryType::Regular,
        link: "",
        data: b"",
    }
}

fn crafted_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        header.as_old_mut().linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        header.set_entry_type(e.kind);
        header.set_mode(if e.kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        header.set_size(e.data.len() as u64);
        header.set_mtime(1_700_000_000);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        builder.append(&header, e.data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// Unpacks `tar` into a fresh dir and returns the error, checking nothing was written.
fn refused(tar: &[u8]) -> UnpackError {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer");
    let err = unpack(tar, &target, None).unwrap_err();
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "a refused unpack left {left:?}");
    err
}

#[test]
fn dot_dot_is_refused_by_name() {
    let err = refused(&crafted_tar(&[raw("ok"), raw("../../etc/passwd")]));
    assert_eq!(
        err.to_string(),
        r#"layer entry "../../etc/passwd" refused: it climbs out of the layer with '..'"#
    );
}

#[test]
fn absolute_paths_are_refused() {
    let err = refused(&crafted_tar(&[raw("/etc/passwd")]));
    assert_eq!(
        err.to_string(),
        r#"layer entry "/etc/passwd" refused: it is an absolute path"#
    );
}

#[test]
fn writing_through_a_symlink_is_refused() {
    let link = Raw {
        kind: tar::EntryType::Symlink,
        link: "/",
        ..raw("link")
    };
    let err = refused(&crafted_tar(&[link, raw("link/etc/x")]));
    assert_eq!(
        err.to_string(),
        r#"layer entry "link/etc/x" refused: its path goes through the symlink link, which could lead outside the layer"#
    );
}

#[test]
fn hard_links_outside_are_refused() {
    let hard = |target| Raw {
        kind: tar::EntryType::Link,
        link: target,
        ..raw("passwd")
    };
    let err = refused(&crafted_tar(&[hard("/etc/passwd")]));
    assert_eq!(
        err.to_string(),
        r#"layer entry "passwd" refused: its hard link target "/etc/passwd" is an absolute path"#
    );
    let err = refused(&crafted_tar(&[hard("../../etc/shadow")]));
    assert!(err.to_string().contains("climbs out"), "{err}");
    let err = refused(&crafted_tar(&[hard("missing")]));
    assert!(
        err.to_string().contains("not a file earlier in the layer"),
        "{err}"
    );
}

#[test]
fn hard_links_inside_share_an_inode() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer");
    let tar = crafted_tar(&[
        Raw {
            data: b"shared",
            ..raw("bin/a")
        },
        Raw {
            kind: tar::EntryType::Link,
            link: "bin/a",
            ..raw("bin/b")
        },
    ]);
    unpack(&tar[..], &target, None).unwrap();
    let (a, b) = (
        fs::metadata(target.join("bin/a")).unwrap(),
        fs::metadata(target.join("bin/b")).unwrap(),
    );
    assert_eq!(a.ino(), b.ino());
}

#[test]
fn a_wrong_diff_id_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer");
    let tar = crafted_tar(&[raw("file")]);
    let err = unpack(&tar[..], &target, Some(&Digest::of(b"other"))).unwrap_err();
    assert!(matches!(err, UnpackError::DiffIdMismatch { .. }), "{err}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    let ok = unpack(&tar[..], &target, Some(&Digest::of(&tar))).unwrap();
    assert_eq!(ok.diff_id, Digest::of(&tar));
}

#[test]
fn the_busybox_tar_unpacks_with_modes_mtimes_and_symlinks() {
    let tar = testkit::fixtures::dir().join("busybox.tar");
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer");
    let unpacked = unpack(fs::File::open(&tar).unwrap(), &target, None).unwrap();
    assert_eq!(unpacked.diff_id, Digest::of(&fs::read(&tar).unwrap()));
    let busybox = fs::metadata(target.join("bin/busybox")).unwrap();
    assert_eq!(busybox.permissions().mode() & 0o7777, 0o755);
    assert_eq!(busybox.mtime(), 1_704_067_200); // 2024-01-01, as the fixture has it
    assert_eq!(
        fs::read_link(target.join("bin/sh")).unwrap(),
        Path::new("/bin/busybox")
    );
    assert_eq!(
        fs::metadata(target.join("bin")).unwrap().mtime(),
        1_704_067_200
    );
}

fn upper_with_changes() -> tempfile::TempDir {
    let upper = tempfile::tempdir().unwrap();
    fs::create_dir_all(upper.path().join("etc")).unwrap();
    fs::write(upper.path().join("etc/hostname"), "box\n").unwrap();
    fs::set_permissions(upper.path().join("etc"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("hostname", upper.path().join("etc/name")).unwrap();
    upper
}

#[test]
fn commit_is_deterministic_and_records_both_digests() {
    let upper = upper_with_changes();
    let root = tempfile::tempdir().unwrap();
    let content = ContentStore::open(root.path()).unwrap();
    let first = commit(upper.path(), &content).unwrap();
    let second = commit(upper.path(), &content).unwrap();
    assert_eq!(first, second);
    let mut tar = Vec::new();
    write_tar(upper.path(), &mut tar).unwrap();
    assert_eq!(first.diff_id, Digest::of(&tar));
    let blob = fs::read(content.path(&first.digest)).unwrap();
    assert_eq!(Digest::of(&blob), first.digest);
    assert_eq!(blob.len() as u64, first.size);

    let mut names = Vec::new();
    for entry in tar::Archive::new(&tar[..]).entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert_eq!(names, ["etc/", "etc/hostname", "etc/name"]);
}

#[test]
fn commit_then_unpack_round_trips() {
    let upper = upper_with_changes();
    let root = tempfile::tempdir().unwrap();
    let content = ContentStore::open(root.path()).unwrap();
    let layer = commit(upper.path(), &content).unwrap();
    let target = root.path().join("layer");
    let blob = content.open_blob(&layer.digest, Some(layer.size)).unwrap();
    let unpacked = unpack(blob, &target, Some(&layer.diff_id)).unwrap();
    assert_eq!(unpacked.diff_id, layer.diff_id);
    let mut text = String::new();
    fs::File::open(target.join("etc/hostname"))
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "box\n");
    let (a, b) = (
        fs::metadata(upper.path().join("etc/hostname")).unwrap(),
        fs::metadata(target.join("etc/hostname")).unwrap(),
    );
    assert_eq!((a.mtime(), a.mode()), (b.mtime(), b.mode()));
}

#[test]
fn whiteouts_and_opaque_dirs_round_trip() {
    testkit::require_root!();
    let upper = tempfile::tempdir().unwrap();
    fs::create_dir_all(upper.path().join("etc")).unwrap();
    whiteout::make_whiteout(&upper.path().join("etc/passwd")).unwrap();
    fs::create_dir_all(upper.path().join("var/cache")).unwrap();
    whiteout::make_opaque(&upper.path().join("var/cache")).unwrap();

    let mut tar = Vec::new();
    write_tar(upper.path(), &mut tar).unwrap();
    let mut names = Vec::new();
    for entry in tar::Archive::new(&tar[..]).entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert_eq!(
        names,
        [
            "etc/",
            "etc/.wh.passwd",
            "var/",
            "var/cache/",
            "var/cache/.wh..wh..opq"
        ]
    );

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("layer");
    unpack(&tar[..], &target, None).unwrap();
    let meta = fs::symlink_metadata(target.join("etc/passwd")).unwrap();
    assert!(whiteout::is_whiteout(&meta));
    assert!(whiteout::is_opaque(&target.join("var/cache")).unwrap());
    assert!(!target.join("var/cache/.wh..wh..opq").exists());
}

#[test]
fn owners_and_xattrs_are_kept() {
    testkit::require_root!();
    // In the target directory: /tmp may be a tmpfs, which before Linux 6.6
    // refuses user.* xattrs.
    let upper = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let file = upper.path().join("ping");
    fs::write(&file, "").unwrap();
    nix::unistd::chown(&file, Some(1000.into()), Some(1001.into())).unwrap();
    xattr::set(&file, OsStr::new("user.note"), b"hi").unwrap();
    let mut tar = Vec::new();
    write_tar(upper.path(), &mut tar).unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let target = dir.path().join("layer");
    unpack(&tar[..], &target, None).unwrap();
    let meta = fs::metadata(target.join("ping")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 1001));
    let note = xattr::get(&target.join("ping"), OsStr::new("user.note")).unwrap();
    assert_eq!(note.as_deref(), Some(&b"hi"[..]));
}
