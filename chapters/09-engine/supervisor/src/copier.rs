//! The container's stdio while it runs: output -> the json-file log and
//! attach clients; clients' input -> the container's stdin; new clients,
//! resizes and watchers from the attach socket. The same behaviour as the
//! shim's `Copier`, in fixed buffers.
//!
//! The attach socket's protocol (the shim's `attach`, `resize` and
//! `watch_run` speak it): a client's first byte says what it wants.
//! - `a` + a flags byte (bit 0 stdin, bit 1 stdout, bit 2 stderr, bit 3
//!   replay): an attach client. It sends raw stdin and receives the output
//!   raw with `--tty`, else in docker's multiplexed frames (8-byte header
//!   `[stream (1 or 2), 0, 0, 0, length as u32 big-endian]`).
//! - `r` + rows and cols (u16 big-endian each): TIOCSWINSZ on the pty, then
//!   `k` as the answer.
//! - `w`: a watcher, for `logs -f`: `.` at once and after each batch of
//!   logged lines; end-of-file once the run is over and all its output is
//!   in the log.
//! - anything else: closed.
//!
//! A connection is taken on at once, nonblocking, and waits in a slot of
//! its own until it has said the whole of its hello (which may come in
//! pieces); one that has not within a second ([`HELLO_TIMEOUT`]) is
//! closed. Nothing else waits for it meanwhile.

use crate::json::Stream;
use crate::log::{Lines, LogBuffers, LogWriter, MAX_LINE};
use crate::sys::{self, EAGAIN, Errno, Fd, POLLIN, POLLOUT, PollFd};

/// How many attach clients are served at once; more are closed at once.
pub const MAX_CLIENTS: usize = 32;
/// How many watchers are served at once; more are closed at once.
pub const MAX_WATCHERS: usize = 32;
/// How many new connections may be waiting to say what they want at once;
/// more wait in the listener's backlog (it is not polled meanwhile) until
/// one of these is done.
pub const MAX_WAITING: usize = 32;
/// The poll(2) slots the copier fills: outputs, listener, stdin, clients,
/// watchers, connections waiting for their hello, each at a fixed index.
pub const SLOTS: usize = 2 + 2 + MAX_CLIENTS + MAX_WATCHERS + MAX_WAITING;

const LISTENER: usize = 2;
const STDIN: usize = 3;
const CLIENTS: usize = 4;
const WATCHERS: usize = CLIENTS + MAX_CLIENTS;
const WAITING: usize = WATCHERS + MAX_WATCHERS;

/// How long a new connection has to say what it wants, in nanoseconds.
pub const HELLO_TIMEOUT: u64 = sys::NANOS;

/// How much output is read at a time.
const CHUNK: usize = 8192;
/// docker's attach frame header.
const HEADER: usize = 8;
/// How much unwritten input is held before clients are no longer read.
const MAX_PENDING: usize = 64 * 1024;
/// How much of a `--tty` run's first output is kept for the first client
/// that asks for it (a shell's banner and prompt, not a whole output).
const EARLY_MAX: usize = 4096;

/// A client's first byte on the attach socket.
const HELLO_ATTACH: u8 = b'a';
const HELLO_RESIZE: u8 = b'r';
const HELLO_WATCH: u8 = b'w';
/// The longest hello: `r` and four bytes.
const MAX_HELLO: usize = 5;

/// How long the hello that starts with `first` is, all told; `None` for an
/// unknown one.
fn hello_len(first: u8) -> Option<usize> {
    match first {
        HELLO_ATTACH => Some(2),
        HELLO_RESIZE => Some(5),
        HELLO_WATCH => Some(1),
        _ => None,
    }
}

// ANCHOR: mapped
/// Every buffer the copier uses, in one mapping (see [`Mapped::map`]).
#[derive(Debug)]
pub struct Buffers {
    log: LogBuffers,
    lines: [[u8; MAX_LINE]; 2],
    chunk: [u8; HEADER + CHUNK],
    pending: [u8; MAX_PENDING],
    early: [u8; EARLY_MAX],
}

/// [`Buffers`] in memory of their own, mmap(2)'d: its pages cost no RAM
/// until they are written, so a container that prints short lines costs a
/// few pages of them, not 220 kB. (On the stack, the compiler's stack
/// probes would touch every page of a frame that holds them, and the
/// pages of a stack stay ours once touched.)
#[derive(Debug)]
pub struct Mapped(*mut Buffers);

