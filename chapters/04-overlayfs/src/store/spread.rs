//! Where ext4 puts a store's new directories.
//!
//! ext4 places a new directory near its parent, in the parent's block group,
//! and the files made in it there too, unless the parent is the top of a
//! directory hierarchy (the filesystem's root, or a directory with the `T`
//! attribute, as /home often has): then its Orlov allocator spreads the new
//! directory to a group of its own choosing, one with free inodes and blocks
//! to spare (`find_group_orlov`, fs/ext4/ialloc.c). A container's directory is
//! such a hierarchy: made whole at `create`, deleted whole at `rm`.
//!
//! It matters on ext4 without a journal, which will not reuse an inode freed
//! in the last minute (six, while its inode table block is dirty): each new
//! inode is found by walking the group from its start, stepping over every
//! such inode (`recently_deleted`). A `run --rm` makes about twenty inodes in
//! its container's directory and deletes them a moment later, so with every
//! container in one group, each `run --rm` in a loop walks past all that its
//! predecessors freed: on the book's VM, the engine's `run --rm` took 1.5 ms
//! more than chapter 03's at the start of a loop of 1000 and 2.2 to 2.4 ms
//! more at its end; with the containers spread, 1.0 to 1.5 ms all along
//! (shuffled rounds, medians of paired differences over each 100). With a
//! journal, ext4 reuses inodes at once, and the spreading neither helps nor
//! costs: +0.00 ms [-0.05, +0.07] in a shuffled A/B of 1000 rounds.

use std::os::fd::AsRawFd;
use std::path::Path;

/// `FS_TOPDIR_FL` (linux/fs.h): "top of directory hierarchies", `chattr +T`.
const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

/// Marks `dir`, a store's directory of directory trees, as the top of
/// directory hierarchies (see the module docs), if its filesystem has the
/// flag: a hint, so a filesystem without it (tmpfs, overlayfs) or a kernel
/// that refuses it leaves `dir` as it was, and so does an error.
pub fn spread_subdirectories(dir: &Path) {
    let Ok(file) = std::fs::File::open(dir) else {
        return;
    };
    let Ok(flags) = flags_of(&file) else {
        return;
    };
    if flags & FS_TOPDIR_FL == 0 {
        let flags = flags | FS_TOPDIR_FL;
        // SAFETY: FS_IOC_SETFLAGS reads an int from the pointer
        // (ioctl_iflags(2)), which points at one.
        unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) };
    }
}

/// The inode flags of `file` (`lsattr`), FS_IOC_GETFLAGS.
fn flags_of(file: &std::fs::File) -> std::io::Result<libc::c_int> {
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS writes an int through the pointer
    // (ioctl_iflags(2)), which points at one.
    if unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::containers::ContainerStore;
    use std::process::Command;

    /// A small ext4 of the test's own, loop-mounted on a temp dir: the
    /// machine's own filesystems may have no such flag (tmpfs, xfs).
    struct Ext4 {
        dir: tempfile::TempDir,
    }

    impl Ext4 {
        fn mount() -> Ext4 {
            let dir = tempfile::tempdir().unwrap();
            let (image, mnt) = (dir.path().join("image"), dir.path().join("mnt"));
            std::fs::create_dir(&mnt).unwrap();
            let mkfs = Command::new("mkfs.ext4")
                .args(["-q", "-F"])
                .arg(&image)
                .arg("8M")
                .status()
                .expect("run mkfs.ext4 (e2fsprogs)");
            assert!(mkfs.success(), "mkfs.ext4: {mkfs}");
            // mount(8) sets up the loop device, detached again at the unmount.
            let mount = Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(&mnt)
                .status()
                .unwrap();
            assert!(mount.success(), "mount -o loop: {mount}");
            Ext4 { dir }
        }

        fn path(&self) -> std::path::PathBuf {
            self.dir.path().join("mnt")
        }
    }

    impl Drop for Ext4 {
        fn drop(&mut self) {
            nix::mount::umount2(&self.path(), nix::mount::MntFlags::MNT_DETACH)
                .expect("unmount the test's ext4");
        }
    }

    #[test]
    fn a_new_container_store_on_ext4_spreads_its_containers() {
        testkit::require_root!();
        let ext4 = Ext4::mount();
        ContainerStore::open(&ext4.path()).unwrap();
        let containers = std::fs::File::open(ext4.path().join("containers")).unwrap();
        assert_ne!(flags_of(&containers).unwrap() & FS_TOPDIR_FL, 0);
    }
}
