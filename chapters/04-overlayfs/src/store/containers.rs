//! The container store: what each container was made from, its state, its dirs.
//!
//! A container is an image plus one writable layer. On disk:
//!
//! ```text
//! containers/<id>/config.json   id, name, image ID, creation time, the OCI runtime spec
//! containers/<id>/state.json    running / exited, pid, exit code, times (none yet: created)
//! containers/<id>/upper/        its writable layer (overlayfs upperdir)
//! containers/<id>/work/         overlayfs workdir
//! containers/<id>/merged/       where its root is mounted while it runs
//! containers/<id>/volatile      (empty) it is volatile, see below
//! containers/names/<name>       the ID that owns the name, so names are unique
//! containers/.boot              the boot the store was last opened in
//! ```
//!
//! IDs are 64 hex digits, shown as 12; wherever an ID is taken, a name or a
//! unique prefix is too, and the errors say so in docker's words.
//!
//! A container made to run once and be removed (`run --rm`) is *volatile*:
//! nothing of it needs to survive a power cut, as podman reasons for its
//! `--rm` containers, so nothing of it costs a sync. Its records are
//! written atomically (a temp file renamed into place: whole while the
//! machine runs, whichever process dies) but never fsynced (see
//! [`Durability::Volatile`]), and its root is mounted with overlayfs's
//! `volatile`. After a power cut its files may be empty or missing, so the
//! first [`ContainerStore::open`] of a new boot removes every volatile
//! container before anyone reads one: it finds them by their empty
//! `volatile` file, made before any other (an empty file has no data to
//! lose, only its name, which a journaling filesystem keeps in order with
//! the names made after it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::mount::{MntFlags, umount2};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::digest::{Digest, is_hex64};
use crate::io::{self, Durability, IoContext, IoError, TEMP_PREFIX};
use crate::overlay::{Mounted, Overlay, OverlayError};
use crate::store::lock::StoreLock;
use crate::store::{keep_if_there, names, spread};

/// Why a container operation failed. Messages follow docker's.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse { name: String, id: String },
    #[error("container {0} still has its root mounted: stop it before removing it")]
    Mounted(String),
    #[error(
        "container {0} was made to run once (--rm) on a volatile writable layer, and the machine has restarted since: its files may be incomplete, remove it"
    )]
    VolatileAfterReboot(String),
    #[error("{path} is unreadable: {cause}")]
    Corrupt {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Overlay(#[from] OverlayError),
}

impl ContainerError {
    /// Whether a container's own records are what failed: garbage in one,
    /// or one missing (a directory that is not a whole container). Not a
    /// failure of the store, which commands over all containers pass over.
    pub fn is_unreadable(&self) -> bool {
        match self {
            ContainerError::Corrupt { .. } => true,
            ContainerError::Io(err) => err.cause.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// What a container was made from; written once, at creation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerConfig {
    /// 64 hex digits.
    pub id: String,
    /// Unique among containers, without docker's leading `/`.
    pub name: String,
    /// The image's ID.
    pub image: Digest,
    /// What the user called the image (`busybox`), as `docker ps` shows it.
    pub image_name: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The OCI runtime spec the container is run from.
    pub spec: Spec,
    /// For a volatile container (see the module docs), the boot it was made
    /// in (`/proc/sys/kernel/random/boot_id`): in another, its writable
    /// layer may have lost writes to the crash that ended the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile_boot: Option<String>,
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started.
    Created,
    /// Its process is alive.
    Running,
    /// Its process ended.
    Exited,
}

/// A container's changing state; rewritten atomically on each change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Created, running or exited.
    pub status: Status,
    /// PID of its first process while running.
    pub pid: Option<i32>,
    /// Exit status once exited (128+N when killed by signal N).
    pub exit_code: Option<i32>,
    /// Last start, seconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// Last exit, seconds since the Unix epoch.
    pub finished_at: Option<u64>,
}

impl State {
    fn created() -> State {
        State {
            status: Status::Created,
            pid: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
        }
    }
}

/// One container: its config, state and directory.
#[derive(Debug, Clone)]
pub struct Container {
    /// What it was made from.
    pub config: ContainerConfig,
    /// Where it is in its life.
    pub state: State,
    /// `containers/<id>`.
    pub dir: PathBuf,
}

/// A container as a listing shows it (`docker ps`): its config's own fields,
/// the command from its spec, and its state. Read by
/// [`ContainerStore::summaries`] without the rest of the OCI spec (mounts,
/// namespaces, the seccomp profile: most of `config.json`), which a listing
/// does not show and whose full parse is most of what listing 500 containers
/// would cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// 64 hex digits.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image's ID.
    pub image: Digest,
    /// What the user called the image.
    pub image_name: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// The spec's `process.args`: the command it runs.
    pub args: Vec<String>,
    /// The spec's `annotations`: docker's labels.
    pub labels: BTreeMap<String, String>,
    /// Its state.
    pub state: State,
    /// `containers/<id>`.
    pub dir: PathBuf,
}

impl Summary {
    /// The ID as docker shows it: 12 hex digits.
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }
}

/// The part of `config.json` a [`Summary`] reads; serde skips the rest
/// without building it.
#[derive(Deserialize)]
struct SummaryConfig {
    id: String,
    name: String,
    image: Digest,
    image_name: String,
    created: u64,
    #[serde(default)]
    spec: SummarySpec,
}

/// The empty file that marks a volatile container (see the module docs).
const VOLATILE: &str = "volatile";

/// The lock every [`Creating`] holds shared: while one does, open() leaves
/// the temp directories alone.
const CREATING: &str = ".creating.lock";

/// The part of `config.json` that says which boot a volatile container was
/// made in.
#[derive(Deserialize)]
struct BootOf {
    volatile_boot: Option<String>,
}

