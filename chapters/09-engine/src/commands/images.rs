//! Image commands: `import`, `images`, `tag`, `rmi`, `image prune`, `history`,
//! `image inspect`, over chapter 04's image and layer stores.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use ch04_overlayfs::Digest;
use ch04_overlayfs::store::images::normalize_name;
use ch04_overlayfs::store::{Container, Image, Status};
use oci_spec::image::{
    History, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder, RootFsBuilder,
};

use crate::change;
use crate::cli::{
    HistoryArgs, ImagePruneArgs, ImagesArgs, ImportArgs, InspectArgs, RmiArgs, TagArgs,
};
use crate::commands::{Columns, confirm, object, print_deleted, print_inspect, print_table};
use crate::engine::Engine;
use crate::human;
use crate::template::{Template, Value};

/// `import`: a tar (file, `-`, or http URL) becomes a one-layer image; prints its ID.
pub fn import(root: &Path, args: ImportArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut config = oci_spec::image::Config::default();
    for instruction in &args.change {
        change::apply(&mut config, instruction)?;
    }
    if let Some(name) = &args.repository {
        normalize_name(name)?;
    }
    let source: Box<dyn Read> = if args.source == "-" {
        Box::new(std::io::stdin().lock())
    } else if args.source.starts_with("http://") || args.source.starts_with("https://") {
        let response = ureq::get(&args.source)
            .call()
            .with_context(|| format!("Get \"{}\"", args.source))?;
        Box::new(response.into_body().into_reader())
    } else {
        let file =
            std::fs::File::open(&args.source).with_context(|| format!("open {}", args.source))?;
        Box::new(file)
    };
    // Until the image exists, a hold of our own keeps the new layer from being
    // taken for a leftover; put_image hands it over to the image.
    let holder = Engine::temporary_holder();
    let layer = engine.layers.create(None, source, None, &holder)?;
    // docker's CLI sends a file as stdin, so the daemon writes "Imported from -".
    let from = if args.source.contains("://") {
        args.source.as_str()
    } else {
        "-"
    };
    let comment = args
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {from}"));
    let (secs, nanos) = human::now();
    let created = human::rfc3339(secs, nanos);
    let image_config = ImageConfigurationBuilder::default()
        .created(created.clone())
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![layer.diff_id.to_string()])
                .build()?,
        )
        .history(vec![
            HistoryBuilder::default()
                .created(created)
                .comment(comment)
                .build()?,
        ])
        .build()?;
    let image = engine.put_image(&image_config, args.repository.as_deref(), Some(&holder))?;
    println!("{}", image.id);
    Ok(0)
}

