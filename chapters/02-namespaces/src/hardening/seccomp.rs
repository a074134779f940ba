//! Seccomp: a filter in the kernel that answers each system call before it runs.
//!
//! # Allowlist, like docker, not a denylist
//!
//! docs.docker.com ("Seccomp security profiles for Docker") describes docker's
//! default profile as an allowlist: a call not named is refused with `EPERM`, and
//! the page lists the significant ones this refuses (`mount`, `umount2`, `unshare`,
//! `setns`, `swapon`/`swapoff`, `reboot`, `kexec_load`, `init_module`, `bpf`,
//! `keyctl`, `ptrace`, `perf_event_open`, `clock_settime`, `userfaultfd`, ...).
//! We keep the allowlist shape because it fails closed: a system call added by a
//! newer kernel, which nobody has reviewed, is refused until someone allows it,
//! whereas a denylist would let it through silently. The cost is a long list,
//! which is ordinary data below, written from the syscall tables (`libc::SYS_*`),
//! not copied from moby's `default.json`.
//!
//! Three calls get conditions, as in docker's profile: `clone` only without
//! namespace flags (making namespaces needs CAP_SYS_ADMIN, which is dropped),
//! `socket` for every family except `AF_VSOCK`, `personality` only for the
//! harmless personas; and `clone3` answers `ENOSYS` (its flags sit in memory,
//! where a filter cannot look, so libc is told to fall back to `clone`).
//!
//! The policy travels in the spec (`linux.seccomp`, OCI form with names), so
//! runc applies the same one to the same bundle; [`compile`] turns any such
//! policy into BPF with the seccompiler crate (pure Rust, no libseccomp).

use std::collections::BTreeMap;

use ch01_chroot::explain;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArgBuilder, LinuxSeccompBuilder,
    LinuxSeccompOperator, LinuxSyscall, LinuxSyscallBuilder,
};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::Error;
use crate::channel::Failure;

/// Builds `(name, number)` pairs from `libc::SYS_*` constants.
macro_rules! syscalls {
    ($($sys:ident),* $(,)?) => {
        &[$((stringify!($sys), libc::$sys)),*]
    };
}