/// The part of `config.json` [`ContainerStore::remove`] reads.
#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Default, Deserialize)]
struct SummarySpec {
    #[serde(default)]
    process: Option<SummaryProcess>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct SummaryProcess {
    #[serde(default)]
    args: Option<Vec<String>>,
}

impl Container {
    /// What a listing shows of it.
    pub fn summary(&self) -> Summary {
        Summary {
            id: self.config.id.clone(),
            name: self.config.name.clone(),
            image: self.config.image.clone(),
            image_name: self.config.image_name.clone(),
            created: self.config.created,
            args: self
                .config
                .spec
                .process()
                .as_ref()
                .and_then(|p| p.args().clone())
                .unwrap_or_default(),
            labels: (self.config.spec.annotations().iter().flatten())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            state: self.state.clone(),
            dir: self.dir.clone(),
        }
    }

    /// The ID as docker shows it: 12 hex digits.
    pub fn short_id(&self) -> &str {
        &self.config.id[..12]
    }

    /// Its writable layer.
    pub fn upper_dir(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// Where its root is mounted.
    pub fn merged_dir(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// How durably its records are written: volatile for a container made
    /// to run once (see the module docs).
    pub fn durability(&self) -> Durability {
        match self.config.volatile_boot {
            Some(_) => Durability::Volatile,
            None => Durability::Durable,
        }
    }

    /// The overlay that makes its root from the image's layers (`lowers`,
    /// top first), ready to mount. A volatile container's is mounted
    /// `volatile`; once it has been, overlayfs refuses to mount it again
    /// until the mark it left is removed, which is done here if the machine
    /// has not restarted since the container was made (nothing was lost),
    /// else refused.
    pub fn overlay(&self, lowers: Vec<PathBuf>) -> Result<Overlay, ContainerError> {
        let overlay = Overlay {
            lowers,
            upper: self.upper_dir(),
            work: self.dir.join("work"),
            volatile: self.config.volatile_boot.is_some(),
        };
        if let Some(boot) = &self.config.volatile_boot {
            if *boot != io::boot_id()? {
                return Err(ContainerError::VolatileAfterReboot(
                    self.short_id().to_string(),
                ));
            }
            overlay.clear_volatile_mark()?;
        }
        Ok(overlay)
    }
}

/// Containers under `ROOT/containers`.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    dir: PathBuf,
}

impl ContainerStore {
    /// Opens (creating if needed) the container store at `root`, removing what
    /// a crash left: half-made or half-removed containers, and names they claimed.
    pub fn open(root: &Path) -> Result<ContainerStore, ContainerError> {
        let dir = root.join("containers");
        let names = dir.join("names");
        let store = ContainerStore { dir };
        let _lock = io::in_dir(&names, || io::with_subdir(store.lock(), &names))?;
        let rebooted = store.remove_volatile_of_past_boots()?;
        if rebooted {
            // Once a boot is enough: the flag stays. See [`spread`].
            spread::spread_subdirectories(&store.dir);
        }
        // Every step that can leave a stale name behind (create claims it
        // after making its temp directory, remove frees it after renaming
        // the container to one) leaves a leftover too: without one, there
        // is no stale name to look for, and open() reads no name files
        // (which, with hundreds of containers, would be most of a `ps`).
        // A container being made is a temp directory too: those are
        // leftovers only while no one is making one.
        let crashed = match StoreLock::try_exclusive(&store.dir.join(CREATING))? {
            Some(_creators) => io::remove_leftovers(&store.dir)?,
            None => false,
        };
        if !(io::remove_leftovers(&names)? || crashed || rebooted) {
            return Ok(store);
        }
        for entry in std::fs::read_dir(&names).at("read directory", &names)? {
            let path = entry.at("read directory", &names)?.path();
            let owner = std::fs::read_to_string(&path).at("read", &path)?;
            if !store.dir.join(owner.trim()).join("config.json").exists() {
                std::fs::remove_file(&path).at("remove stale name", &path)?;
            }
        }
        Ok(store)
    }

    fn lock(&self) -> Result<StoreLock, IoError> {
        StoreLock::exclusive(&self.dir.join(".lock"))
    }

    /// At the first open in a new boot (`.boot` holds another boot's ID, or
    /// none), removes the volatile containers: made in an earlier boot, their
    /// records may have been cut short by the crash that ended it. Says
    /// whether it looked (their names are then stale). Costs two small reads
    /// at every other open.
    fn remove_volatile_of_past_boots(&self) -> Result<bool, ContainerError> {
        let boot = io::boot_id()?;
        let marker = self.dir.join(".boot");
        match std::fs::read_to_string(&marker) {
            Ok(last) if last == boot => return Ok(false),
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(err).at("read", &marker)?;
            }
            _ => {}
        }
        for id in self.ids()? {
            let dir = self.dir.join(&id);
            // Made in this boot after all (`.boot` was lost): whole, kept.
            let this_boot = || {
                read_json::<BootOf>(&dir.join("config.json"))
                    .is_ok_and(|c| c.volatile_boot.as_ref() == Some(&boot))
            };
            if dir.join(VOLATILE).exists() && !this_boot() {
                let doomed = self.dir.join(format!("{TEMP_PREFIX}removing-{id}"));
                std::fs::rename(&dir, &doomed).at("rename", &dir)?;
                std::fs::remove_dir_all(&doomed).at("remove", &doomed)?;
            }
        }
        // Lost to a power cut, it is only written again at the next open.
        io::write_unsynced(&marker, boot.as_bytes())?;
        Ok(true)
    }

    /// Creates a container of image `image` (shown as `image_name`) run from
    /// `spec`, named `name` or, without one, a fresh `adjective_surname`;
    /// volatile (see the module docs) if `durability` says so.
    pub fn create(
        &self,
        image: &Digest,
        image_name: &str,
        name: Option<&str>,
        spec: Spec,
        durability: Durability,
    ) -> Result<Container, ContainerError> {
        self.begin(names::new_id(), image, image_name, name, durability)?
            .finish(spec, &[])
    }