impl Mapped {
    /// Maps the buffers.
    pub fn map() -> Result<Mapped, Errno> {
        let addr = sys::map_zeroed(size_of::<Buffers>())?;
        Ok(Mapped(addr.cast()))
    }
    // ANCHOR_END: mapped

    /// The buffers, for as long as the mapping lives.
    pub fn buffers(&mut self) -> &mut Buffers {
        // SAFETY: the mapping is page-aligned, as large as Buffers, ours
        // alone, and zero-filled, which is a valid Buffers (byte arrays).
        unsafe { &mut *self.0 }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: our own mapping, whose borrows ended with `&mut self`.
        unsafe { sys::unmap(self.0.cast(), size_of::<Buffers>()) }
    }
}

/// The supervisor's ends of the container's stdio.
#[derive(Debug)]
pub struct Io {
    /// The stdout pipe's read end, or the pty master with `tty`.
    pub out: Fd,
    /// The stderr pipe's read end (not with `tty`).
    pub err: Option<Fd>,
    /// Where attach clients' input goes: the stdin pipe's write end, or the
    /// pty master (a dup of `out`) with `tty`.
    pub stdin: Option<Fd>,
    /// docker's `StdinOnce`: the container's stdin is closed when the first
    /// client that sends stdin closes its side.
    pub stdin_once: bool,
    /// `out` is a pty master: output is sent raw, resizes go to it.
    pub tty: bool,
}

/// One output stream and its line cutter.
#[derive(Debug)]
struct Output<'a> {
    fd: Fd,
    stream: Stream,
    lines: Lines<'a>,
}

/// An attach client.
#[derive(Debug)]
struct Client {
    fd: Fd,
    /// It sends stdin, and has not closed its side yet.
    reading: bool,
    stdout: bool,
    stderr: bool,
}

/// A connection that has not yet said the whole of its hello.
#[derive(Debug)]
struct Waiting {
    fd: Fd,
    /// What it has said so far.
    hello: [u8; MAX_HELLO],
    len: usize,
    /// When it is closed if its hello is not whole by then
    /// ([`sys::monotonic`]).
    deadline: u64,
}

/// How far a [`Waiting`] connection's hello is.
#[derive(Debug, PartialEq, Eq)]
enum Heard {
    /// All of it: `hello[..len]`.
    Whole,
    /// Not all of it yet.
    Partial,
    /// Nonsense, end-of-file or an error: the connection is closed.
    Bad,
}

impl Waiting {
    /// Reads what there is of the hello, and not a byte past it (an attach
    /// client's input may follow it at once).
    fn read(&mut self) -> Heard {
        loop {
            let want = match self.len {
                0 => 1,
                _ => match hello_len(self.hello[0]) {
                    Some(n) => n,
                    None => return Heard::Bad,
                },
            };
            if self.len == want {
                return Heard::Whole;
            }
            match sys::read(&self.fd, &mut self.hello[self.len..want]) {
                Ok(0) => return Heard::Bad,
                Ok(n) => self.len += n,
                Err(EAGAIN) => return Heard::Partial,
                Err(_) => return Heard::Bad,
            }
        }
    }
}

/// What one read of an output got.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Bytes,
    Nothing,
    End,
}

/// The copier: see the [module documentation](self).
#[derive(Debug)]
pub struct Copier<'a> {
    /// stdout then stderr (or the pty master alone); `None` after end-of-file.
    outputs: [Option<Output<'a>>; 2],
    tty: bool,
    stdin: Option<Fd>,
    stdin_once: bool,
    /// Close the container's stdin once `pending` is written.
    close_stdin: bool,
    listener: Fd,
    log: LogWriter<'a>,
    /// Whether a failed log write was reported already (once is enough).
    log_failed: bool,
    clients: [Option<Client>; MAX_CLIENTS],
    watchers: [Option<Fd>; MAX_WATCHERS],
    /// New connections, until their hello is whole.
    waiting: [Option<Waiting>; MAX_WAITING],
    /// Output read, after room for a frame header.
    chunk: &'a mut [u8; HEADER + CHUNK],
    /// Input not yet taken by the container (its pipe or pty was full).
    pending: &'a mut [u8; MAX_PENDING],
    pending_len: usize,
    /// With `--tty`: how much of the run's first output `early` holds, for
    /// the first client that asks for it (`None` once taken, or once more
    /// came than it holds).
    early_len: Option<usize>,
    early: &'a mut [u8; EARLY_MAX],
}