/// System calls every architecture has, allowed unconditionally.
const ALLOWED: &[(&str, i64)] = syscalls![
    SYS_accept,
    SYS_accept4,
    SYS_bind,
    SYS_brk,
    SYS_capget,
    SYS_capset,
    SYS_chdir,
    SYS_chroot,
    SYS_clock_getres,
    SYS_clock_gettime,
    SYS_clock_nanosleep,
    SYS_close,
    SYS_close_range,
    SYS_connect,
    SYS_copy_file_range,
    SYS_dup,
    SYS_dup3,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_epoll_pwait2,
    SYS_eventfd2,
    SYS_execve,
    SYS_execveat,
    SYS_exit,
    SYS_exit_group,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_fadvise64,
    SYS_fallocate,
    SYS_fanotify_mark,
    SYS_fchdir,
    SYS_fchmod,
    SYS_fchmodat,
    SYS_fchown,
    SYS_fchownat,
    SYS_fcntl,
    SYS_fdatasync,
    SYS_fgetxattr,
    SYS_flistxattr,
    SYS_flock,
    SYS_fremovexattr,
    SYS_fsetxattr,
    SYS_fstat,
    SYS_fstatfs,
    SYS_fsync,
    SYS_ftruncate,
    SYS_futex,
    SYS_futex_waitv,
    SYS_get_robust_list,
    SYS_getcpu,
    SYS_getcwd,
    SYS_getdents64,
    SYS_getegid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getgroups,
    SYS_getitimer,
    SYS_getpeername,
    SYS_getpgid,
    SYS_getpid,
    SYS_getppid,
    SYS_getpriority,
    SYS_getrandom,
    SYS_getresgid,
    SYS_getresuid,
    SYS_getrlimit,
    SYS_getrusage,
    SYS_getsid,
    SYS_getsockname,
    SYS_getsockopt,
    SYS_gettid,
    SYS_gettimeofday,
    SYS_getuid,
    SYS_getxattr,
    SYS_inotify_add_watch,
    SYS_inotify_init1,
    SYS_inotify_rm_watch,
    SYS_io_cancel,
    SYS_io_destroy,
    SYS_io_getevents,
    SYS_io_setup,
    SYS_io_submit,
    SYS_io_uring_enter,
    SYS_io_uring_register,
    SYS_io_uring_setup,
    SYS_ioctl,
    SYS_ioprio_get,
    SYS_ioprio_set,
    SYS_kill,
    SYS_landlock_add_rule,
    SYS_landlock_create_ruleset,
    SYS_landlock_restrict_self,
    SYS_lgetxattr,
    SYS_linkat,
    SYS_listen,
    SYS_listxattr,
    SYS_llistxattr,
    SYS_lremovexattr,
    SYS_lseek,
    SYS_lsetxattr,
    SYS_madvise,
    SYS_membarrier,
    SYS_memfd_create,
    SYS_mincore,
    SYS_mkdirat,
    SYS_mknodat,
    SYS_mlock,
    SYS_mlock2,
    SYS_mlockall,
    SYS_mmap,
    SYS_mprotect,
    SYS_mq_getsetattr,
    SYS_mq_notify,
    SYS_mq_open,
    SYS_mq_timedreceive,
    SYS_mq_timedsend,
    SYS_mq_unlink,
    SYS_mremap,
    SYS_msgctl,
    SYS_msgget,
    SYS_msgrcv,
    SYS_msgsnd,
    SYS_msync,
    SYS_munlock,
    SYS_munlockall,
    SYS_munmap,
    SYS_nanosleep,
    SYS_newfstatat,
    SYS_openat,
    SYS_openat2,
    SYS_pidfd_getfd,
    SYS_pidfd_open,
    SYS_pidfd_send_signal,
    SYS_pipe2,
    SYS_pkey_alloc,
    SYS_pkey_free,
    SYS_pkey_mprotect,
    SYS_ppoll,
    SYS_prctl,
    SYS_pread64,
    SYS_preadv,
    SYS_preadv2,
    SYS_prlimit64,
    SYS_process_mrelease,
    SYS_pselect6,
    SYS_pwrite64,
    SYS_pwritev,
    SYS_pwritev2,
    SYS_read,
    SYS_readahead,
    SYS_readlinkat,
    SYS_readv,
    SYS_recvfrom,
    SYS_recvmmsg,
    SYS_recvmsg,
    SYS_remap_file_pages,
    SYS_removexattr,
    SYS_renameat,
    SYS_renameat2,
    SYS_restart_syscall,
    SYS_rseq,
    SYS_rt_sigaction,
    SYS_rt_sigpending,
    SYS_rt_sigprocmask,
    SYS_rt_sigqueueinfo,
    SYS_rt_sigreturn,
    SYS_rt_sigsuspend,
    SYS_rt_sigtimedwait,
    SYS_rt_tgsigqueueinfo,
    SYS_sched_get_priority_max,
    SYS_sched_get_priority_min,
    SYS_sched_getaffinity,
    SYS_sched_getattr,
    SYS_sched_getparam,
    SYS_sched_getscheduler,
    SYS_sched_rr_get_interval,
    SYS_sched_setaffinity,
    SYS_sched_setattr,
    SYS_sched_setparam,
    SYS_sched_setscheduler,
    SYS_sched_yield,
    SYS_seccomp,
    SYS_semctl,
    SYS_semget,
    SYS_semop,
    SYS_semtimedop,
    SYS_sendfile,
    SYS_sendmmsg,
    SYS_sendmsg,
    SYS_sendto,
    SYS_set_robust_list,
    SYS_set_tid_address,
    SYS_setfsgid,
    SYS_setfsuid,
    SYS_setgid,
    SYS_setgroups,
    SYS_setitimer,
    SYS_setpgid,
    SYS_setpriority,
    SYS_setregid,
    SYS_setresgid,
    SYS_setresuid,
    SYS_setreuid,
    SYS_setrlimit,
    SYS_setsid,
    SYS_setsockopt,
    SYS_setuid,
    SYS_setxattr,
    SYS_shmat,
    SYS_shmctl,
    SYS_shmdt,
    SYS_shmget,
    SYS_shutdown,
    SYS_sigaltstack,
    SYS_signalfd4,
    SYS_socketpair,
    SYS_splice,
    SYS_statfs,
    SYS_statx,
    SYS_symlinkat,
    SYS_sync,
    SYS_sync_file_range,
    SYS_syncfs,
    SYS_sysinfo,
    SYS_tee,
    SYS_tgkill,
    SYS_timer_create,
    SYS_timer_delete,
    SYS_timer_getoverrun,
    SYS_timer_gettime,
    SYS_timer_settime,
    SYS_timerfd_create,
    SYS_timerfd_gettime,
    SYS_timerfd_settime,
    SYS_times,
    SYS_tkill,
    SYS_truncate,
    SYS_umask,
    SYS_uname,
    SYS_unlinkat,
    SYS_utimensat,
    SYS_vmsplice,
    SYS_wait4,
    SYS_waitid,
    SYS_write,
    SYS_writev,
];