    /// Starts making a container, as [`create`](Self::create) does, in a
    /// directory no one else sees yet, so that its root can be mounted and
    /// its spec built before it exists: [`Creating::finish`] writes its
    /// files and puts it in place in one go; dropped unfinished, nothing of
    /// it is left. The name is checked now and claimed when it finishes.
    /// `id` is the new container's, from [`names::new_id`]: `dockyard run`
    /// picks it first, to make the container's cgroup meanwhile.
    pub fn begin(
        &self,
        id: String,
        image: &Digest,
        image_name: &str,
        name: Option<&str>,
        durability: Durability,
    ) -> Result<Creating<'_>, ContainerError> {
        let volatile_boot = match durability {
            Durability::Volatile => Some(io::boot_id()?),
            Durability::Durable => None,
        };
        // Held until it finishes, so no open() takes its directory for a
        // crash's leftover.
        let creating = StoreLock::shared(&self.dir.join(CREATING))?;
        let name = {
            let _lock = self.lock()?;
            match name {
                Some(name) => {
                    let name = name.strip_prefix('/').unwrap_or(name);
                    check_name(name)?;
                    self.check_free(name)?;
                    name.to_string()
                }
                None => self.fresh_name()?,
            }
        };
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempdir_in(&self.dir)
            .at("create a temp directory in", &self.dir)?;
        if durability == Durability::Volatile {
            // The mark first: see the module docs.
            let mark = temp.path().join(VOLATILE);
            std::fs::File::create_new(&mark).at("create", &mark)?;
        }
        for sub in ["upper", "work", "merged"] {
            let path = temp.path().join(sub);
            std::fs::create_dir(&path).at("create", &path)?;
        }
        Ok(Creating {
            store: self,
            draft: Container {
                dir: temp.path().to_path_buf(),
                config: ContainerConfig {
                    id,
                    name,
                    image: image.clone(),
                    image_name: image_name.to_string(),
                    created: now(),
                    spec: Spec::default(),
                    volatile_boot,
                },
                state: State::created(),
            },
            temp: Some(temp),
            _creating: creating,
        })
    }

    /// Refuses `name` if a container holds it.
    fn check_free(&self, name: &str) -> Result<(), ContainerError> {
        match self.name_owner(name)? {
            Some(owner) => Err(ContainerError::NameInUse {
                name: name.to_string(),
                id: owner,
            }),
            None => Ok(()),
        }
    }

    fn name_path(&self, name: &str) -> PathBuf {
        self.dir.join("names").join(name)
    }

