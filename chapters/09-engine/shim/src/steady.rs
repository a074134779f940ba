//! The small program the supervisor becomes while its container runs
//! (`dockyard-supervisor`, see chapters/09-engine/supervisor), carried inside
//! this library so that the engine is still one file to install: the first
//! start writes it out under /run (a tmpfs), where every supervisor then
//! runs the same file, so its pages are shared.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::supervise::Error;

/// The program, as `build.rs` built it.
const PROGRAM: &[u8] = include_bytes!(env!("DOCKYARD_SUPERVISOR"));

/// `dockyard-supervisor-<digest>`: one name per build.
fn file_name() -> String {
    format!("dockyard-supervisor-{}", env!("DOCKYARD_SUPERVISOR_DIGEST"))
}

/// The program's path in `dir`, written there first if it is not yet (or
/// is not whole): to a temporary name, fsynced, then renamed, so no
/// supervisor ever runs half a file, even after a power cut (/run is not a
/// tmpfs everywhere).
pub fn install(dir: &Path) -> Result<PathBuf, Error> {
    let path = dir.join(file_name());
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == PROGRAM.len() as u64) {
        return Ok(path);
    }
    let io = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { op, path, source }
    };
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let temp = dir.join(format!(".{}.{}", file_name(), std::process::id()));
    std::fs::File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o755)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(PROGRAM)?;
            file.sync_all()
        })
        .map_err(io("write", &temp))?;
    std::fs::rename(&temp, &path).map_err(io("rename", &temp))?;
    Ok(path)
}