/// The Go template fields of one `docker images` row, and their column names.
const IMAGE_COLUMNS: Columns = &[
    ("Containers", "CONTAINERS"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedSince", "CREATED"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("SharedSize", "SHARED SIZE"),
    ("Size", "SIZE"),
    ("Tag", "TAG"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

/// When an image was made, seconds since the epoch (0 if its config does not say).
pub fn created(image: &Image) -> u64 {
    image
        .config
        .created()
        .as_deref()
        .and_then(human::parse_rfc3339)
        .unwrap_or(0)
}

/// An image ID as docker shows it: 12 hex digits, or `sha256:` and all 64.
pub fn show_id(id: &Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_string()
    }
}

/// `images` / `image ls`.
pub fn list(root: &Path, args: ImagesArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut dangling = None;
    let mut references = Vec::new();
    for filter in &args.filter {
        match filter.split_once('=') {
            Some(("dangling", value)) => {
                dangling = Some(match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => anyhow::bail!("Invalid filter 'dangling=[{value}]'"),
                })
            }
            Some(("reference", value)) => references.push(value.to_string()),
            _ => anyhow::bail!("invalid filter '{filter}'"),
        }
    }
    let (containers, _) = engine.containers.list_readable()?;
    let (images, unreadable) = engine.images.list_readable()?;
    for err in unreadable {
        eprintln!("dockyard: an image left out, its config unreadable: {err}");
    }
    let mut rows = Vec::new();
    for image in &images {
        // An untagged parent of another image is an intermediate image, not
        // dangling: shown only with -a, as docker does.
        let intermediate = image.tags.is_empty() && !children(image, &images).is_empty();
        if dangling.is_some_and(|d| d != (image.tags.is_empty() && !intermediate))
            || (intermediate && (dangling.is_some() || !args.all))
        {
            continue;
        }
        let size = human::size(engine.image_size(image)?, 3);
        let used = containers
            .iter()
            .filter(|c| c.config.image == image.id)
            .count();
        let names: Vec<(String, String)> = if image.tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            image
                .tags
                .iter()
                .map(|t| {
                    let (repo, tag) = t.rsplit_once(':').expect("normalized names have a tag");
                    (repo.to_string(), tag.to_string())
                })
                .collect()
        };
        for (repo, tag) in names {
            let full = format!("{repo}:{tag}");
            let wanted = |pattern: &String| glob(pattern, &repo) || glob(pattern, &full);
            if !references.iter().all(wanted)
                || args.repository.as_ref().is_some_and(|r| !wanted(r))
            {
                continue;
            }
            let created = created(image);
            rows.push(object([
                ("Containers", Value::Str(used.to_string())),
                ("CreatedAt", Value::Str(human::go_time(created))),
                ("CreatedSince", Value::Str(human::ago(created))),
                ("Digest", Value::Str("<none>".into())),
                ("ID", Value::Str(show_id(&image.id, args.no_trunc))),
                ("Repository", Value::Str(repo)),
                ("SharedSize", Value::Str("N/A".into())),
                ("Size", Value::Str(size.clone())),
                ("Tag", Value::Str(tag)),
                ("UniqueSize", Value::Str("N/A".into())),
                ("VirtualSize", Value::Str(size.clone())),
            ]));
        }
    }
    if args.quiet {
        let mut seen = Vec::new();
        for row in &rows {
            let id = Template::parse("{{.ID}}")?.render(row)?;
            if !seen.contains(&id) {
                println!("{id}");
                seen.push(id);
            }
        }
        return Ok(0);
    }
    let default = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    print_table(args.format.as_deref(), default, IMAGE_COLUMNS, &rows)?;
    Ok(0)
}

/// docker's reference filter: a pattern with `*` wildcards, matched whole.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| {
                    text.is_char_boundary(head.len() + i) && glob(tail, &text[head.len() + i..])
                })
        }
    }
}

/// `tag SOURCE TARGET`.
pub fn tag(root: &Path, args: TagArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let image = engine.images.get(&args.source)?;
    engine.images.tag(&image.id, &args.target)?;
    Ok(0)
}

/// `rmi`: untags, and deletes an image once its last name is gone, printing
/// `Untagged:` and `Deleted:` lines as docker does; an image a container was
/// made from is refused without `-f`, and kept (dangling) with it.
pub fn remove(root: &Path, args: RmiArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut failed = None;
    for reference in &args.images {
        if let Err(err) = remove_one(&engine, reference, args.force) {
            eprintln!("Error response from daemon: {err:#}");
            failed = Some(1);
        }
    }
    Ok(failed.unwrap_or(0))
}