    /// The ID of the container holding `name`, if one does.
    fn name_owner(&self, name: &str) -> Result<Option<String>, ContainerError> {
        let path = self.name_path(name);
        match std::fs::read_to_string(&path) {
            Ok(id) if is_hex64(id.trim()) && self.dir.join(id.trim()).is_dir() => {
                Ok(Some(id.trim().to_string()))
            }
            Ok(_) => Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err).at("read", &path)?,
        }
    }

    /// The name that points at container `id`, found the slow way (every
    /// name read): for a container whose config cannot say.
    fn name_of(&self, id: &str) -> Result<Option<String>, ContainerError> {
        let names = self.dir.join("names");
        for entry in std::fs::read_dir(&names).at("read directory", &names)? {
            let path = entry.at("read directory", &names)?.path();
            // A name file that cannot be read names no one (as for open()).
            if std::fs::read_to_string(&path).is_ok_and(|owner| owner.trim() == id) {
                return Ok(path.file_name().map(|n| n.to_string_lossy().into_owned()));
            }
        }
        Ok(None)
    }

    /// A random name not yet taken (docker adds a digit after a few collisions).
    fn fresh_name(&self) -> Result<String, ContainerError> {
        for attempt in 0.. {
            let mut name = names::new_name();
            if attempt >= 10 {
                name.push_str(&(attempt % 10).to_string());
            }
            if self.name_owner(&name)?.is_none() {
                return Ok(name);
            }
        }
        unreachable!("some name is free")
    }

    /// Finds a container by full ID, name, or unique ID prefix, in that order.
    pub fn get(&self, reference: &str) -> Result<Container, ContainerError> {
        let id = self.resolve(reference)?;
        self.load(&self.dir.join(id))
    }

    /// The full ID `reference` names (as [`get`](Self::get) finds it),
    /// without reading the container's records: for one whose records
    /// cannot be read.
    pub fn id_of(&self, reference: &str) -> Result<String, ContainerError> {
        self.resolve(reference)
    }

    /// Where container `id`'s files are (its records, its run lock).
    pub fn dir_of(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Only the state of container `reference`: a supervisor recording a
    /// start or an exit needs no more, and the config, with its OCI spec, is
    /// most of what [`get`](Self::get) reads and parses.
    pub fn state(&self, reference: &str) -> Result<State, ContainerError> {
        read_state(&self.dir.join(self.resolve(reference)?))
    }

    fn resolve(&self, reference: &str) -> Result<String, ContainerError> {
        if is_hex64(reference) && self.dir.join(reference).is_dir() {
            return Ok(reference.to_string());
        }
        let name = reference.strip_prefix('/').unwrap_or(reference);
        if check_name(name).is_ok()
            && let Some(id) = self.name_owner(name)?
        {
            return Ok(id);
        }
        if !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_hexdigit()) {
            let matches: Vec<String> = self
                .ids()?
                .into_iter()
                .filter(|id| id.starts_with(reference))
                .collect();
            match matches.len() {
                0 => {}
                1 => return Ok(matches[0].clone()),
                _ => return Err(ContainerError::Ambiguous(reference.to_string())),
            }
        }
        Err(ContainerError::NotFound(reference.to_string()))
    }

    fn ids(&self) -> Result<Vec<String>, ContainerError> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir).at("read directory", &self.dir)? {
            let name = entry.at("read directory", &self.dir)?.file_name();
            if let Some(id) = name.to_str().filter(|n| is_hex64(n)) {
                ids.push(id.to_string());
            }
        }
        Ok(ids)
    }

    fn load(&self, dir: &Path) -> Result<Container, ContainerError> {
        Ok(Container {
            config: read_json(&dir.join("config.json"))?,
            state: read_state(dir)?,
            dir: dir.to_path_buf(),
        })
    }

    /// Every container, newest first (as `docker ps -a` lists them), for
    /// the checks that must see every one (is an image or a volume in use?):
    /// a container whose records cannot be read fails it, naming the file.
    pub fn list(&self) -> Result<Vec<Container>, ContainerError> {
        let (containers, unreadable) = self.list_readable()?;
        match unreadable.into_iter().next() {
            Some(err) => Err(err),
            None => Ok(containers),
        }
    }

    /// [`list`](Self::list) for showing: a container whose records cannot be
    /// read is left out, as docker's daemon leaves out a container it cannot
    /// load, so one broken container does not stop every command that looks
    /// at all of them; beside the rest, why each one left out was.
    pub fn list_readable(&self) -> Result<(Vec<Container>, Vec<ContainerError>), ContainerError> {
        let (mut containers, mut unreadable) = (Vec::new(), Vec::new());
        for id in self.ids()? {
            let dir = self.dir.join(id);
            match self.load(&dir) {
                Ok(container) => containers.push(container),
                Err(err) if err.is_unreadable() => keep_if_there(&dir, err, &mut unreadable),
                Err(err) => return Err(err),
            }
        }
        containers.sort_by(|a, b| {
            (b.config.created, &b.config.id).cmp(&(a.config.created, &a.config.id))
        });
        Ok((containers, unreadable))
    }

    /// Every container as a listing shows it, newest first: [`list`](Self::list)
    /// without parsing each OCI spec. Beside them, why each container left
    /// out was: its records cannot be read.
    pub fn summaries(&self) -> Result<(Vec<Summary>, Vec<ContainerError>), ContainerError> {
        let summary = |dir: PathBuf| -> Result<Summary, ContainerError> {
            let config: SummaryConfig = read_json(&dir.join("config.json"))?;
            Ok(Summary {
                id: config.id,
                name: config.name,
                image: config.image,
                image_name: config.image_name,
                created: config.created,
                args: config.spec.process.and_then(|p| p.args).unwrap_or_default(),
                labels: config.spec.annotations.unwrap_or_default(),
                state: read_state(&dir)?,
                dir,
            })
        };
        let (mut summaries, mut unreadable) = (Vec::new(), Vec::new());
        for id in self.ids()? {
            let dir = self.dir.join(id);
            match summary(dir.clone()) {
                Ok(summary) => summaries.push(summary),
                Err(err) if err.is_unreadable() => keep_if_there(&dir, err, &mut unreadable),
                Err(err) => return Err(err),
            }
        }
        summaries.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
        Ok((summaries, unreadable))
    }

    /// Whether any container was made from image `image` (docker refuses to
    /// remove such an image without `-f`).
    pub fn uses_image(&self, image: &Digest) -> Result<bool, ContainerError> {
        Ok(self.list()?.iter().any(|c| &c.config.image == image))
    }

    /// Records container `id`'s new state, atomically; not durably (see
    /// [`io::replace_atomic`]): after a power cut a container's state may be
    /// one update behind, which the engine's liveness check corrects, since
    /// no container survives a reboot as running. A volatile container's
    /// is not synced at all: no power cut leaves it behind.
    pub fn set_state(&self, id: &str, state: &State) -> Result<(), ContainerError> {
        let dir = self.dir.join(self.resolve(id)?);
        let (path, bytes) = (dir.join("state.json"), to_json(state));
        match dir.join(VOLATILE).exists() {
            true => io::write_unsynced(&path, &bytes)?,
            false => io::replace_atomic(&path, &bytes)?,
        }
        Ok(())
    }

    /// Renames container `reference` to `new_name`, as `docker rename`: the new
    /// name is claimed, the config rewritten, then the old name freed, each step
    /// atomic. A crash between the first two leaves a claim on the new name that
    /// points at a container still called by its old one; renaming it again
    /// (to either name) repairs that.
    pub fn rename(&self, reference: &str, new_name: &str) -> Result<Container, ContainerError> {
        let _lock = self.lock()?;
        let mut container = self.get(reference)?;
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        check_name(new_name)?;
        match self.name_owner(new_name)? {
            Some(owner) if owner != container.config.id => {
                return Err(ContainerError::NameInUse {
                    name: new_name.to_string(),
                    id: owner,
                });
            }
            _ => {}
        }
        let old_name = std::mem::replace(&mut container.config.name, new_name.to_string());
        io::write_with(
            &self.name_path(new_name),
            container.config.id.as_bytes(),
            container.durability(),
        )?;
        write_config(&container)?;
        if old_name != new_name {
            let old = self.name_path(&old_name);
            std::fs::remove_file(&old).at("remove", &old)?;
        }
        Ok(container)
    }

    /// Removes container `reference` and frees its name. Its root must not be
    /// mounted: removing files under a live overlay would remove them from it.
    pub fn remove(&self, reference: &str) -> Result<(), ContainerError> {
        self.retire(reference)?.purge()
    }

    /// The first half of [`remove`](Self::remove): container `reference` is
    /// gone for everyone once this returns (its ID and name are free, no
    /// command lists it), its files are still to be deleted by
    /// [`Retired::purge`]. Deleting a directory tree is most of what a
    /// removal costs, and a caller that someone waits on (a supervisor
    /// ending `run --rm`) lets the waiter go in between. Its root must not
    /// be mounted (see [`retire_mounted`](Self::retire_mounted)).
    pub fn retire(&self, reference: &str) -> Result<Retired, ContainerError> {
        self.retire_with(reference, None)
    }

    /// [`retire`](Self::retire) a container whose root the caller has
    /// mounted (`root`, handed over), as the end of a `run --rm` has it:
    /// [`Retired::purge`] unmounts it just before the files go. Nobody needs
    /// it unmounted sooner, and an unmount is slow for what it does:
    /// umount(2) waits for an RCU grace period before it returns
    /// (`namespace_unlock` in fs/namespace.c).
    pub fn retire_mounted(
        &self,
        reference: &str,
        root: Mounted,
    ) -> Result<Retired, ContainerError> {
        self.retire_with(reference, Some(root))
    }

    fn retire_with(
        &self,
        reference: &str,
        root: Option<Mounted>,
    ) -> Result<Retired, ContainerError> {
        // Held until the purge, so no open() takes the renamed directory for
        // a crash's leftover and deletes it under us (the lock order is
        // begin's: this lock, then the store's).
        let creating = StoreLock::shared(&self.dir.join(CREATING))?;
        let _lock = self.lock()?;
        let id = self.resolve(reference)?;
        let dir = self.dir.join(&id);
        // Of its config, only the name is needed here, not the OCI spec
        // whose parse is most of what reading the whole costs. A config that
        // cannot be read does not keep a container: its name is found by
        // what points at it.
        let name = match read_json::<Named>(&dir.join("config.json")) {
            Ok(Named { name }) => Some(name),
            Err(err) if err.is_unreadable() => self.name_of(&id)?,
            Err(err) => return Err(err),
        };
        if root.is_none()
            && let Some(mounted) = Mounted::adopt(&dir.join("merged"))
        {
            // Someone else's mount (its run): not ours to unmount.
            mounted.hand_over();
            return Err(ContainerError::Mounted(id[..12].to_string()));
        }
        let doomed = self.dir.join(format!("{TEMP_PREFIX}removing-{id}"));
        std::fs::rename(&dir, &doomed).at("rename", &dir)?;
        // The mount moved with its directory: the purge finds it there.
        if let Some(root) = root {
            root.hand_over();
        }
        if let Some(name) = name {
            let name = self.name_path(&name);
            std::fs::remove_file(&name).at("remove", &name)?;
        }
        Ok(Retired {
            dir: doomed,
            _creating: creating,
        })
    }
}