impl<'a> Copier<'a> {
    /// A copier for `io`, taking clients on `listener` (made nonblocking
    /// here), logging through `log`.
    pub fn new(
        buffers: &'a mut Buffers,
        io: Io,
        listener: Fd,
        log: impl FnOnce(&'a mut LogBuffers) -> Result<LogWriter<'a>, Errno>,
    ) -> Result<Copier<'a>, Errno> {
        let Buffers {
            log: log_buffers,
            lines: [out_lines, err_lines],
            chunk,
            pending,
            early,
        } = buffers;
        sys::set_nonblocking(&listener)?;
        if let Some(stdin) = &io.stdin {
            sys::set_nonblocking(stdin)?;
        }
        let out = Output {
            fd: io.out,
            stream: Stream::Stdout,
            lines: Lines::new(out_lines),
        };
        let err = io.err.map(|fd| Output {
            fd,
            stream: Stream::Stderr,
            lines: Lines::new(err_lines),
        });
        Ok(Copier {
            outputs: [Some(out), err],
            tty: io.tty,
            stdin: io.stdin,
            stdin_once: io.stdin_once,
            close_stdin: false,
            listener,
            log: log(log_buffers)?,
            log_failed: false,
            clients: [const { None }; MAX_CLIENTS],
            watchers: [const { None }; MAX_WATCHERS],
            waiting: [const { None }; MAX_WAITING],
            chunk,
            pending,
            pending_len: 0,
            early_len: io.tty.then_some(0),
            early,
        })
    }

    /// Whether an output has yet to reach end-of-file.
    pub fn copying(&self) -> bool {
        self.outputs.iter().any(Option::is_some)
    }

    /// Fills the copier's poll(2) slots, the first [`SLOTS`] of `fds`.
    pub fn fill(&self, fds: &mut [PollFd]) {
        let slot = |fd: Option<&Fd>, events| match fd {
            Some(fd) => PollFd {
                fd: fd.raw(),
                events,
                revents: 0,
            },
            None => PollFd::UNUSED,
        };
        for (i, output) in self.outputs.iter().enumerate() {
            fds[i] = slot(output.as_ref().map(|o| &o.fd), POLLIN);
        }
        // Connections are taken while a slot is free for them to wait in.
        let room_to_wait = self.waiting.iter().any(Option::is_none);
        fds[LISTENER] = slot(Some(&self.listener).filter(|_| room_to_wait), POLLIN);
        // Only when there is something to write: a pipe whose reader is gone
        // would report POLLERR on every poll.
        fds[STDIN] = slot(
            self.stdin.as_ref().filter(|_| self.pending_len > 0),
            POLLOUT,
        );
        let room = self.pending_len < MAX_PENDING;
        for (i, client) in self.clients.iter().enumerate() {
            fds[CLIENTS + i] = match client {
                // Input is read while there is room for it (or nowhere to
                // send it: then it is dropped). Without POLLIN the kernel
                // still reports a hang-up (POLLHUP).
                Some(c) if c.reading && (room || self.stdin.is_none()) => slot(Some(&c.fd), POLLIN),
                Some(c) if c.reading => PollFd::UNUSED,
                Some(c) => slot(Some(&c.fd), 0),
                None => PollFd::UNUSED,
            };
        }
        for (i, watcher) in self.watchers.iter().enumerate() {
            // A watcher sends nothing: anything but silence is its hang-up.
            fds[WATCHERS + i] = slot(watcher.as_ref(), POLLIN);
        }
        for (i, waiting) in self.waiting.iter().enumerate() {
            fds[WAITING + i] = slot(waiting.as_ref().map(|w| &w.fd), POLLIN);
        }
    }

    /// How long poll(2) may sleep as far as the copier is concerned, in
    /// nanoseconds: until the nearest hello deadline; `None` (for ever)
    /// when no connection is waiting.
    pub fn timeout(&self) -> Option<u64> {
        let deadline = self.waiting.iter().flatten().map(|w| w.deadline).min()?;
        Some(deadline.saturating_sub(sys::monotonic()))
    }

    /// Does what the slots [`fill`](Self::fill)ed say is ready, in the
    /// shim's order: output first (stdout before stderr, so what was
    /// written first is logged first as far as two pipes allow), pending
    /// input, clients, watchers, hellos (then connections whose time is
    /// up are closed), then new connections.
    pub fn step(&mut self, fds: &[PollFd]) {
        for (i, fd) in fds.iter().enumerate().take(2) {
            if fd.revents != 0 && self.read_output(i, false) == Got::End {
                self.outputs[i] = None;
            }
        }
        if fds[STDIN].revents != 0 {
            self.flush_stdin();
        }
        for i in 0..MAX_CLIENTS {
            if fds[CLIENTS + i].revents != 0 && !self.read_client(i) {
                self.clients[i] = None;
            }
        }
        for i in 0..MAX_WATCHERS {
            if fds[WATCHERS + i].revents != 0 {
                self.watchers[i] = None;
            }
        }
        for i in 0..MAX_WAITING {
            if fds[WAITING + i].revents != 0 {
                self.hear(i);
            }
        }
        if self.waiting.iter().any(Option::is_some) {
            let now = sys::monotonic();
            for slot in &mut self.waiting {
                if slot.as_ref().is_some_and(|w| w.deadline <= now) {
                    *slot = None;
                }
            }
        }
        if fds[LISTENER].revents != 0 {
            self.accept();
        }
    }

