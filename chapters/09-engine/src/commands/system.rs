//! `system df`: disk usage of images, containers and volumes, shared layers
//! counted once; `system prune`: every prune at once.

use std::collections::BTreeSet;
use std::path::Path;

use ch04_overlayfs::Digest;
use ch04_overlayfs::store::Status;

use crate::cli::{DfArgs, SystemPruneArgs};
use crate::commands::containers::{command, prune_stopped, status};
use crate::commands::images::{created, layer_bytes, prune_unused, show_id};
use crate::commands::{confirm, object, print_deleted, print_table};
use crate::details::Runtime;
use crate::engine::{Engine, dir_size};
use crate::human;
use crate::template::Value;

/// "1.2MB (50%)", or the size alone when there is nothing at all (docker's `Reclaimable`).
fn reclaimable(reclaimable: u64, total: u64) -> String {
    let size = human::size(reclaimable, 4);
    match (reclaimable * 100).checked_div(total) {
        Some(percent) => format!("{size} ({percent}%)"),
        None => size,
    }
}

/// `system prune`: stopped containers, then unused volumes (`--volumes`),
/// then dangling (`-a`: unused) images, after docker's warning.
pub fn prune(root: &Path, args: SystemPruneArgs) -> anyhow::Result<i32> {
    let mut warning = String::from(
        "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n",
    );
    if args.volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if args.all {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    warning.push_str("  - unused build cache\n");
    if !args.force && !confirm(&warning)? {
        return Ok(0);
    }
    let engine = Engine::open(root)?;
    let (containers, mut reclaimed) = prune_stopped(&engine)?;
    print_deleted("Containers", &containers);
    if args.volumes {
        let (volumes, bytes) = crate::commands::volumes::prune_unused(&engine, false)?;
        print_deleted("Volumes", &volumes);
        reclaimed += bytes;
    }
    let (images, bytes) = prune_unused(&engine, args.all)?;
    print_deleted("Images", &images);
    reclaimed += bytes;
    println!("Total reclaimed space: {}", human::size(reclaimed, 4));
    Ok(0)
}

/// `system df` (`-v`: per image, container and volume).
pub fn df(root: &Path, args: DfArgs) -> anyhow::Result<i32> {
    let engine = Engine::open(root)?;
    let images = engine.images.list()?;
    let containers = engine.all_containers()?;
    let sizes: Vec<(String, u64)> = engine
        .layers
        .list()?
        .into_iter()
        .map(|l| (l.chain_id.to_string(), l.size))
        .collect();
    let size_of = |chain: &str| {
        sizes
            .iter()
            .find(|(c, _)| c == chain)
            .map_or(0, |(_, s)| *s)
    };
    let stack = |top: Option<Digest>| -> anyhow::Result<BTreeSet<String>> {
        Ok(match top {
            Some(top) => engine
                .layers
                .stack(&top)?
                .into_iter()
                .map(|l| l.chain_id.to_string())
                .collect(),
            None => BTreeSet::new(),
        })
    };
    let mut image_layers = Vec::new();
    for image in &images {
        image_layers.push(stack(image.top_layer()?)?);
    }
    let users = |image: &ch04_overlayfs::store::Image| {
        containers
            .iter()
            .filter(|c| c.config.image == image.id)
            .count()
    };
    let active: BTreeSet<&String> = images
        .iter()
        .zip(&image_layers)
        .filter(|(i, _)| users(i) > 0)
        .flat_map(|(_, layers)| layers)
        .collect();
    let total = layer_bytes(&engine)?;
    let used: u64 = active.iter().map(|c| size_of(c)).sum();
    let mut container_sizes = Vec::new();
    for container in &containers {
        container_sizes.push(dir_size(&container.upper_dir())?);
    }
    let containers_total: u64 = container_sizes.iter().sum();
    let containers_reclaimable: u64 = containers
        .iter()
        .zip(&container_sizes)
        .filter(|(c, _)| c.state.status != Status::Running)
        .map(|(_, s)| s)
        .sum();
    let mut volumes = Vec::new();
    for volume in engine.volumes()?.list()? {
        let links = engine.volume_users(&volume.name)?.len();
        volumes.push((volume.name.clone(), links, dir_size(&volume.data())?));
    }
    let volumes_total: u64 = volumes.iter().map(|v| v.2).sum();
    let volumes_unused: u64 = volumes.iter().filter(|v| v.1 == 0).map(|v| v.2).sum();
    let local = |c: &ch04_overlayfs::store::Container| {
        crate::details::HostConfig::load(c).map_or(0, |h| {
            h.mounts.iter().filter(|m| m.kind == "volume").count()
        })
    };
    if !args.verbose {
        let row = |kind: &str, count: usize, active: usize, size: u64, reclaim: String| {
            object([
                ("Type", Value::Str(kind.into())),
                ("TotalCount", Value::Str(count.to_string())),
                ("Active", Value::Str(active.to_string())),
                ("Size", Value::Str(human::size(size, 4))),
                ("Reclaimable", Value::Str(reclaim)),
            ])
        };
        let rows = [
            row(
                "Images",
                images.len(),
                images.iter().filter(|i| users(i) > 0).count(),
                total,
                reclaimable(total - used, total),
            ),
            row(
                "Containers",
                containers.len(),
                containers
                    .iter()
                    .filter(|c| c.state.status == Status::Running)
                    .count(),
                containers_total,
                reclaimable(containers_reclaimable, containers_total),
            ),
            row(
                "Local Volumes",
                volumes.len(),
                volumes.iter().filter(|v| v.1 > 0).count(),
                volumes_total,
                reclaimable(volumes_unused, volumes_total),
            ),
            row("Build Cache", 0, 0, 0, reclaimable(0, 0)),
        ];
        let columns = &[
            ("Active", "ACTIVE"),
            ("Reclaimable", "RECLAIMABLE"),
            ("Size", "SIZE"),
            ("TotalCount", "TOTAL"),
            ("Type", "TYPE"),
        ];
        let default = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
        print_table(args.format.as_deref(), default, columns, &rows)?;
        return Ok(0);
    }

    println!("Images space usage:\n");
    let mut rows = Vec::new();
    for (image, layers) in images.iter().zip(&image_layers) {
        let shared: u64 = layers
            .iter()
            .filter(|c| {
                image_layers
                    .iter()
                    .filter(|other| other.contains(*c))
                    .count()
                    > 1
            })
            .map(|c| size_of(c))
            .sum();
        let size: u64 = layers.iter().map(|c| size_of(c)).sum();
        let names: Vec<String> = if image.tags.is_empty() {
            vec!["<none>:<none>".into()]
        } else {
            image.tags.clone()
        };
        for name in names {
            let (repo, tag) = name.rsplit_once(':').expect("names have a tag");
            rows.push(object([
                ("Repository", Value::Str(repo.into())),
                ("Tag", Value::Str(tag.into())),
                ("ID", Value::Str(show_id(&image.id, false))),
                ("CreatedSince", Value::Str(human::ago(created(image)))),
                ("Size", Value::Str(human::size(size, 3))),
                ("SharedSize", Value::Str(human::size(shared, 3))),
                ("UniqueSize", Value::Str(human::size(size - shared, 3))),
                ("Containers", Value::Str(users(image).to_string())),
            ]));
        }
    }
    let columns = &[
        ("Containers", "CONTAINERS"),
        ("CreatedSince", "CREATED"),
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("SharedSize", "SHARED SIZE"),
        ("Size", "SIZE"),
        ("Tag", "TAG"),
        ("UniqueSize", "UNIQUE SIZE"),
    ];
    print_table(
        None,
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        columns,
        &rows,
    )?;

    println!("\nContainers space usage:\n");
    let rows: Vec<Value> = containers
        .iter()
        .zip(&container_sizes)
        .map(|(c, size)| {
            let summary = c.summary();
            let runtime = Runtime::load(c).unwrap_or_default();
            object([
                ("ID", Value::Str(c.short_id().into())),
                ("Image", Value::Str(c.config.image_name.clone())),
                ("Command", Value::Str(command(&summary.args, false))),
                ("LocalVolumes", Value::Str(local(c).to_string())),
                ("Size", Value::Str(human::size(*size, 3))),
                ("RunningFor", Value::Str(human::ago(c.config.created))),
                ("Status", Value::Str(status(&summary, &runtime))),
                ("Names", Value::Str(c.config.name.clone())),
            ])
        })
        .collect();
    let columns = &[
        ("Command", "COMMAND"),
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("LocalVolumes", "LOCAL VOLUMES"),
        ("Names", "NAMES"),
        ("RunningFor", "CREATED"),
        ("Size", "SIZE"),
        ("Status", "STATUS"),
    ];
    print_table(
        None,
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
        columns,
        &rows,
    )?;

    println!("\nLocal Volumes space usage:\n");
    print_table(
        None,
        "table {{.Name}}\t{{.Links}}\t{{.Size}}",
        &[
            ("Links", "LINKS"),
            ("Name", "VOLUME NAME"),
            ("Size", "SIZE"),
        ],
        &volumes
            .iter()
            .map(|(name, links, size)| {
                object([
                    ("Name", Value::Str(name.clone())),
                    ("Links", Value::Str(links.to_string())),
                    ("Size", Value::Str(human::size(*size, 3))),
                ])
            })
            .collect::<Vec<_>>(),
    )?;
    println!("\nBuild cache usage: 0B\n");
    print_table(
        None,
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
        &[
            ("CacheType", "CACHE TYPE"),
            ("CreatedSince", "CREATED"),
            ("ID", "CACHE ID"),
            ("LastUsedSince", "LAST USED"),
            ("Shared", "SHARED"),
            ("Size", "SIZE"),
            ("UsageCount", "USAGE"),
        ],
        &[],
    )?;
    Ok(0)
}
