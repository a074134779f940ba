//! Content addresses: `sha256:<64 hex>` digests, and chain IDs.
//!
//! Everything in an image is named by the sha256 of its bytes: a layer blob (its
//! digest), the same layer uncompressed (its diff ID), the config (the image ID).
//! Change one byte and the name changes, so a name is also a checksum.

use std::fmt;
use std::io::{Read, Write};

use sha2::{Digest as _, Sha256};

/// A `sha256:<hex>` content address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// Why a string is not a digest.
#[derive(Debug, thiserror::Error)]
#[error("invalid digest {0:?}: want sha256: and 64 lower-case hex digits")]
pub struct InvalidDigest(pub String);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hash(Sha256::digest(bytes).as_slice())
    }

    /// Wraps a finished sha256 (32 bytes).
    fn from_hash(hash: &[u8]) -> Digest {
        // sha2 0.11's output does not implement LowerHex: format the bytes ourselves.
        let hex = hash.iter().map(|b| format!("{b:02x}")).collect();
        Digest { hex }
    }

    /// Parses `sha256:<hex>` (or bare hex, as docker accepts for IDs).
    pub fn parse(text: &str) -> Result<Digest, InvalidDigest> {
        let hex = text.strip_prefix("sha256:").unwrap_or(text);
        if is_hex64(hex) {
            Ok(Digest {
                hex: hex.to_string(),
            })
        } else {
            Err(InvalidDigest(text.to_string()))
        }
    }

    /// The 64 hex digits, as used in file names.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, as docker shows IDs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }

    // ANCHOR: chain
    /// The chain ID of a stack of layers from their diff IDs, bottom first
    /// (image-spec config.md "Layer ChainID"): `ChainID(L0) = DiffID(L0)`,
    /// `ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln))`.
    /// It names the filesystem the stack makes, which is what a layer store keys on.
    pub fn chain(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
        match parent {
            None => diff_id.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
        }
    }
    // ANCHOR_END: chain
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl std::str::FromStr for Digest {
    type Err = InvalidDigest;
    fn from_str(s: &str) -> Result<Digest, InvalidDigest> {
        Digest::parse(s)
    }
}

/// In JSON records a digest is its `sha256:<hex>` string.
impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Whether `text` is 64 lower-case hex digits.
pub fn is_hex64(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Hashes and counts everything that passes through it, reading or writing, so a
/// stream can be checked in the same pass that uses it.
#[derive(Debug)]
pub struct Hashing<T> {
    inner: T,
    hasher: Sha256,
    len: u64,
}

impl<T> Hashing<T> {
    /// Wraps a reader or writer.
    pub fn new(inner: T) -> Hashing<T> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }

    /// The digest and size of what passed so far.
    pub fn digest(&self) -> (Digest, u64) {
        let hash = self.hasher.clone().finalize();
        (Digest::from_hash(hash.as_slice()), self.len)
    }

    /// The digest and size of what passed, and the inner stream.
    pub fn finish(self) -> (Digest, u64, T) {
        (
            Digest::from_hash(self.hasher.finalize().as_slice()),
            self.len,
            self.inner,
        )
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_is_the_well_known_one() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_accepts_prefixed_and_bare_hex_only() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert_eq!(Digest::parse(d.hex()).unwrap(), d);
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&d.to_string().to_uppercase()).is_err());
    }

    #[test]
    fn chain_id_of_one_layer_is_its_diff_id() {
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        assert_eq!(Digest::chain(None, &a), a);
        let ab = Digest::chain(Some(&a), &b);
        assert_eq!(ab, Digest::of(format!("{a} {b}").as_bytes()));
    }

    #[test]
    fn hashing_reader_sees_every_byte() {
        let mut reader = Hashing::new(&b"hello"[..]);
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
        let (digest, len, _) = reader.finish();
        assert_eq!((digest, len), (Digest::of(b"hello"), 5));
    }
}