/// The older calls x86_64 keeps (newer architectures only have the `*at` forms).
#[cfg(target_arch = "x86_64")]
const ALLOWED_ARCH: &[(&str, i64)] = syscalls![
    SYS_access,
    SYS_alarm,
    SYS_arch_prctl,
    SYS_chmod,
    SYS_chown,
    SYS_creat,
    SYS_dup2,
    SYS_epoll_create,
    SYS_epoll_wait,
    SYS_eventfd,
    SYS_fork,
    SYS_futimesat,
    SYS_getdents,
    SYS_getpgrp,
    SYS_inotify_init,
    SYS_lchown,
    SYS_link,
    SYS_lstat,
    SYS_mkdir,
    SYS_mknod,
    SYS_open,
    SYS_pause,
    SYS_pipe,
    SYS_poll,
    SYS_readlink,
    SYS_rename,
    SYS_rmdir,
    SYS_select,
    SYS_signalfd,
    SYS_stat,
    SYS_symlink,
    SYS_time,
    SYS_unlink,
    SYS_utime,
    SYS_utimes,
    SYS_vfork,
];
#[cfg(not(target_arch = "x86_64"))]
const ALLOWED_ARCH: &[(&str, i64)] = &[];

/// Calls allowed only with some arguments, and `clone3`, answered ENOSYS.
const CONDITIONAL: &[(&str, i64)] = syscalls![SYS_clone, SYS_clone3, SYS_personality, SYS_socket];

/// The namespace flags of clone(2): CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;
/// `AF_VSOCK`, the one socket family docker's profile refuses.
const AF_VSOCK: u64 = 40;
/// Personas docker allows: PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and the query.
const PERSONAS: [u64; 5] = [0x0, 0x20000, 0x0008, 0x20008, 0xffff_ffff];

/// The system call table: a name in a policy becomes a number here. It holds
/// the calls docker's profile names for this architecture; [`compile`] skips
/// other names in allow rules (refusing more) and rejects them elsewhere.
fn number(name: &str) -> Option<i64> {
    ALLOWED
        .iter()
        .chain(ALLOWED_ARCH)
        .chain(CONDITIONAL)
        .find(|(sys, _)| sys.strip_prefix("SYS_") == Some(name))
        .map(|&(_, nr)| nr)
}

fn name(sys: &str) -> String {
    sys.strip_prefix("SYS_").unwrap_or(sys).to_string()
}

/// Docker's default policy, as the `linux.seccomp` section of a spec.
pub fn docker_default() -> LinuxSeccomp {
    let rule = |names: Vec<String>,
                action,
                errno: Option<u32>,
                arg: Option<(u64, LinuxSeccompOperator, Option<u64>)>| {
        let mut b = LinuxSyscallBuilder::default().names(names).action(action);
        if let Some(errno) = errno {
            b = b.errno_ret(errno);
        }
        if let Some((value, op, two)) = arg {
            let mut a = LinuxSeccompArgBuilder::default()
                .index(0usize)
                .value(value)
                .op(op);
            if let Some(two) = two {
                a = a.value_two(two);
            }
            b = b.args(vec![a.build().expect("valid seccomp arg")]);
        }
        b.build().expect("valid seccomp rule")
    };
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut syscalls = vec![rule(
        ALLOWED
            .iter()
            .chain(ALLOWED_ARCH)
            .map(|(s, _)| name(s))
            .collect(),
        allow,
        None,
        None,
    )];
    syscalls.push(rule(
        vec!["socket".into()],
        allow,
        None,
        Some((AF_VSOCK, LinuxSeccompOperator::ScmpCmpNe, None)),
    ));
    for persona in PERSONAS {
        syscalls.push(rule(
            vec!["personality".into()],
            allow,
            None,
            Some((persona, LinuxSeccompOperator::ScmpCmpEq, None)),
        ));
    }
    // SCMP_CMP_MASKED_EQ: (arg & value) == valueTwo, i.e. no namespace flag set.
    syscalls.push(rule(
        vec!["clone".into()],
        allow,
        None,
        Some((
            CLONE_NAMESPACE_FLAGS,
            LinuxSeccompOperator::ScmpCmpMaskedEq,
            Some(0),
        )),
    ));
    syscalls.push(rule(
        vec!["clone3".into()],
        LinuxSeccompAction::ScmpActErrno,
        Some(libc::ENOSYS as u32),
        None,
    ));

    let arch = match std::env::consts::ARCH {
        "aarch64" => Arch::ScmpArchAarch64,
        "riscv64" => Arch::ScmpArchRiscv64,
        _ => Arch::ScmpArchX86_64,
    };
    LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(libc::EPERM as u32)
        .architectures(vec![arch])
        .syscalls(syscalls)
        .build()
        .expect("valid seccomp policy")
}