fn remove_one(engine: &Engine, reference: &str, force: bool) -> anyhow::Result<()> {
    let image = match engine.images.get(reference) {
        Ok(image) => image,
        Err(err) if err.is_unreadable() => return remove_unreadable(engine, reference),
        Err(err) => return Err(err.into()),
    };
    let by_name = normalize_name(reference)
        .ok()
        .filter(|name| image.tags.contains(name));
    let user = engine.image_in_use(&image.id)?;
    let images = engine.images.list()?;
    let has_children = !children(&image, &images).is_empty();
    let untag = match &by_name {
        // One of several names: only that name goes.
        Some(name) if image.tags.len() > 1 => {
            engine.images.untag(name)?;
            println!("Untagged: {name}");
            return Ok(());
        }
        Some(_) => {
            if let (Some(user), false) = (&user, force) {
                anyhow::bail!(
                    "conflict: unable to remove repository reference \"{reference}\" (must force) - container {} is using its referenced image {}",
                    user.short_id(),
                    image.id.short()
                );
            }
            image.tags.clone()
        }
        None => {
            // docker's hard conflicts come first, and no -f gets past them.
            if has_children {
                anyhow::bail!(
                    "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                    image.id.short()
                );
            }
            if let Some(running) = running_user(engine, &image)? {
                anyhow::bail!(
                    "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                    image.id.short(),
                    running.short_id()
                );
            }
            if image.tags.len() > 1 && !force {
                anyhow::bail!(
                    "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    image.id.short()
                );
            }
            if let (Some(user), false) = (&user, force) {
                anyhow::bail!(
                    "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                    image.id.short(),
                    user.short_id()
                );
            }
            image.tags.clone()
        }
    };
    for name in untag {
        engine.images.untag(&name)?;
        println!("Untagged: {name}");
    }
    // An image a container uses stays (dangling) for it, and so does one an
    // image committed from it still stands on (docker keeps it as a parent,
    // shown by `images -a`).
    if user.is_none() && !has_children {
        for id in delete(engine, &image)? {
            println!("Deleted: {id}");
        }
        for id in prune_parents(engine, &image, &images)? {
            println!("Deleted: {id}");
        }
    }
    Ok(())
}

/// `rmi` of an image whose config cannot be read: nothing says what it
/// was, but its names and the layers only it holds can still go (a name
/// alone if it has others), unless a container was made from it (then,
/// whatever `-f` says, it stays: its layers are under that container's
/// root).
fn remove_unreadable(engine: &Engine, reference: &str) -> anyhow::Result<()> {
    let (id, names) = engine.images.id_and_names(reference)?;
    // One of several names: only that name goes, as for any image.
    if let Some(name) = normalize_name(reference)
        .ok()
        .filter(|name| names.len() > 1 && names.contains(name))
    {
        engine.images.untag(&name)?;
        println!("Untagged: {name}");
        return Ok(());
    }
    if let Some(user) = engine.image_in_use(&id)? {
        anyhow::bail!(
            "conflict: unable to delete {} (cannot be forced) - its config is unreadable and container {} uses it",
            id.short(),
            user.short_id()
        );
    }
    let layers = engine.images.remove(&engine.layers, &id)?;
    for name in names {
        println!("Untagged: {name}");
    }
    for id in std::iter::once(id).chain(layers) {
        println!("Deleted: {id}");
    }
    Ok(())
}

/// A running container made from `image` (its state brought up to date).
fn running_user(engine: &Engine, image: &Image) -> anyhow::Result<Option<Container>> {
    for container in engine.containers.list()? {
        if container.config.image == image.id {
            let container = engine.refresh(container)?;
            if container.state.status == Status::Running {
                return Ok(Some(container));
            }
        }
    }
    Ok(None)
}

/// Deletes the image and the layers only it held; returns what went, image first.
fn delete(engine: &Engine, image: &Image) -> anyhow::Result<Vec<Digest>> {
    let mut deleted = vec![image.id.clone()];
    deleted.extend(engine.images.remove(&engine.layers, &image.id)?);
    Ok(deleted)
}

