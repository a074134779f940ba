//! Transcripts: a command and what it printed, as a reader sees it in a terminal.
//!
//! Snapshot tests record transcripts, and the book shows the same snapshot files
//! (`cargo xtask book sync` copies them in, `cargo xtask test` checks they match),
//! so the outputs in the book are the outputs the tests saw.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, ExitStatus, Stdio};

/// Runs `cmd` with stdout and stderr sharing one pipe, so their lines interleave
/// as on a terminal, and returns:
///
/// ```text
/// $ PROGRAM ARGS...
/// OUTPUT
/// [exit status N]      (only when N is not 0)
/// ```
///
/// `PROGRAM` is the program's file name, not its build path. `TERM` is removed from
/// the environment so output does not depend on the terminal the tests ran from.
pub fn transcript(cmd: &mut Command) -> String {
    let (mut reader, writer) = pipe();
    cmd.env_remove("TERM")
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer.try_clone().expect("dup pipe")))
        .stderr(Stdio::from(writer));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {cmd:?}: {err}"));
    // Drop our copies of the write end (held by `cmd`) so the read sees end-of-file.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut output = String::new();
    reader
        .read_to_string(&mut output)
        .expect("read the command's output");
    let status = child.wait().expect("wait for the command");

    let program = std::path::Path::new(cmd.get_program())
        .file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned());
    let mut words = vec![program];
    words.extend(cmd.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    transcript_of(&words, &output, status)
}

/// The transcript of a command (`words`, the program's name first) that
/// printed `output` and ended with `status`, in [`transcript`]'s format: for
/// a command run some other way (on a pty, say).
pub fn transcript_of(words: &[String], output: &str, status: ExitStatus) -> String {
    let mut text = format!("$ {}\n{output}", ch01_chroot::explain::shell_words(words));
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match status.code() {
        Some(0) => {}
        Some(code) => text.push_str(&format!("[exit status {code}]\n")),
        None => text.push_str(&format!("[{status}]\n")),
    }
    text
}

fn pipe() -> (std::fs::File, OwnedFd) {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe2");
    (std::fs::File::from(read), write)
}
