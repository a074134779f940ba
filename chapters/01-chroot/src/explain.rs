//! `--explain`: narrate each kernel-level step as it happens.
//!
//! Every chapter and the engine call [`explain!`](crate::explain!) just before they
//! make a syscall, mount, netlink request or firewall change. With `--explain` on,
//! the step is printed to stderr in plain words with the shell command that does
//! the same thing, so a reader can follow (and replay) what a container engine does.
//! When it is off, the macro costs one relaxed atomic load: nothing is formatted.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Width of the "what" column, so the shell equivalents line up.
const WHAT_WIDTH: usize = 44;

/// Turns narration on or off for the whole process (and children it forks).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether narration is on. Checked by [`explain!`](crate::explain!) before it formats anything.
#[inline]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Prints one step: `[explain] what    $ shell`. Call it through [`explain!`](crate::explain!).
pub fn step(what: fmt::Arguments<'_>, shell: Option<fmt::Arguments<'_>>) {
    let line = match shell {
        Some(shell) => format!("[explain] {:<WHAT_WIDTH$} $ {shell}\n", what.to_string()),
        None => format!("[explain] {what}\n"),
    };
    // One write per line, so lines from a parent and its forked child never interleave.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Narrates a step when `--explain` is on: `explain!("what", args...; "shell", args...)`.
///
/// The part after `;` is the equivalent shell command and may be left out when there
/// is none. Arguments are only evaluated and formatted when narration is on.
#[macro_export]
macro_rules! explain {
    ($($what:expr),+ ; $($shell:expr),+ $(,)?) => {
        if $crate::explain::enabled() {
            $crate::explain::step(format_args!($($what),+), Some(format_args!($($shell),+)));
        }
    };
    ($($what:expr),+ $(,)?) => {
        if $crate::explain::enabled() {
            $crate::explain::step(format_args!($($what),+), None);
        }
    };
}

/// Joins words into a command line a shell would split back into the same words,
/// quoting those that need it: `["sh", "-c", "echo hi"]` -> `sh -c 'echo hi'`.
pub fn shell_words<S: AsRef<str>>(words: &[S]) -> String {
    let quote = |word: &str| {
        let safe = !word.is_empty()
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
        if safe {
            word.to_string()
        } else {
            format!("'{}'", word.replace('\'', r"'\''"))
        }
    };
    words
        .iter()
        .map(|w| quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    #[test]
    fn shell_words_quote_only_what_needs_it() {
        assert_eq!(
            super::shell_words(&["sh", "-c", "echo it's"]),
            r"sh -c 'echo it'\''s'"
        );
        assert_eq!(
            super::shell_words(&["PATH=/bin:/usr/bin", ""]),
            "PATH=/bin:/usr/bin ''"
        );
    }

    #[test]
    fn arguments_are_not_evaluated_when_off() {
        super::enable(false);
        let evaluated = Cell::new(false);
        let costly = || {
            evaluated.set(true);
            "x"
        };
        crate::explain!("step {}", costly(); "cmd {}", costly());
        assert!(!evaluated.get());
    }
}