/// Why a policy could not be turned into BPF.
#[derive(Debug, thiserror::Error)]
#[error("seccomp policy: {0}")]
pub struct CompileError(String);

/// Compiles an OCI seccomp policy into BPF programs, to be installed in order.
///
/// A seccompiler filter has one action for the calls it matches and one for the
/// rest, so the policy becomes one filter per action: first the allow rules with
/// the default action for the rest, then one filter for each other action (such
/// as clone3's ENOSYS) that allows everything it does not match. With several
/// filters the kernel runs them all, newest first, and keeps the answer of
/// highest precedence (seccomp(2): errno beats allow); between two errnos the
/// newest filter's wins, which is why the exceptions are installed last.
pub fn compile(policy: &LinuxSeccomp) -> Result<Vec<BpfProgram>, CompileError> {
    let arch =
        TargetArch::try_from(std::env::consts::ARCH).map_err(|e| CompileError(e.to_string()))?;
    let default = action(policy.default_action(), policy.default_errno_ret())?;
    // Per action, per call: `None` matches unconditionally, `Some(rules)` when any rule matches.
    type Rules = BTreeMap<i64, Option<Vec<SeccompRule>>>;
    let mut groups: Vec<(SeccompAction, Rules)> = vec![(SeccompAction::Allow, BTreeMap::new())];
    for syscall in policy.syscalls().iter().flatten() {
        let act = action(syscall.action(), syscall.errno_ret())?;
        let allows = act == SeccompAction::Allow;
        let index = match groups.iter().position(|(a, _)| *a == act) {
            Some(i) => i,
            None => {
                groups.push((act, BTreeMap::new()));
                groups.len() - 1
            }
        };
        let rule = conditions(syscall)?;
        let mut numbers = Vec::new();
        for name in syscall.names() {
            match number(name) {
                Some(nr) => numbers.push(nr),
                // Skipping an unknown name in an allow rule only refuses more;
                // skipping it in any other rule would let the call through.
                None if allows => {}
                None => {
                    return Err(CompileError(format!(
                        "cannot refuse {name:?}: not in dockyard's system call table"
                    )));
                }
            }
        }
        for nr in numbers {
            let entry = groups[index]
                .1
                .entry(nr)
                .or_insert_with(|| Some(Vec::new()));
            match (&rule, entry.as_mut()) {
                (None, _) => *entry = None,
                (Some(rule), Some(rules)) => rules.push(rule.clone()),
                (Some(_), None) => {}
            }
        }
    }
    let mut programs = Vec::new();
    for (i, (act, rules)) in groups.into_iter().enumerate() {
        let (mismatch, matched) = if i == 0 {
            (default.clone(), act)
        } else {
            (SeccompAction::Allow, act)
        };
        if rules.is_empty() && i != 0 || mismatch == matched {
            continue;
        }
        let rules = rules
            .into_iter()
            .map(|(nr, rules)| (nr, rules.unwrap_or_default()))
            .collect();
        let filter = SeccompFilter::new(rules, mismatch, matched, arch)
            .map_err(|e| CompileError(e.to_string()))?;
        programs.push(BpfProgram::try_from(filter).map_err(|e| CompileError(e.to_string()))?);
    }
    Ok(programs)
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<SeccompAction, CompileError> {
    Ok(match action {
        LinuxSeccompAction::ScmpActAllow => SeccompAction::Allow,
        LinuxSeccompAction::ScmpActErrno => {
            SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32))
        }
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            SeccompAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => SeccompAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => SeccompAction::Trap,
        LinuxSeccompAction::ScmpActLog => SeccompAction::Log,
        LinuxSeccompAction::ScmpActTrace => SeccompAction::Trace(errno.unwrap_or(0)),
        other => return Err(CompileError(format!("action {other} is not supported"))),
    })
}