/// After `image` went: its parent too, and the parent's, as long as each
/// has no name, no other child and no container (docker's rmi without
/// `--no-prune`); returns what went.
fn prune_parents(engine: &Engine, image: &Image, images: &[Image]) -> anyhow::Result<Vec<Digest>> {
    let mut deleted = Vec::new();
    let mut gone = vec![image.id.clone()];
    let mut next = parent(image, images);
    while let Some(up) = next {
        let others = children(up, images)
            .into_iter()
            .any(|child| !gone.contains(&child.id));
        if !up.tags.is_empty() || others || engine.image_in_use(&up.id)?.is_some() {
            break;
        }
        deleted.extend(delete(engine, up)?);
        gone.push(up.id.clone());
        next = parent(up, images);
    }
    Ok(deleted)
}

/// The local images committed from `image` (or from one committed from it):
/// their history and layers start with all of its own.
fn children<'a>(image: &Image, images: &'a [Image]) -> Vec<&'a Image> {
    let len = image.config.history().as_ref().map_or(0, Vec::len);
    images
        .iter()
        .filter(|other| {
            let history = other.config.history().clone().unwrap_or_default();
            other.id != image.id
                && history.len() > len
                && ancestor(other, &history[..len], std::slice::from_ref(image)) == Some(&image.id)
        })
        .collect()
}

/// The local image `image` was committed from (docker's `Parent`): the one
/// standing for the longest part of its history short of the whole.
fn parent<'a>(image: &Image, images: &'a [Image]) -> Option<&'a Image> {
    let history = image.config.history().clone().unwrap_or_default();
    let others: Vec<Image> = images
        .iter()
        .filter(|i| i.id != image.id)
        .cloned()
        .collect();
    (1..history.len()).rev().find_map(|len| {
        let id = ancestor(image, &history[..len], &others)?.clone();
        images.iter().find(|i| i.id == id)
    })
}

/// `image prune`: removes dangling images (with `-a`, every image no container
/// uses), printing what went and the space reclaimed.
pub fn prune(root: &Path, args: ImagePruneArgs) -> anyhow::Result<i32> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning)? {
        return Ok(0);
    }
    let engine = Engine::open(root)?;
    let (lines, reclaimed) = prune_unused(&engine, args.all)?;
    print_deleted("Images", &lines);
    println!("Total reclaimed space: {}", human::size(reclaimed, 4));
    Ok(0)
}

/// Removes the images no container uses (only dangling ones unless `all`);
/// returns docker's `untagged: ` / `deleted: ` lines and the bytes freed.
pub fn prune_unused(engine: &Engine, all: bool) -> anyhow::Result<(Vec<String>, u64)> {
    let mut lines = Vec::new();
    let before = layer_bytes(engine)?;
    engine.release_stale_holds()?;
    let mut reclaimed = before - layer_bytes(engine)?;
    // As docker: only heads (images no other stands on) are candidates; an
    // untagged parent goes with its last child.
    let images = engine.images.list()?;
    for image in &images {
        if (!all && !image.tags.is_empty())
            || !children(image, &images).is_empty()
            || engine.image_in_use(&image.id)?.is_some()
        {
            continue;
        }
        for name in &image.tags {
            engine.images.untag(name)?;
            lines.push(format!("untagged: {name}"));
        }
        let before = layer_bytes(engine)?;
        for id in delete(engine, image)?
            .into_iter()
            .chain(prune_parents(engine, image, &images)?)
        {
            lines.push(format!("deleted: {id}"));
        }
        reclaimed += before - layer_bytes(engine)?;
    }
    Ok((lines, reclaimed))
}

/// Bytes every layer in the store holds, each counted once.
pub fn layer_bytes(engine: &Engine) -> anyhow::Result<u64> {
    Ok(engine.layers.list()?.iter().map(|l| l.size).sum())
}

