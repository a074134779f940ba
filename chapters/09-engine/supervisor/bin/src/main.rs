//! `dockyard-supervisor`: the program the engine execve(2)s into once the
//! container's init runs (see the `dockyard_supervisor` library). No std,
//! no libc: the process starts at our `_start`, with nothing set up but
//! the stack the kernel made.

#![no_std]
#![no_main]

mod mem;

use core::ffi::CStr;

use dockyard_supervisor::args::{self, Argv};
use dockyard_supervisor::{FAILED, complain, finish, heard_go, supervise, sys};

// ANCHOR: start
// The kernel starts a static executable at its entry point with the stack
// pointer on argc, then argv's pointers, a null, envp's pointers, a null
// (execve(2), the System V ABI's "initial process stack"). We pass that
// address to `start` with the stack aligned as a call expects.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {start}",
    "ud2",
    start = sym start,
);
// ANCHOR_END: start

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl _start",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "and sp, x0, #-16",
    "bl {start}",
    "brk #0",
    start = sym start,
);

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("dockyard-supervisor starts on x86_64 and aarch64 only");

// ANCHOR: main
/// The program: parse, supervise, hand the end to the finisher or run the
/// exit program.
///
/// # Safety
/// `sp` is the initial stack pointer the kernel gave `_start`.
unsafe extern "C" fn start(sp: *const usize) -> ! {
    // SAFETY: the layout of the initial stack (see above): argc, then argc
    // pointers and a null, then envp. The strings live as long as we do.
    let (argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1).cast::<*const u8>();
        (core::slice::from_raw_parts(argv, argc), argv.add(argc + 1))
    };
    // SAFETY: the kernel's argv: NUL-terminated strings for our whole life.
    let argv = unsafe { Argv::new(argv) };
    let args = match args::parse(&argv) {
        Ok(args) => args,
        Err(usage) => {
            usage.print();
            sys::exit(FAILED);
        }
    };
    // SAFETY: the engine handed these descriptors over to us; each taken once.
    let config = unsafe { args.config() };
    if let Some(go) = unsafe { args.go() }
        && !heard_go(&go)
    {
        let _ = sys::reap(&config.pidfd);
        sys::exit(FAILED);
    }
    let status = match supervise(config) {
        Ok(status) => status,
        // The container is over by now (see `supervise`).
        Err(failure) => {
            complain(&[b"supervise the container"], Some(failure.errno));
            failure.status
        }
    };
    // SAFETY: handed over by the engine like the others; taken once.
    if let Some(finisher) = unsafe { args.finisher() }
        && finish::hand_over(finisher, &args.exit, status)
    {
        sys::exit(status);
    }
    // SAFETY: the kernel's envp.
    let errno = unsafe { args::exec_exit(&args.exit, status, envp) };
    let program = args.exit.get(0).map_or(&b""[..], CStr::to_bytes);
    complain(&[b"run ", program], Some(errno));
    sys::exit(status)
}
// ANCHOR_END: main

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    complain(&[b"panicked"], None);
    sys::exit(FAILED)
}
