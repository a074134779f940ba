//! Timing after the filesystem has forgotten the benchmark's own deletions.
//!
//! Without a journal, ext4 will not reuse an inode freed less than a minute
//! ago (five, while its inode table block is still dirty): `find_inode_bit`
//! steps over each such inode in the block group, reading its `i_dtime`
//! (`recently_deleted`, fs/ext4/ialloc.c), so every file made pays for every
//! file deleted near it in the last minute. A benchmark's set-up and teardown
//! delete thousands (a store of 500 containers, a 1200-file layer), and the
//! next run, started within the minute, timed each `run --rm` (about 20 new
//! files against chapter 03's 4) 2 to 3 ms slower on the book's VM, whose
//! root is ext4 without a journal. So the benchmark records when it deleted
//! a tree, and waits that minute out, on such a filesystem, before timing.
//! What a row deletes itself, it pays for, as a user's loop would.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long ext4 keeps a clean freed inode from reuse (`RECENTCY_MIN`), and
/// a second for `i_dtime`'s one-second steps.
const REMEMBERED: Duration = Duration::from_secs(61);

/// Where the time of the last deletion is kept: the file's mtime.
fn stamp(bench_dir: &Path) -> PathBuf {
    bench_dir.join("deleted-at")
}

/// Removes `tree` if it is there, noting the time in `bench_dir`.
pub fn remove_tree(bench_dir: &Path, tree: &Path) -> anyhow::Result<()> {
    if !tree.exists() {
        return Ok(());
    }
    fs::remove_dir_all(tree)?;
    fs::write(stamp(bench_dir), b"")?;
    Ok(())
}

/// Waits, if `bench_dir` is on ext4 without a journal, until a minute has
/// passed since the last [`remove_tree`], saying so.
pub fn settle(bench_dir: &Path) -> anyhow::Result<()> {
    if !remembers_deletions(bench_dir) {
        return Ok(());
    }
    let Ok(deleted) = fs::metadata(stamp(bench_dir)).and_then(|m| m.modified()) else {
        return Ok(());
    };
    let since = SystemTime::now()
        .duration_since(deleted)
        .unwrap_or_default();
    if let Some(left) = REMEMBERED.checked_sub(since) {
        eprintln!(
            "bench: waiting {}s: {} is ext4 without a journal, which avoids reusing \
             inodes deleted in the last minute at a cost to every new file \
             (see xtask/src/bench_settle.rs)",
            left.as_secs(),
            bench_dir.display()
        );
        std::thread::sleep(left);
    }
    Ok(())
}

/// Whether `dir` is on ext4 without a journal: its device's
/// `/sys/fs/ext4/NAME/journal_task` reads `<none>` (found through
/// `/sys/dev/block/MAJOR:MINOR`, which links to the device named NAME).
fn remembers_deletions(dir: &Path) -> bool {
    let Ok(dev) = fs::metadata(dir).map(|m| m.dev()) else {
        return false;
    };
    let block = format!("/sys/dev/block/{}:{}", libc::major(dev), libc::minor(dev));
    let Some(name) = fs::read_link(block)
        .ok()
        .and_then(|target| target.file_name().map(|n| n.to_owned()))
    else {
        return false;
    };
    let journal = Path::new("/sys/fs/ext4").join(name).join("journal_task");
    fs::read_to_string(journal).is_ok_and(|task| task.trim() == "<none>")
}