    /// When the supervisor gives up early (see [`crate::life`]): logs what
    /// the outputs hold now, partial lines included, without waiting for
    /// more. At most a full pipe's worth each (1 MiB, the default
    /// `/proc/sys/fs/pipe-max-size`), so a writer that never stops cannot
    /// keep us here.
    pub fn drain(&mut self) {
        const MAX_READS: usize = (1 << 20) / CHUNK;
        for i in 0..self.outputs.len() {
            // fcntl(2) does not fail on a descriptor we hold; if it did,
            // a read could wait, and this output is left as it is.
            if let Some(output) = &self.outputs[i]
                && sys::set_nonblocking(&output.fd).is_ok()
            {
                let mut reads = 0;
                while reads < MAX_READS && self.read_output(i, true) == Got::Bytes {
                    reads += 1;
                }
            }
            self.outputs[i] = None;
        }
    }

    /// Reads what output is there: logs whole lines, sends the bytes on.
    /// With `draining`, nothing there now is the end too.
    fn read_output(&mut self, i: usize, draining: bool) -> Got {
        let Some(output) = &mut self.outputs[i] else {
            return Got::End;
        };
        let n = match sys::read(&output.fd, &mut self.chunk[HEADER..]) {
            Ok(n) => n,
            Err(EAGAIN) if !draining => return Got::Nothing,
            // A pty master reads EIO once no slave is open (pty(7)): the
            // end, like any other error.
            Err(_) => 0,
        };
        let stream = output.stream;
        let now = sys::now();
        let (log, log_failed) = (&mut self.log, &mut self.log_failed);
        let mut logged = false;
        let mut emit = |line: &[u8]| {
            logged = true;
            // docker drops a line it cannot log and goes on; so do we, and
            // say so once (on our stderr, whatever the engine made it).
            if let Err(errno) = log.write(stream, line, now)
                && !core::mem::replace(log_failed, true)
            {
                crate::complain(&[b"write to the log"], Some(errno));
            }
        };
        if n == 0 {
            output.lines.finish(&mut emit);
        } else {
            output
                .lines
                .push(&self.chunk[HEADER..HEADER + n], &mut emit);
        }
        if logged {
            for watcher in self.watchers.iter().flatten() {
                let _ = sys::write(watcher.raw(), b".");
            }
        }
        if n > 0 {
            self.send(stream, n);
            if let Some(len) = self.early_len {
                self.early_len = (len + n <= EARLY_MAX).then(|| {
                    self.early[len..len + n].copy_from_slice(&self.chunk[HEADER..HEADER + n]);
                    len + n
                });
            }
        }
        match n {
            0 => Got::End,
            _ => Got::Bytes,
        }
    }

    /// Sends the `n` bytes read into `chunk` to the clients that want them:
    /// raw with `--tty`, else after docker's frame header. A client too slow
    /// to take them at once is let go rather than allowed to stall the
    /// container (whose pipe would fill up).
    fn send(&mut self, stream: Stream, n: usize) {
        let (kind, wanted): (u8, fn(&Client) -> bool) = match stream {
            Stream::Stdout => (1, |c| c.stdout),
            Stream::Stderr => (2, |c| c.stderr),
        };
        let len = (n as u32).to_be_bytes();
        self.chunk[..HEADER].copy_from_slice(&[kind, 0, 0, 0, len[0], len[1], len[2], len[3]]);
        let message = match self.tty {
            true => &self.chunk[HEADER..HEADER + n],
            false => &self.chunk[..HEADER + n],
        };
        for slot in &mut self.clients {
            if slot
                .as_ref()
                .is_some_and(|c| wanted(c) && sys::write_all(&c.fd, message).is_err())
            {
                *slot = None;
            }
        }
    }