const HISTORY_COLUMNS: Columns = &[
    ("Comment", "COMMENT"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("CreatedSince", "CREATED"),
    ("ID", "IMAGE"),
    ("Size", "SIZE"),
];

/// `history`: the image's history entries, newest first, each with the size
/// of the layer it made.
pub fn history(root: &Path, args: HistoryArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let image = engine.images.get(&args.image)?;
    let mut layers = match image.top_layer()? {
        Some(top) => engine.layers.stack(&top)?,
        None => Vec::new(),
    };
    layers.reverse();
    let mut layers = layers.into_iter();
    let history = image.config.history().clone().unwrap_or_default();
    let ancestors = engine.images.list()?;
    let mut rows = Vec::new();
    for (i, entry) in history.iter().enumerate() {
        let size = match entry.empty_layer() {
            Some(true) => 0,
            _ => layers.next().map_or(0, |l| l.size),
        };
        let created = entry
            .created()
            .as_deref()
            .and_then(human::parse_rfc3339)
            .unwrap_or(0);
        let created_by = entry
            .created_by()
            .clone()
            .unwrap_or_default()
            .replace('\t', " ");
        rows.push(object([
            (
                "Comment",
                Value::Str(entry.comment().clone().unwrap_or_default()),
            ),
            ("CreatedAt", Value::Str(human::rfc3339(created, 0))),
            (
                "CreatedBy",
                Value::Str(if args.no_trunc {
                    created_by
                } else {
                    ellipsis(&created_by, 45)
                }),
            ),
            ("CreatedSince", Value::Str(human::ago(created))),
            (
                "ID",
                Value::Str(match ancestor(&image, &history[..=i], &ancestors) {
                    Some(id) => show_id(id, args.no_trunc),
                    None => "<missing>".into(),
                }),
            ),
            ("Size", Value::Str(human::size(size, 3))),
        ]));
    }
    rows.reverse();
    if args.quiet {
        for row in &rows {
            println!("{}", Template::parse("{{.ID}}")?.render(row)?);
        }
        return Ok(0);
    }
    let default = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
    print_table(args.format.as_deref(), default, HISTORY_COLUMNS, &rows)?;
    Ok(0)
}

/// The image whose history is `history` (a prefix of `image`'s) and whose
/// layers are the ones those entries made: `image` itself for its whole
/// history, else the local image it was committed from, if it is still here
/// (docker shows `<missing>` for a step no local image stands for).
fn ancestor<'a>(image: &'a Image, history: &[History], images: &'a [Image]) -> Option<&'a Digest> {
    let layers = history
        .iter()
        .filter(|h| h.empty_layer() != Some(true))
        .count();
    let diff_ids = image.config.rootfs().diff_ids();
    std::iter::once(image)
        .chain(images)
        .find(|other| {
            other.config.history().as_deref() == Some(history)
                && other.config.rootfs().diff_ids().as_slice()
                    == diff_ids.get(..layers).unwrap_or(&[])
        })
        .map(|other| &other.id)
}

/// docker's `Ellipsis`: at most `max` characters, the last one `…` if cut.
pub fn ellipsis(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// `image inspect`: docker's JSON for each image, or `--format` per image.
pub fn inspect(root: &Path, args: InspectArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for reference in &args.images {
        match engine.images.get(reference) {
            Ok(image) => found.push(inspect_value(&engine, &image)?),
            Err(err) => missing.push(err),
        }
    }
    print_inspect(args.format.as_deref(), &found)?;
    if let Some(err) = missing.into_iter().next() {
        return Err(err.into());
    }
    Ok(0)
}

/// One image as `docker image inspect` shows it.
pub fn inspect_value(engine: &Engine, image: &Image) -> anyhow::Result<Value> {
    let config = image.config.config().clone().unwrap_or_default();
    let strings = |list: Option<Vec<String>>| match list {
        Some(list) => Value::List(list.into_iter().map(Value::Str).collect()),
        None => Value::Null,
    };
    let text = |s: Option<String>| Value::Str(s.unwrap_or_default());
    // docker's sets (ports, volumes) are objects of empty objects.
    let set = |keys: Option<Vec<String>>| match keys {
        Some(mut keys) => {
            // Sorted, as Go's encoding/json writes a map's keys.
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k, Value::Object(Vec::new())))
                    .collect(),
            )
        }
        None => Value::Null,
    };
    let labels = match config.labels().clone() {
        Some(labels) => Value::Object(
            labels
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>()
                .into_iter()
                .map(|(k, v)| (k, Value::Str(v)))
                .collect(),
        ),
        None => Value::Null,
    };
    let comment = image
        .config
        .history()
        .as_ref()
        .and_then(|h| h.last())
        .and_then(|h| h.comment().clone());
    let mut config_value = vec![
        ("User".to_string(), text(config.user().clone())),
        ("Env".into(), strings(config.env().clone())),
        ("Entrypoint".into(), strings(config.entrypoint().clone())),
        ("Cmd".into(), strings(config.cmd().clone())),
        ("WorkingDir".into(), text(config.working_dir().clone())),
        ("Labels".into(), labels),
        ("Volumes".into(), set(config.volumes().clone())),
    ];
    // Left out when unset, as docker's `omitempty` fields are.
    if config.exposed_ports().is_some() {
        config_value.push(("ExposedPorts".into(), set(config.exposed_ports().clone())));
    }
    if let Some(signal) = config.stop_signal() {
        config_value.push(("StopSignal".into(), Value::Str(signal.clone())));
    }
    let config_value = Value::Object(config_value);
    let parent = parent(image, &engine.images.list()?).map(|p| p.id.to_string());
    Ok(object([
        ("Id", Value::Str(image.id.to_string())),
        ("RepoTags", strings(Some(image.tags.clone()))),
        ("RepoDigests", Value::List(Vec::new())),
        ("Parent", text(parent)),
        ("Comment", text(comment)),
        ("Created", text(image.config.created().clone())),
        ("Author", text(image.config.author().clone())),
        ("Config", config_value),
        (
            "Architecture",
            Value::Str(image.config.architecture().to_string()),
        ),
        ("Os", Value::Str(image.config.os().to_string())),
        ("Size", Value::Uint(engine.image_size(image)?)),
        (
            "RootFS",
            object([
                ("Type", Value::Str(image.config.rootfs().typ().clone())),
                (
                    "Layers",
                    strings(Some(image.config.rootfs().diff_ids().clone())),
                ),
            ]),
        ),
    ]))
}

