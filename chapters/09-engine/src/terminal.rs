//! The caller's terminal: raw mode while keys go to a container, and the
//! detach keys (Ctrl-P Ctrl-Q) that leave it running.

use std::os::fd::AsFd;

/// The caller's terminal in raw mode (keys go to the container as typed)
/// until dropped.
#[derive(Debug)]
pub struct RawMode(nix::sys::termios::Termios);

impl RawMode {
    /// Raw mode on stdin, if it is a terminal.
    pub fn enter() -> Option<RawMode> {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = nix::sys::termios::tcsetattr(
            stdin.as_fd(),
            nix::sys::termios::SetArg::TCSANOW,
            &self.0,
        );
    }
}

/// docker's `--detach-keys`: comma-separated keys, each `ctrl-X` or one
/// character (default `ctrl-p,ctrl-q`).
pub fn detach_keys(spec: &str) -> anyhow::Result<Vec<u8>> {
    spec.split(',')
        .map(|key| {
            let invalid = || anyhow::anyhow!("Invalid detach keys ({spec}) provided");
            match key.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => {
                    let c = c.as_bytes()[0].to_ascii_uppercase();
                    match c {
                        b'@'..=b'_' => Ok(c - b'@'),
                        _ => Err(invalid()),
                    }
                }
                Some(_) => Err(invalid()),
                None if key.len() == 1 => Ok(key.as_bytes()[0]),
                None => Err(invalid()),
            }
        })
        .collect()
}

/// A watch for the detach keys of a `--detach-keys` flag, docker's
/// Ctrl-P Ctrl-Q when it is not given (`attach`, `run -it`, `exec -it`).
pub fn detach_watch(flag: Option<&str>) -> anyhow::Result<DetachWatch> {
    Ok(DetachWatch::new(detach_keys(
        flag.unwrap_or("ctrl-p,ctrl-q"),
    )?))
}

/// What docker's CLI does when the user detached from `attach` or `exec`
/// (`run -it` and `start -ai` end quietly with 0): its stream's error, `read
/// escape sequence`, printed as any error is, and 1, the status of one.
pub fn detached() -> i32 {
    eprintln!("read escape sequence");
    1
}

/// Watches typed bytes for the detach sequence.
#[derive(Debug)]
pub struct DetachWatch {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachWatch {
    /// A watch for `keys`.
    pub fn new(keys: Vec<u8>) -> DetachWatch {
        DetachWatch { keys, matched: 0 }
    }

    /// Feeds typed bytes: what to pass on to the container, and whether the
    /// whole sequence was typed (the keys of a partial match are held back
    /// until it fails, as docker does).
    pub fn feed(&mut self, bytes: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::new();
        for &b in bytes {
            if b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    return (out, true);
                }
            } else {
                out.extend_from_slice(&self.keys[..self.matched]);
                self.matched = 0;
                if b == self.keys[0] {
                    self.matched = 1;
                } else {
                    out.push(b);
                }
            }
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_read_and_match_as_dockers() {
        assert_eq!(detach_keys("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(detach_keys("a,ctrl-@").unwrap(), [b'a', 0]);
        assert!(detach_keys("ctrl-").is_err());
        let mut watch = DetachWatch::new(vec![0x10, 0x11]);
        assert_eq!(watch.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(watch.feed(b"x"), (b"\x10x".to_vec(), false));
        assert_eq!(watch.feed(b"\x10\x11rest"), (Vec::new(), true));
    }
}
