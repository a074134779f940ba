//! `cargo xtask fixtures`: the busybox root filesystem every test and the demo use.
//!
//! Made from Debian's static busybox: one binary, one symlink per applet, a few
//! files in /etc and the empty directories a container runtime mounts over. The
//! same tree is written as `busybox.tar`, byte-for-byte the same on every run
//! (sorted entries, fixed times and owners), so it can later be imported as an
//! image whose digest never changes.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use crate::sh;

/// Where Debian's busybox-static puts the binary.
const BUSYBOX: &str = "/bin/busybox";
/// Bump when the layout below changes, so existing fixtures are remade.
const LAYOUT_VERSION: u32 = 2;
/// Every entry of the tar gets this mtime (2024-01-01T00:00:00Z).
const EPOCH: u64 = 1_704_067_200;

/// One entry of the rootfs, in the order it is written.
enum Entry {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
}

/// The fixture paths.
pub struct Fixtures {
    pub rootfs: PathBuf,
    pub tar: PathBuf,
}

pub fn dir() -> PathBuf {
    sh::workspace().join("target").join("fixtures")
}

/// Makes the fixtures unless they are already up to date; returns where they are.
pub fn run() -> anyhow::Result<Fixtures> {
    let dir = dir();
    let fixtures = Fixtures {
        rootfs: dir.join("busybox-rootfs"),
        tar: dir.join("busybox.tar"),
    };
    if !Path::new(BUSYBOX).is_file() {
        bail!(
            "{BUSYBOX} is missing: run `cargo xtask setup` (it installs Debian's busybox-static)"
        );
    }
    let busybox = fs::read(BUSYBOX).with_context(|| format!("cannot read {BUSYBOX}"))?;
    let digest: String = Sha256::digest(&busybox)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stamp = format!("layout {LAYOUT_VERSION}, busybox sha256 {digest}\n");
    let stamp_path = dir.join("busybox.stamp");
    if fixtures.rootfs.is_dir()
        && fixtures.tar.is_file()
        && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp)
    {
        eprintln!("fixtures: up to date in {}", dir.display());
        return Ok(fixtures);
    }

    let entries = layout(busybox)?;
    fs::create_dir_all(&dir)?;
    write_rootfs(&fixtures.rootfs, &entries)?;
    write_tar(&fixtures.tar, &entries)?;
    write_atomically(&stamp_path, stamp.as_bytes())?;
    eprintln!(
        "fixtures: made {} and {}",
        fixtures.rootfs.display(),
        fixtures.tar.display()
    );
    Ok(fixtures)
}

/// The whole tree, sorted by path, directories before what they hold.
fn layout(busybox: Vec<u8>) -> anyhow::Result<Vec<(String, Entry)>> {
    let list = Command::new(BUSYBOX)
        .arg("--list-full")
        .output()
        .context("busybox --list-full")?;
    let mut entries: Vec<(String, Entry)> = Vec::new();
    let dir = |mode| Entry::Dir { mode };
    let file = |mode, text: &str| Entry::File {
        mode,
        data: text.as_bytes().to_vec(),
    };
    for d in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "root", "tmp",
    ] {
        let mode = match d {
            "tmp" => 0o1777,
            "root" => 0o700,
            _ => 0o755,
        };
        entries.push((d.to_string(), dir(mode)));
    }
    entries.push((
        "bin/busybox".into(),
        Entry::File {
            mode: 0o755,
            data: busybox,
        },
    ));
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let path = applet.trim().trim_start_matches('/');
        if !path.is_empty() && path != "bin/busybox" {
            entries.push((
                path.to_string(),
                Entry::Symlink {
                    target: BUSYBOX.to_string(),
                },
            ));
        }
    }
    entries.push((
        "etc/passwd".into(),
        file(
            0o644,
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
    ));
    entries.push((
        "etc/group".into(),
        file(0o644, "root:x:0:\nnobody:x:65534:\n"),
    ));
    entries.push((
        "etc/hosts".into(),
        file(
            0o644,
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        ),
    ));
    entries.push(("etc/hostname".into(), file(0o644, "dockyard\n")));
    // Empty: a runtime bind-mounts its own over it, as docker does.
    entries.push(("etc/resolv.conf".into(), file(0o644, "")));
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    Ok(entries)
}

/// Writes the tree next to `rootfs` and renames it into place, so a crash never
/// leaves half a rootfs where the tests look for one.
fn write_rootfs(rootfs: &Path, entries: &[(String, Entry)]) -> anyhow::Result<()> {
    let tmp = rootfs.with_extension("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir_all(&tmp)?;
    for (path, entry) in entries {
        let dest = tmp.join(path);
        match entry {
            Entry::Dir { mode } => {
                fs::create_dir_all(&dest)?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(*mode))?;
            }
            Entry::File { mode, data } => {
                fs::write(&dest, data)?;
                fs::set_permissions(&dest, fs::Permissions::from_mode(*mode))?;
            }
            Entry::Symlink { target } => std::os::unix::fs::symlink(target, &dest)?,
        }
    }
    if rootfs.exists() {
        fs::remove_dir_all(rootfs).with_context(|| {
            format!(
                "cannot replace {} (is something mounted in it?)",
                rootfs.display()
            )
        })?;
    }
    fs::rename(&tmp, rootfs)?;
    Ok(())
}

/// The same tree as a tar: owned by root, all at [`EPOCH`], in sorted order.
fn write_tar(path: &Path, entries: &[(String, Entry)]) -> anyhow::Result<()> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, entry) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(EPOCH);
        let (kind, mode, data): (_, u32, &[u8]) = match entry {
            Entry::Dir { mode } => (tar::EntryType::Directory, *mode, &[]),
            Entry::File { mode, data } => (tar::EntryType::Regular, *mode, data),
            Entry::Symlink { .. } => (tar::EntryType::Symlink, 0o777, &[]),
        };
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        let name = if matches!(entry, Entry::Dir { .. }) {
            format!("{name}/")
        } else {
            name.clone()
        };
        match entry {
            Entry::Symlink { target } => builder.append_link(&mut header, &name, target)?,
            _ => builder.append_data(&mut header, &name, data)?,
        }
    }
    write_atomically(path, &builder.into_inner()?)
}

/// Write to a temp file, fsync, rename: readers see the old file or the new one.
pub fn write_atomically(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("partial");
    let mut file =
        fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(data)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("cannot rename to {}", path.display()))?;
    Ok(())
}