/// A new image config: `base` with one more layer (`diff_id`) and a history
/// entry saying how it was made.
pub fn child_config(
    base: &ImageConfiguration,
    config: oci_spec::image::Config,
    diff_id: &Digest,
    created_by: String,
    comment: Option<String>,
    author: Option<String>,
) -> anyhow::Result<ImageConfiguration> {
    let (secs, nanos) = human::now();
    let created = human::rfc3339(secs, nanos);
    let mut child = base.clone();
    child.set_created(Some(created.clone()));
    child.set_author(author.clone());
    child.set_config(Some(config));
    child.rootfs_mut().diff_ids_mut().push(diff_id.to_string());
    let mut entry = HistoryBuilder::default()
        .created(created)
        .created_by(created_by);
    if let Some(comment) = comment {
        entry = entry.comment(comment);
    }
    if let Some(author) = author {
        entry = entry.author(author);
    }
    let mut history = child.history().clone().unwrap_or_default();
    history.push(entry.build()?);
    child.set_history(Some(history));
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filters_take_wildcards() {
        assert!(glob("busybox", "busybox"));
        assert!(glob("busy*", "busybox"));
        assert!(glob("*:latest", "busybox:latest"));
        assert!(glob("b*x:*", "busybox:1.0"));
        assert!(!glob("busy", "busybox"));
        assert!(!glob("*:1.0", "busybox:latest"));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(ellipsis("short", 45), "short");
        assert_eq!(ellipsis("sh -c echo hello", 10), "sh -c ech…");
        assert_eq!(ellipsis("0123456789", 10), "0123456789");
    }
}
