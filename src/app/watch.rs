//! Live configuration: the config file, its recipe directories and the web config file
//! (with the certificates and keys it names) are polled, and a change reloads them, as a
//! `SIGHUP` would, with the same rule: a broken new file is logged and counted, and the
//! last good configuration keeps serving.
//!
//! Polling, not inotify, for the same reason as the tail source: Kubernetes updates a
//! mounted ConfigMap or Secret by swapping a `..data` symlink to a new directory, which
//! inotify on the file itself never sees, and cert-manager's renewals arrive the same way.
//! A poll `stat`s each file through its links (device, inode, size, modification time),
//! which sees that swap and an in-place edit alike, and costs a few syscalls per interval.
//!
//! A change is acted on once it has held still for one settle period (a second, or the
//! interval if shorter): an editor writing the file in place is not caught half-way. A
//! failed reload is not retried until the files change again.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::App;

/// How often the files are polled when `--config.auto-reload-interval` is not given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// How many entries of a recipe directory are looked at: a directory is a handful of
/// recipes; this only bounds the cost of a directory someone filled by mistake.
const MAX_DIR_ENTRIES: usize = 1000;

/// What a poll sees of a set of files: for each, its identity and version, or why it could
/// not be looked at (a missing file is a state too: its return is a change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, Result<Version, std::io::ErrorKind>)>);

/// A file's identity and version, through its symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl Version {
    fn of(meta: &std::fs::Metadata) -> Version {
        Version {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// The fingerprint of `paths`; a directory stands for its entries (a recipe directory).
/// Blocking: a few `stat`s per file.
pub fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    let mut seen = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path);
        match meta {
            Ok(m) if m.is_dir() => {
                seen.push((path.clone(), Ok(Version::of(&m))));
                seen.extend(dir_entries(path));
            }
            Ok(m) => seen.push((path.clone(), Ok(Version::of(&m)))),
            Err(e) => seen.push((path.clone(), Err(e.kind()))),
        }
    }
    Fingerprint(seen)
}

fn dir_entries(dir: &Path) -> Vec<(PathBuf, Result<Version, std::io::ErrorKind>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        // Kubernetes' own entries (`..data`, `..2026_12_07_...`): the files are what count.
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.as_encoded_bytes().starts_with(b".."))
        })
        .take(MAX_DIR_ENTRIES)
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let v = std::fs::metadata(&p)
                .map(|m| Version::of(&m))
                .map_err(|e| e.kind());
            (p, v)
        })
        .collect()
}

/// What one set of files is doing between polls.
#[derive(Debug, Default)]
struct Tracker {
    /// What the configuration in force was read from (or last tried).
    current: Option<Fingerprint>,
}

impl Tracker {
    /// Whether `now` differs from what is in force. The first poll only records.
    fn changed(&mut self, now: &Fingerprint) -> bool {
        match &self.current {
            None => {
                self.current = Some(now.clone());
                false
            }
            Some(old) => old != now,
        }
    }
}

/// Fingerprints `paths` on the blocking pool.
async fn poll(paths: Vec<PathBuf>) -> Option<Fingerprint> {
    tokio::task::spawn_blocking(move || fingerprint(&paths))
        .await
        .ok()
}

/// Polls the configuration's files every `every` and reloads what changed, until the
/// process ends. Spawn it once, after the server starts.
pub async fn watch(app: Arc<App>, every: Duration) {
    let settle = every.min(Duration::from_secs(1));
    let mut config = Tracker::default();
    let mut web = Tracker::default();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(config_now) = poll(app.config_files()).await else {
            continue;
        };
        let Some(web_now) = poll(app.web().files().to_vec()).await else {
            continue;
        };
        let config_changed = config.changed(&config_now);
        let web_changed = web.changed(&web_now);
        if !config_changed && !web_changed {
            continue;
        }
        // Held still for the settle period? Else look again at the next tick.
        tokio::time::sleep(settle).await;
        let (Some(config_again), Some(web_again)) = (
            poll(app.config_files()).await,
            poll(app.web().files().to_vec()).await,
        ) else {
            continue;
        };
        if config_again != config_now || web_again != web_now {
            continue;
        }
        if config_changed {
            info!("the config file or a recipe directory changed: reloading the configuration");
            // Reloads the web config too. Failures are logged and counted by the reload.
            let _ = app.reload().await;
        } else {
            info!("the web config file or a file it names changed: reloading it");
            let _ = app.reload_web().await;
        }
        // What is in force now was read from these files (or failed on them): wait for
        // the next change. The web config's file list may have changed with it.
        config.current = poll(app.config_files()).await;
        web.current = poll(app.web().files().to_vec()).await;
        if config.current.is_none() || web.current.is_none() {
            warn!("cannot look at the configuration's files; watching them again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_link_an_edit_and_a_new_recipe_are_changes() {
        let dir = std::env::temp_dir().join(format!("ma-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("..v1")).unwrap();
        std::fs::create_dir_all(dir.join("..v2")).unwrap();
        std::fs::write(dir.join("..v1/adapter.toml"), "a = 1\n").unwrap();
        std::fs::write(dir.join("..v2/adapter.toml"), "a = 2\n").unwrap();
        // As the kubelet lays out a ConfigMap: file -> ..data/file, ..data -> ..vN.
        std::os::unix::fs::symlink("..v1", dir.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/adapter.toml", dir.join("adapter.toml")).unwrap();
        let file = vec![dir.join("adapter.toml")];
        let first = fingerprint(&file);
        assert_eq!(first, fingerprint(&file), "nothing changed");
        // The atomic swap: a new ..data link renamed over the old one.
        std::os::unix::fs::symlink("..v2", dir.join("..data.tmp")).unwrap();
        std::fs::rename(dir.join("..data.tmp"), dir.join("..data")).unwrap();
        let swapped = fingerprint(&file);
        assert_ne!(first, swapped, "the ..data swap");

        let recipes = dir.join("recipes");
        std::fs::create_dir_all(&recipes).unwrap();
        let dirs = vec![recipes.clone()];
        let before = fingerprint(&dirs);
        std::fs::write(recipes.join("app.toml"), "x").unwrap();
        let added = fingerprint(&dirs);
        assert_ne!(before, added, "a new recipe");
        std::fs::write(recipes.join("app.toml"), "xy").unwrap();
        assert_ne!(added, fingerprint(&dirs), "an edited recipe");

        let gone = vec![dir.join("missing.toml")];
        assert_eq!(
            fingerprint(&gone).0,
            vec![(dir.join("missing.toml"), Err(std::io::ErrorKind::NotFound))]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_first_poll_records_and_later_ones_compare() {
        let mut t = Tracker::default();
        let a = Fingerprint(vec![(
            PathBuf::from("/a"),
            Err(std::io::ErrorKind::NotFound),
        )]);
        let b = Fingerprint(vec![]);
        assert!(!t.changed(&a));
        assert!(!t.changed(&a));
        assert!(t.changed(&b));
    }
}