    /// Reads a client's input; `false` when the client is to be dropped.
    fn read_client(&mut self, i: usize) -> bool {
        let Some(client) = &mut self.clients[i] else {
            return false;
        };
        // With nowhere to send it, input is read into the output buffer
        // (unused between steps) and dropped.
        let buf = match self.stdin {
            Some(_) => &mut self.pending[self.pending_len..],
            None => &mut self.chunk[..],
        };
        if buf.is_empty() {
            return true;
        }
        match sys::read(&client.fd, buf) {
            // An output-only client hung up.
            Ok(0) if !client.reading => false,
            Ok(0) => {
                client.reading = false;
                let keep = client.stdout || client.stderr;
                if self.stdin_once {
                    self.close_stdin = true;
                    if self.pending_len == 0 {
                        self.stdin = None;
                    }
                }
                // An output-only client may stay for the output.
                keep
            }
            Ok(n) => {
                if self.stdin.is_some() {
                    self.pending_len += n;
                    self.flush_stdin();
                }
                true
            }
            Err(EAGAIN) => true,
            Err(_) => false,
        }
    }

    /// Writes pending input to the container as far as it takes it.
    fn flush_stdin(&mut self) {
        let Some(stdin) = &self.stdin else {
            self.pending_len = 0;
            return;
        };
        while self.pending_len > 0 {
            match sys::write(stdin.raw(), &self.pending[..self.pending_len]) {
                Ok(n) => {
                    self.pending.copy_within(n..self.pending_len, 0);
                    self.pending_len -= n;
                }
                Err(EAGAIN) => return,
                Err(_) => {
                    // The container closed its stdin: input has nowhere to go.
                    self.pending_len = 0;
                    self.stdin = None;
                    return;
                }
            }
        }
        if self.close_stdin {
            self.stdin = None;
        }
    }

    /// Takes new connections while there is room for them to wait, each
    /// with a second to say what it wants.
    fn accept(&mut self) {
        let mut now = None;
        while let Some(i) = self.waiting.iter().position(Option::is_none) {
            let Ok(fd) = sys::accept(&self.listener) else {
                return;
            };
            let deadline = *now.get_or_insert_with(sys::monotonic) + HELLO_TIMEOUT;
            self.waiting[i] = Some(Waiting {
                fd,
                hello: [0; MAX_HELLO],
                len: 0,
                deadline,
            });
            // A client usually says it with its connect: heard at once.
            self.hear(i);
        }
    }

    /// Reads what waiting connection `i` says; once its hello is whole,
    /// does what it asks.
    fn hear(&mut self, i: usize) {
        let Some(waiting) = &mut self.waiting[i] else {
            return;
        };
        match waiting.read() {
            Heard::Partial => {}
            Heard::Bad => self.waiting[i] = None,
            Heard::Whole => {
                if let Some(waiting) = self.waiting[i].take() {
                    self.take_on(waiting.fd, waiting.hello);
                }
            }
        }
    }

    /// Does what a whole `hello` asks for on connection `conn`.
    fn take_on(&mut self, conn: Fd, hello: [u8; MAX_HELLO]) {
        match hello[0] {
            HELLO_ATTACH => {
                let Some(slot) = self.clients.iter_mut().find(|c| c.is_none()) else {
                    return;
                };
                let flags = hello[1];
                // Before any output this step has not read yet: nothing
                // is missed and nothing comes twice.
                if flags & 8 != 0
                    && let Some(len) = self.early_len.take()
                    && sys::write_all(&conn, &self.early[..len]).is_err()
                {
                    return;
                }
                *slot = Some(Client {
                    fd: conn,
                    reading: flags & 1 != 0,
                    stdout: flags & 2 != 0,
                    stderr: flags & 4 != 0,
                });
            }
            HELLO_RESIZE => {
                // It is the container's own pty: the kernel signals its
                // foreground process group (SIGWINCH).
                if let (true, Some(tty)) = (self.tty, &self.outputs[0]) {
                    let rows = u16::from_be_bytes([hello[1], hello[2]]);
                    let cols = u16::from_be_bytes([hello[3], hello[4]]);
                    let _ = sys::set_window_size(&tty.fd, rows, cols);
                }
                // A new socket's buffer has room for a byte.
                let _ = sys::write_all(&conn, b"k");
            }
            // Told at once to look (lines may have come before it was
            // taken on), then after each batch of lines logged. Never
            // blocks us: a byte not yet read says "look again" as well
            // as two.
            HELLO_WATCH => {
                if let Some(slot) = self.watchers.iter_mut().find(|w| w.is_none()) {
                    let _ = sys::write(conn.raw(), b".");
                    *slot = Some(conn);
                }
            }
            _ => {}
        }
    }
}
