//! `dockyard run`: a container from a root filesystem, isolated (chapter 02) and
//! limited (chapter 03), in the foreground.

use ch02_namespaces::spec;

use crate::cli::RunArgs;

/// Runs the container in the foreground and returns its exit status.
pub fn run(args: RunArgs) -> anyhow::Result<i32> {
    // As in docker, a container is named after its id until it has a name.
    let id = spec::short_id();
    let flags = spec::RunFlags {
        args: args.command,
        hostname: Some(args.flags.hostname.clone().unwrap_or_else(|| id.clone())),
        ..args.flags
    };
    let mut spec = spec::build(&flags, &args.rootfs)?;
    ch03_cgroups::set_resources(&mut spec, &args.limits, &args.cgroup_parent, &id)?;
    ch02_namespaces::stdin_unless_interactive(flags.interactive)?;
    let exit = ch03_cgroups::run(&spec, &args.rootfs, &args.cgroup_parent, &id)?;
    if let Some(message) = exit.oom_message() {
        eprintln!("dockyard: {message}");
    }
    Ok(exit.code)
}