/// A container [retired](ContainerStore::retire) from the store: no longer
/// there for anyone, its files not yet deleted. Dropped without a purge,
/// they are a leftover the next [`ContainerStore::open`] deletes.
#[derive(Debug)]
#[must_use = "the container's files stay until purged"]
pub struct Retired {
    dir: PathBuf,
    _creating: StoreLock,
}

impl Retired {
    /// Deletes the retired container's files, its root unmounted first if
    /// it still is ([`ContainerStore::retire_mounted`]): removing the
    /// directory would go down into the overlay.
    pub fn purge(self) -> Result<(), ContainerError> {
        if let Some(root) = Mounted::adopt(&self.dir.join("merged")) {
            root.unmount()?;
        }
        std::fs::remove_dir_all(&self.dir).at("remove", &self.dir)?;
        Ok(())
    }
}

/// A container being made (see [`ContainerStore::begin`]).
#[derive(Debug)]
pub struct Creating<'s> {
    store: &'s ContainerStore,
    /// The container as it will be, but in its temp directory.
    draft: Container,
    /// Its directory until it is renamed into place; removed when dropped.
    temp: Option<tempfile::TempDir>,
    _creating: StoreLock,
}

impl Drop for Creating<'_> {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            // A root still mounted in it is let go of first (lazily, so at
            // once): removing the directory would go down into the overlay.
            let _ = umount2(&self.draft.merged_dir(), MntFlags::MNT_DETACH);
            drop(temp);
        }
    }
}

impl Creating<'_> {
    /// The container as it will be, in the directory it is made in: where
    /// its root can be mounted (under [`Container::merged_dir`]) and its
    /// files written to before it is in place.
    pub fn draft(&self) -> &Container {
        &self.draft
    }

    /// Where its root will be once it is in place (for the spec's
    /// `root.path`; the draft's is in the temp directory).
    pub fn final_merged_dir(&self) -> PathBuf {
        self.store.dir.join(&self.draft.config.id).join("merged")
    }

    /// Writes its config (run from `spec`) and `files` (name, content) in
    /// its directory, claims its name and renames it into place: before,
    /// no one sees it; after, it is whole. A root mounted in the draft's
    /// directory moves with it.
    ///
    /// If it fails, the draft is removed, as when dropped.
    pub fn finish(
        mut self,
        spec: Spec,
        files: &[(&str, &[u8])],
    ) -> Result<Container, ContainerError> {
        let store = self.store;
        self.draft.config.spec = spec;
        let durability = self.draft.durability();
        let temp = self.draft.dir.clone();
        let config = to_json(&self.draft.config);
        for (file, bytes) in [("config.json", config.as_slice())].iter().chain(files) {
            let path = temp.join(file);
            match durability {
                // Files in a directory no one sees yet: written in place,
                // their data synced before the directory can be renamed into
                // sight, and the directory once for them all.
                Durability::Durable => io::write_new_synced(&path, bytes)?,
                Durability::Volatile => std::fs::write(&path, bytes).at("write", &path)?,
            }
        }
        // It has no state.json until it first starts: none means created.
        if durability == Durability::Durable {
            io::sync_dir(&temp)?;
        }
        let _lock = store.lock()?;
        let (id, name) = (&self.draft.config.id, &self.draft.config.name);
        // Taken meanwhile by another create or a rename.
        store.check_free(name)?;
        // Claim the name once the temp directory exists: a crash before the
        // rename below leaves a claim whose container does not exist (taken
        // as free by name_owner) and that temp directory, which tells open()
        // to look for such claims.
        io::write_with(&store.name_path(name), id.as_bytes(), durability)?;
        let dir = store.dir.join(id);
        std::fs::rename(&temp, &dir).at("rename into place", &dir)?;
        if let Some(temp) = self.temp.take() {
            // In place: no longer ours to remove.
            let _ = temp.keep();
        }
        let mut container = self.draft.clone();
        container.dir = dir;
        if durability == Durability::Durable {
            io::sync_dir(&store.dir)?;
        }
        Ok(container)
    }
}