/// The argument conditions of one rule (ANDed), or `None` when it has none.
fn conditions(syscall: &LinuxSyscall) -> Result<Option<SeccompRule>, CompileError> {
    let Some(args) = syscall.args().as_ref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let conds = args
        .iter()
        .map(|arg| {
            let op = match arg.op() {
                LinuxSeccompOperator::ScmpCmpNe => SeccompCmpOp::Ne,
                LinuxSeccompOperator::ScmpCmpLt => SeccompCmpOp::Lt,
                LinuxSeccompOperator::ScmpCmpLe => SeccompCmpOp::Le,
                LinuxSeccompOperator::ScmpCmpEq => SeccompCmpOp::Eq,
                LinuxSeccompOperator::ScmpCmpGe => SeccompCmpOp::Ge,
                LinuxSeccompOperator::ScmpCmpGt => SeccompCmpOp::Gt,
                LinuxSeccompOperator::ScmpCmpMaskedEq => SeccompCmpOp::MaskedEq(arg.value()),
            };
            let value = match arg.op() {
                LinuxSeccompOperator::ScmpCmpMaskedEq => arg.value_two().unwrap_or(0),
                _ => arg.value(),
            };
            let index = u8::try_from(arg.index())
                .map_err(|_| CompileError(format!("argument index {}", arg.index())))?;
            SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
                .map_err(|e| CompileError(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    SeccompRule::new(conds)
        .map(Some)
        .map_err(|e| CompileError(e.to_string()))
}

// ANCHOR: install
/// Installs the compiled filters: the last step before execve(2), since from
/// here on the process itself may no longer mount, unshare or change much.
pub(crate) fn install(programs: &[BpfProgram]) -> Result<(), Failure> {
    explain!(
        "seccomp(2): install {} BPF filters, refusing what docker's profile refuses",
        programs.len()
    );
    for program in programs {
        seccompiler::apply_filter(program).map_err(|err| Failure::Caps {
            step: "install seccomp filter".into(),
            message: err.to_string(),
        })?;
    }
    Ok(())
}
// ANCHOR_END: install

/// [`install`] for a process that enters a running container (`exec`), with
/// this crate's error: it gets the container's filters, as runc's `exec` does.
pub fn apply(programs: &[BpfProgram]) -> Result<(), Error> {
    install(programs).map_err(|failure| Error::Hardening(failure.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_default_compiles_into_an_allowlist_and_an_enosys_filter() {
        let programs = compile(&docker_default()).unwrap();
        assert_eq!(programs.len(), 2);
    }

    #[test]
    fn a_call_we_cannot_name_is_never_silently_allowed() {
        let rule = |action| {
            LinuxSyscallBuilder::default()
                .names(vec!["mount".to_string(), "read".to_string()])
                .action(action)
                .build()
                .unwrap()
        };
        let policy = |default, action| {
            LinuxSeccompBuilder::default()
                .default_action(default)
                .syscalls(vec![rule(action)])
                .build()
                .unwrap()
        };
        use LinuxSeccompAction::{ScmpActAllow, ScmpActErrno};
        assert!(compile(&policy(ScmpActErrno, ScmpActAllow)).is_ok());
        let err = compile(&policy(ScmpActAllow, ScmpActErrno)).unwrap_err();
        assert!(err.to_string().contains("\"mount\""), "{err}");
    }

    #[test]
    fn refused_calls_are_not_in_the_allowlist() {
        let policy = docker_default();
        let allowed: Vec<&String> = policy
            .syscalls()
            .iter()
            .flatten()
            .filter(|s| s.args().is_none() && s.action() == LinuxSeccompAction::ScmpActAllow)
            .flat_map(|s| s.names())
            .collect();
        for refused in [
            "mount",
            "umount2",
            "unshare",
            "setns",
            "swapon",
            "swapoff",
            "reboot",
            "bpf",
            "keyctl",
            "ptrace",
            "kexec_load",
            "init_module",
            "pivot_root",
        ] {
            assert!(
                !allowed.iter().any(|n| *n == refused),
                "{refused} must be refused"
            );
        }
        assert!(allowed.iter().any(|n| *n == "execve"));
    }
}
