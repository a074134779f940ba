//! The content store: blobs named by their sha256, `blobs/sha256/<hex>`.
//!
//! A blob (a layer tar.gz, a config, a manifest) is written to a temp file and
//! renamed to its digest only once the digest is known and checked, so a name
//! in the store always means "these exact bytes". Reading checks again: a disk
//! can rot, and a corrupt blob must fail loudly, not be unpacked.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, Hashing, is_hex64};
use crate::io::{self, IoContext, IoError, TEMP_PREFIX};
use crate::store::lock::StoreLock;

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("blob {expected} does not match its content: got {actual} ({size} bytes)")]
    DigestMismatch {
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error("blob {digest} is {actual} bytes, expected {expected}")]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("blob {0} not found in the content store")]
    NotFound(Digest),
    #[error(transparent)]
    Io(#[from] IoError),
}

/// Blobs by digest under `ROOT/blobs/sha256`.
#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
}

impl ContentStore {
    /// Opens (creating if needed) the content store at `root`, and removes temp
    /// files a crashed writer left, when no writer is busy.
    pub fn open(root: &Path) -> Result<ContentStore, ContentError> {
        let store = ContentStore {
            dir: root.join("blobs").join("sha256"),
        };
        let lock = || StoreLock::try_exclusive(&store.lock_path());
        if let Some(_lock) = io::in_dir(&store.dir, lock)? {
            io::remove_leftovers(&store.dir)?;
        }
        Ok(store)
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.join(".writers.lock")
    }

    /// Where the blob `digest` is (or would be).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    /// Whether the store has `digest`.
    pub fn contains(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Starts writing a blob whose digest is learnt as it is written.
    pub fn writer(&self) -> Result<BlobWriter, ContentError> {
        // Held until the blob is committed, so no one takes our temp file for a leftover.
        let lock = StoreLock::shared(&self.lock_path())?;
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)
            .at("create a temp file in", &self.dir)?;
        Ok(BlobWriter {
            store: self.clone(),
            file: Hashing::new(temp),
            _lock: lock,
        })
    }

    /// Stores `bytes` and returns their digest.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest, ContentError> {
        let mut writer = self.writer()?;
        writer.write_all(bytes).at("write", &self.dir)?;
        Ok(writer.commit(None)?.0)
    }

    /// Stores what `reader` yields, refusing it unless its digest is `expected`.
    pub fn ingest(&self, mut reader: impl Read, expected: &Digest) -> Result<u64, ContentError> {
        let mut writer = self.writer()?;
        std::io::copy(&mut reader, &mut writer).at("write", &self.dir)?;
        Ok(writer.commit(Some(expected))?.1)
    }

    /// Opens blob `digest` for reading; the reader fails at the end if the bytes
    /// are not `size` long (when given) or do not hash to `digest`.
    pub fn open_blob(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<BlobReader, ContentError> {
        let path = self.path(digest);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContentError::NotFound(digest.clone()));
            }
            Err(err) => return Err(err).at("open", &path)?,
        };
        if let Some(expected) = size {
            let actual = file.metadata().at("stat", &path)?.len();
            if actual != expected {
                return Err(ContentError::SizeMismatch {
                    digest: digest.clone(),
                    expected,
                    actual,
                });
            }
        }
        Ok(BlobReader {
            expected: digest.clone(),
            inner: Hashing::new(file),
        })
    }

    /// Reads a whole (small) blob, verified: configs and manifests.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>, ContentError> {
        let mut bytes = Vec::new();
        let mut reader = self.open_blob(digest, None)?;
        reader
            .read_to_end(&mut bytes)
            .at("read", &self.path(digest))?;
        Ok(bytes)
    }

    /// Every blob in the store.
    pub fn list(&self) -> Result<Vec<Digest>, ContentError> {
        let mut digests = Vec::new();
        for entry in std::fs::read_dir(&self.dir).at("read directory", &self.dir)? {
            let name = entry.at("read directory", &self.dir)?.file_name();
            if let Some(name) = name.to_str().filter(|n| is_hex64(n)) {
                digests.push(Digest::parse(name).expect("64 hex digits"));
            }
        }
        digests.sort();
        Ok(digests)
    }

    /// Removes blob `digest`, if present.
    pub fn remove(&self, digest: &Digest) -> Result<(), ContentError> {
        let path = self.path(digest);
        match std::fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                Err(err).at("remove", &path)?
            }
            _ => Ok(()),
        }
    }
}

/// A blob being written: a temp file that becomes `blobs/sha256/<digest>` on [`commit`](BlobWriter::commit).
/// Dropped without committing, it leaves nothing.
#[derive(Debug)]
pub struct BlobWriter {
    store: ContentStore,
    file: Hashing<tempfile::NamedTempFile>,
    _lock: StoreLock,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Makes the blob visible under its digest, after checking it is `expected`
    /// (when given). Returns the digest and size.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64), ContentError> {
        let (digest, size, temp) = self.file.finish();
        if let Some(expected) = expected.filter(|e| **e != digest) {
            return Err(ContentError::DigestMismatch {
                expected: expected.clone(),
                actual: digest,
                size,
            });
        }
        temp.as_file().sync_all().at("fsync", temp.path())?;
        let path = self.store.path(&digest);
        // The same digest is the same bytes: if it is there already, ours is redundant.
        if !path.exists() {
            temp.persist(&path)
                .map_err(|err| err.error)
                .at("rename into", &path)?;
            io::sync_dir(&self.store.dir)?;
        }
        Ok((digest, size))
    }
}

/// Reads a blob and checks its digest on reaching the end.
#[derive(Debug)]
pub struct BlobReader {
    expected: Digest,
    inner: Hashing<File>,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let (actual, size) = self.inner.digest();
            if actual != self.expected {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    ContentError::DigestMismatch {
                        expected: self.expected.clone(),
                        actual,
                        size,
                    },
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let digest = store.put(b"config").unwrap();
        assert_eq!(digest, Digest::of(b"config"));
        assert_eq!(store.read(&digest).unwrap(), b"config");
        assert_eq!(store.list().unwrap(), [digest]);
    }

    #[test]
    fn a_wrong_digest_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let err = store.ingest(&b"abc"[..], &Digest::of(b"xyz")).unwrap_err();
        assert!(matches!(err, ContentError::DigestMismatch { .. }), "{err}");
        assert_eq!(
            std::fs::read_dir(&store.dir)
                .unwrap()
                .filter(|e| !e
                    .as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".lock"))
                .count(),
            0
        );
    }

    #[test]
    fn a_corrupt_blob_fails_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let digest = store.put(b"good").unwrap();
        std::fs::write(store.path(&digest), b"evil").unwrap();
        let err = store.read(&digest).unwrap_err();
        assert!(
            err.to_string().contains("does not match its content"),
            "{err}"
        );
        assert!(matches!(
            store.open_blob(&digest, Some(5)),
            Err(ContentError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn crash_leftovers_are_cleaned_on_open_but_not_under_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContentStore::open(dir.path()).unwrap();
        let leftover = store.dir.join(".tmp-crashed");
        std::fs::write(&leftover, "half a blob").unwrap();
        let writer = store.writer().unwrap();
        ContentStore::open(dir.path()).unwrap();
        assert!(leftover.exists(), "a busy writer's store is not cleaned");
        drop(writer);
        ContentStore::open(dir.path()).unwrap();
        assert!(!leftover.exists());
        assert!(store.list().unwrap().is_empty());
    }
}