fn check_name(name: &str) -> Result<(), ContainerError> {
    let mut bytes = name.bytes();
    let ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.len() >= 2
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ContainerError::InvalidName(name.to_string()))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec_pretty(value).expect("container records serialize")
}

/// Rewrites the container's `config.json`, atomically, as durably as the
/// container is kept.
fn write_config(container: &Container) -> Result<(), ContainerError> {
    let path = container.dir.join("config.json");
    let bytes = to_json(&container.config);
    Ok(io::write_with(&path, &bytes, container.durability())?)
}

/// The container's state: none recorded yet means it was created and
/// never started.
fn read_state(dir: &Path) -> Result<State, ContainerError> {
    let path = dir.join("state.json");
    match read_json(&path) {
        Err(ContainerError::Io(err)) if err.cause.kind() == std::io::ErrorKind::NotFound => {
            Ok(State::created())
        }
        result => result,
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ContainerError> {
    let bytes = std::fs::read(path).at("read", path)?;
    serde_json::from_slice(&bytes).map_err(|cause| ContainerError::Corrupt {
        path: path.to_path_buf(),
        cause,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, ContainerStore) {
        let root = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(root.path()).unwrap();
        (root, store)
    }

    fn image() -> Digest {
        Digest::of(b"config")
    }

    /// A durable busybox container, named `name` if given.
    fn create(store: &ContainerStore, name: Option<&str>) -> Result<Container, ContainerError> {
        store.create(
            &image(),
            "busybox",
            name,
            Spec::default(),
            Durability::Durable,
        )
    }

    #[test]
    fn a_container_has_an_id_a_name_and_its_dirs() {
        let (_root, store) = store();
        let c = create(&store, None).unwrap();
        assert!(is_hex64(&c.config.id));
        assert_eq!(c.short_id().len(), 12);
        assert!(c.config.name.contains('_'), "{}", c.config.name);
        assert!(c.upper_dir().is_dir() && c.merged_dir().is_dir());
        assert_eq!(c.state.status, Status::Created);
        for reference in [
            c.config.id.as_str(),
            c.short_id(),
            &c.config.id[..3],
            &c.config.name,
        ] {
            assert_eq!(
                store.get(reference).unwrap().config.id,
                c.config.id,
                "{reference}"
            );
        }
        assert!(store.uses_image(&image()).unwrap());
    }

    #[test]
    fn summaries_are_what_a_full_load_shows_in_the_same_order() {
        let (_root, store) = store();
        let mut process = oci_spec::runtime::Process::default();
        process.set_args(Some(vec!["sh".into(), "-c".into(), "echo hi".into()]));
        let mut spec = Spec::default();
        spec.set_process(Some(process));
        store
            .create(
                &image(),
                "busybox",
                Some("with-args"),
                spec,
                Durability::Durable,
            )
            .unwrap();
        let mut spec = Spec::default();
        spec.set_process(None);
        let bare = store
            .create(
                &image(),
                "busybox:1",
                Some("bare"),
                spec,
                Durability::Durable,
            )
            .unwrap();
        let mut state = State::created();
        state.status = Status::Exited;
        state.exit_code = Some(3);
        store.set_state(&bare.config.id, &state).unwrap();
        let full: Vec<Summary> = store
            .list()
            .unwrap()
            .iter()
            .map(Container::summary)
            .collect();
        let (summaries, unreadable) = store.summaries().unwrap();
        assert_eq!(summaries, full);
        assert!(unreadable.is_empty());
        assert_eq!(full.len(), 2);
        let args: Vec<&[String]> = full.iter().map(|s| s.args.as_slice()).collect();
        assert!(args.contains(&&["sh".to_string(), "-c".into(), "echo hi".into()][..]));
        assert!(args.contains(&&[][..]));
    }

    #[test]
    fn a_container_whose_records_cannot_be_read_is_left_out_and_can_be_removed() {
        let (_root, store) = store();
        let broken = create(&store, Some("broken")).unwrap();
        let garbled = create(&store, Some("garbled")).unwrap();
        let whole = create(&store, Some("whole")).unwrap();
        std::fs::write(broken.dir.join("config.json"), "").unwrap();
        std::fs::write(garbled.dir.join("state.json"), "{").unwrap();

        // Left out of what is shown, but not of the checks that must see all.
        assert!(store.list().unwrap_err().is_unreadable());
        let (readable, _) = store.list_readable().unwrap();
        let listed: Vec<String> = readable.into_iter().map(|c| c.config.name).collect();
        assert_eq!(listed, ["whole"]);
        let (summaries, unreadable) = store.summaries().unwrap();
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].id, whole.config.id);
        let mut said: Vec<String> = unreadable.iter().map(|e| e.to_string()).collect();
        said.sort();
        let mut expected = [
            format!(
                "{}/config.json is unreadable: EOF while parsing a value at line 1 column 0",
                broken.dir.display()
            ),
            format!(
                "{}/state.json is unreadable: EOF while parsing an object at line 1 column 1",
                garbled.dir.display()
            ),
        ];
        expected.sort();
        assert_eq!(said, expected);

        // By name, though its config cannot say its name: the name goes too.
        store.remove("broken").unwrap();
        store.remove(&garbled.config.id).unwrap();
        assert!(!broken.dir.exists() && !garbled.dir.exists());
        assert_eq!(store.name_owner("broken").unwrap(), None);
        create(&store, Some("broken")).unwrap();
        create(&store, Some("garbled")).unwrap();
    }

    #[test]
    fn rename_moves_the_name_and_keeps_names_unique() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path()).unwrap();
        let image = Digest::of(b"image");
        let a = store
            .create(
                &image,
                "img",
                Some("one"),
                Spec::default(),
                Durability::Durable,
            )
            .unwrap();
        store
            .create(
                &image,
                "img",
                Some("two"),
                Spec::default(),
                Durability::Durable,
            )
            .unwrap();
        let renamed = store.rename("one", "three").unwrap();
        assert_eq!(
            (renamed.config.id.as_str(), renamed.config.name.as_str()),
            (a.config.id.as_str(), "three")
        );
        assert_eq!(store.get("three").unwrap().config.id, a.config.id);
        assert!(matches!(store.get("one"), Err(ContainerError::NotFound(_))));
        assert!(matches!(
            store.rename("three", "two"),
            Err(ContainerError::NameInUse { .. })
        ));
        assert!(matches!(
            store.rename("three", "-bad"),
            Err(ContainerError::InvalidName(_))
        ));
        // The name "one" is free again.
        store
            .create(
                &image,
                "img",
                Some("one"),
                Spec::default(),
                Durability::Durable,
            )
            .unwrap();
    }

    #[test]
    fn names_are_unique_and_errors_use_dockers_words() {
        let (_root, store) = store();
        let web = create(&store, Some("web")).unwrap();
        let err = create(&store, Some("web")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Conflict. The container name \"/web\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                web.config.id
            )
        );
        assert_eq!(
            store.get("nope").unwrap_err().to_string(),
            "No such container: nope"
        );
        let err = create(&store, Some("-x")).unwrap_err();
        assert!(matches!(err, ContainerError::InvalidName(_)));
        store.remove("web").unwrap();
        create(&store, Some("web")).unwrap();
    }

    #[test]
    fn a_retired_container_is_gone_at_once_and_its_files_go_with_the_purge() {
        let (root, store) = store();
        let c = create(&store, Some("web")).unwrap();
        std::fs::write(c.upper_dir().join("file"), "data").unwrap();
        let retired = store.retire("web").unwrap();
        assert!(matches!(store.get("web"), Err(ContainerError::NotFound(_))));
        assert!(store.list().unwrap().is_empty());
        // Its name is free for a new container meanwhile.
        create(&store, Some("web")).unwrap();
        // Another process opening the store takes the files for no leftover
        // while the purge is due.
        let doomed = store
            .dir
            .join(format!("{TEMP_PREFIX}removing-{}", c.config.id));
        ContainerStore::open(root.path()).unwrap();
        assert!(doomed.join("upper/file").exists());
        retired.purge().unwrap();
        assert!(!doomed.exists());
        // Dropped without a purge (a crash), they are the next open's leftover.
        let c = create(&store, Some("db")).unwrap();
        drop(store.retire(c.short_id()).unwrap());
        ContainerStore::open(root.path()).unwrap();
        assert!(
            !store
                .dir
                .join(format!("{TEMP_PREFIX}removing-{}", c.config.id))
                .exists()
        );
    }

    #[test]
    fn a_root_retired_mounted_is_unmounted_by_the_purge_before_the_files_go() {
        testkit::require_root!();
        let (root, store) = store();
        let c = create(&store, Some("web")).unwrap();
        let lower = root.path().join("lower");
        std::fs::create_dir(&lower).unwrap();
        std::fs::write(lower.join("image-file"), "image").unwrap();
        let overlay = c.overlay(vec![lower.clone()]).unwrap();
        let mounted = overlay.mount(&c.merged_dir()).unwrap();
        std::fs::write(c.merged_dir().join("written"), "run").unwrap();
        let doomed = store
            .dir
            .join(format!("{TEMP_PREFIX}removing-{}", c.config.id));
        // Should anything below fail, nothing stays mounted.
        struct Unmount(PathBuf);
        impl Drop for Unmount {
            fn drop(&mut self) {
                let _ = umount2(&self.0, MntFlags::MNT_DETACH);
            }
        }
        let _guard = Unmount(doomed.join("merged"));

        assert!(matches!(
            store.retire("web"),
            Err(ContainerError::Mounted(_))
        ));
        let retired = store.retire_mounted("web", mounted).unwrap();
        assert!(matches!(store.get("web"), Err(ContainerError::NotFound(_))));
        // The mount moved with the directory and is still there.
        Mounted::adopt(&doomed.join("merged"))
            .expect("still mounted")
            .hand_over();
        assert!(doomed.join("merged/image-file").exists());
        retired.purge().unwrap();
        assert!(!doomed.exists());
        // Unmounted first: the delete did not go down into the layer.
        assert!(lower.join("image-file").exists());
    }

    #[test]
    fn an_ambiguous_prefix_is_refused() {
        let (_root, store) = store();
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(create(&store, None).unwrap().config.id);
        }
        // 40 IDs over 16 first digits: some digit is shared.
        let shared = (0..16)
            .map(|d| format!("{d:x}"))
            .find(|d| ids.iter().filter(|id| id.starts_with(d.as_str())).count() > 1)
            .unwrap();
        assert_eq!(
            store.get(&shared).unwrap_err().to_string(),
            format!("multiple IDs found with provided prefix: {shared}")
        );
        assert_eq!(store.list().unwrap().len(), 40);
    }

    #[test]
    fn state_changes_are_atomic_and_read_back() {
        let (_root, store) = store();
        let c = create(&store, Some("job")).unwrap();
        let exited = State {
            status: Status::Exited,
            pid: None,
            exit_code: Some(137),
            started_at: Some(1),
            finished_at: Some(2),
        };
        assert_eq!(store.state("job").unwrap().status, Status::Created);
        store.set_state("job", &exited).unwrap();
        assert_eq!(store.get(c.short_id()).unwrap().state, exited);
        assert_eq!(store.state(c.short_id()).unwrap(), exited);
    }

    #[test]
    fn a_new_container_has_no_state_file_and_reads_as_created() {
        let (_root, store) = store();
        let c = create(&store, Some("fresh")).unwrap();
        assert!(!c.dir.join("state.json").exists());
        assert_eq!(store.get("fresh").unwrap().state, State::created());
        assert_eq!(store.summaries().unwrap().0[0].state, State::created());
        assert_eq!(c.durability(), Durability::Durable);
        assert!(!c.overlay(vec![]).unwrap().volatile);
    }

    #[test]
    fn a_volatile_container_mounts_volatile_in_its_own_boot_only() {
        let (_root, store) = store();
        let c = store
            .create(
                &image(),
                "busybox",
                Some("once"),
                Spec::default(),
                Durability::Volatile,
            )
            .unwrap();
        let c = store.get(c.short_id()).unwrap();
        assert_eq!(c.durability(), Durability::Volatile);
        // What a volatile mount leaves, and a remount in the same boot removes.
        let mark = c.dir.join("work/work/incompat/volatile");
        std::fs::create_dir_all(mark.join("dirty")).unwrap();
        assert!(c.overlay(vec![]).unwrap().volatile);
        assert!(!mark.exists());
        // Made in another boot: its writable layer cannot be trusted.
        let mut other = c.clone();
        other.config.volatile_boot = Some("another-boot".into());
        assert!(matches!(
            other.overlay(vec![]),
            Err(ContainerError::VolatileAfterReboot(_))
        ));
    }

    #[test]
    fn the_first_open_after_a_reboot_removes_volatile_containers() {
        let (root, store) = store();
        let image = image();
        let kept = store
            .create(
                &image,
                "busybox",
                Some("kept"),
                Spec::default(),
                Durability::Durable,
            )
            .unwrap();
        let now = store
            .create(
                &image,
                "busybox",
                Some("now"),
                Spec::default(),
                Durability::Volatile,
            )
            .unwrap();
        store.set_state(&now.config.id, &State::created()).unwrap();
        // Another still open in this boot: kept, even with `.boot` gone.
        std::fs::remove_file(store.dir.join(".boot")).unwrap();
        let store = ContainerStore::open(root.path()).unwrap();
        assert_eq!(store.list().unwrap().len(), 2);
        // One from the boot before, cut short by the power cut that ended it.
        let past = store
            .create(
                &image,
                "busybox",
                Some("past"),
                Spec::default(),
                Durability::Volatile,
            )
            .unwrap();
        std::fs::write(past.dir.join("config.json"), "").unwrap();
        std::fs::write(store.name_path("past"), "").unwrap();
        assert!(
            store.name_owner("past").unwrap().is_none(),
            "an empty claim is no claim"
        );
        std::fs::write(store.dir.join(".boot"), "the-boot-before").unwrap();
        let store = ContainerStore::open(root.path()).unwrap();
        let ids: Vec<String> = store
            .list()
            .unwrap()
            .into_iter()
            .map(|c| c.config.id)
            .collect();
        assert!(
            ids.contains(&kept.config.id) && ids.contains(&now.config.id),
            "{ids:?}"
        );
        assert_eq!(ids.len(), 2);
        assert!(!store.name_path("past").exists(), "its name is freed");
    }

    #[test]
    fn a_container_being_made_is_unseen_until_it_finishes_whole() {
        let (root, store) = store();
        let creating = store
            .begin(
                names::new_id(),
                &image(),
                "busybox",
                Some("made"),
                Durability::Durable,
            )
            .unwrap();
        let draft = creating.draft().clone();
        assert!(draft.merged_dir().is_dir());
        assert!(store.list().unwrap().is_empty());
        // Another process opening the store leaves it be.
        ContainerStore::open(root.path()).unwrap();
        assert!(draft.dir.is_dir());
        assert_eq!(
            creating.final_merged_dir(),
            store.dir.join(&draft.config.id).join("merged")
        );
        let mut spec = Spec::default();
        spec.set_hostname(Some("made".into()));
        let made = creating
            .finish(spec, &[("hostconfig.json", b"{}")])
            .unwrap();
        assert!(!draft.dir.exists());
        let got = store.get("made").unwrap();
        assert_eq!(got.config.id, made.config.id);
        assert_eq!(got.config.spec.hostname().as_deref(), Some("made"));
        assert_eq!(
            std::fs::read(got.dir.join("hostconfig.json")).unwrap(),
            b"{}"
        );
        // Dropped unfinished: nothing left, the name still free.
        let dropped = store
            .begin(
                names::new_id(),
                &image(),
                "busybox",
                Some("never"),
                Durability::Volatile,
            )
            .unwrap();
        let dir = dropped.draft().dir.clone();
        drop(dropped);
        assert!(!dir.exists());
        create(&store, Some("never")).unwrap();
    }

    #[test]
    fn a_crash_in_the_middle_of_create_leaves_nothing_visible() {
        let (root, store) = store();
        // What a kill -9 between claiming a name and renaming the container in leaves.
        std::fs::write(store.name_path("half"), names::new_id()).unwrap();
        std::fs::create_dir_all(store.dir.join(".tmp-abc/upper")).unwrap();
        let store = ContainerStore::open(root.path()).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert!(!store.dir.join(".tmp-abc").exists());
        assert!(
            !store.name_path("half").exists(),
            "the stale claim is cleared"
        );
        create(&store, Some("half")).unwrap();
    }

    #[test]
    fn a_crash_while_the_store_is_first_made_leaves_one_that_opens() {
        let root = tempfile::tempdir().unwrap();
        // A kill -9 between the two mkdir(2)s of `containers/names`.
        std::fs::create_dir(root.path().join("containers")).unwrap();
        let store = ContainerStore::open(root.path()).unwrap();
        assert!(store.list().unwrap().is_empty());
        create(&store, Some("named")).unwrap();
    }
}
