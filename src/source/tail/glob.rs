//! A `tail` source's `path` with `*` or `?` in its file name (`/var/log/app/*.log`): the
//! files of that one directory whose names match, each followed by its own [`Follower`]
//! (rotation and truncation as for one file), at most `max_files` of them.
//!
//! Only the file name may hold a wildcard: a directory pattern would make every poll a
//! walk of a tree the app controls. As in a shell, `*` and `?` do not match a leading
//! `.` (the adapter's own `.pos` state files, editors' swap files).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::follow::Follower;
use super::Step;

/// The most directory entries a listing reads.
pub const LIST_MAX: usize = 100_000;

/// A file name pattern in a fixed directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub dir: PathBuf,
    pub name: String,
}

impl Pattern {
    /// `Ok(None)` for a plain path; `Err` with the reason for a wildcard outside the name.
    pub fn of(path: &Path) -> Result<Option<Pattern>, String> {
        let wild = |s: &str| s.contains(['*', '?']);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let dir = path.parent().unwrap_or(Path::new(""));
        if wild(&dir.to_string_lossy()) {
            return Err(format!(
                "{}: a wildcard may only be in the file name, not in a directory",
                path.display()
            ));
        }
        if !wild(name) {
            return Ok(None);
        }
        Ok(Some(Pattern {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        }))
    }

    /// The names in the directory that match, sorted; none when it does not exist (yet).
    /// A directory of more than [`LIST_MAX`] entries is an error (the source is down): the
    /// app owns it, and a listing every poll must stay cheap.
    pub fn list(&self) -> std::io::Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for (i, entry) in entries.enumerate() {
            if i >= LIST_MAX {
                return Err(std::io::Error::other(format!(
                    "more than {LIST_MAX} entries in the directory: not listed at every poll"
                )));
            }
            let Ok(name) = entry?.file_name().into_string() else {
                continue;
            };
            if matches(&self.name, &name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Whether `name` matches `pattern` (`*`: any run of characters, `?`: one character; a
/// leading `.` only by a literal one). Iterative, with one backtrack point per `*`, as
/// shells do it: linear in practice, never exponential.
pub fn matches(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// One matching file's follower.
#[derive(Debug)]
struct File {
    follower: Follower,
    /// Found at the first listing (read from its end unless `from_start`), or later (a new
    /// file: all of it came after the start).
    from_start: bool,
    /// Its last read failed and was warned about.
    failing: bool,
}

/// The followers of a glob's files, by name.
#[derive(Debug, Default)]
pub struct Files {
    files: BTreeMap<String, File>,
    listed: bool,
    /// The names past `max_files` at the last listing (warned about when they change).
    skipped: Vec<String>,
}

/// What one step over every file did.
#[derive(Debug, Default)]
pub struct FilesStep {
    /// Each file's step that read something, by base name.
    pub files: Vec<(String, Step)>,
    /// Matching files past `max_files`, not followed.
    pub skipped: usize,
    /// Of those, the ones that were not past it at the last listing: counted once each.
    pub newly_skipped: usize,
    /// One of them, for the status page.
    pub first_skipped: Option<String>,
}

impl Files {
    /// One bounded read of each file the pattern matches (the first `max_files` by name),
    /// and of files no longer listed until they are finished.
    pub fn step(
        &mut self,
        pattern: &Pattern,
        from_start: bool,
        follow_links: bool,
        max_files: usize,
        max: usize,
    ) -> std::io::Result<FilesStep> {
        let mut names = pattern.list()?;
        let skipped = names.split_off(max_files.min(names.len()));
        if skipped != self.skipped && !skipped.is_empty() {
            warn!(
                dir = %pattern.dir.display(),
                skipped = skipped.len(),
                first = %skipped.first().map(String::as_str).unwrap_or(""),
                "more files match the tail path than max_files ({max_files}); the rest are not followed"
            );
        }
        let mut out = FilesStep {
            skipped: skipped.len(),
            newly_skipped: skipped.iter().filter(|n| !self.skipped.contains(n)).count(),
            first_skipped: skipped.first().cloned(),
            ..FilesStep::default()
        };
        self.skipped = skipped;
        let first = !std::mem::replace(&mut self.listed, true);
        for name in &names {
            self.files.entry(name.clone()).or_insert_with(|| File {
                follower: Follower::new(follow_links),
                from_start: !first || from_start,
                failing: false,
            });
        }
        let mut gone = Vec::new();
        for (name, file) in &mut self.files {
            let path = pattern.dir.join(name);
            match file.follower.read(&path, file.from_start, None, max) {
                Ok(chunk) => {
                    if let Some(event) = chunk.event {
                        info!(path = %path.display(), "{event}");
                    }
                    if std::mem::take(&mut file.failing) {
                        info!(path = %path.display(), "tail: reading the file again");
                    }
                    out.files.push((
                        name.clone(),
                        Step {
                            bytes: chunk.consumed,
                            too_long: chunk.too_long,
                            more: chunk.more,
                            lines: chunk.lines,
                        },
                    ));
                }
                // Removed (or renamed away) and read to its end: forgotten.
                Err(e) if e.kind() == ErrorKind::NotFound && !names.contains(name) => {
                    if file.follower.position().is_none() {
                        gone.push(name.clone());
                    }
                }
                Err(e) => {
                    if !std::mem::replace(&mut file.failing, true) {
                        warn!(path = %path.display(), error = %e, "tail: a file of the glob cannot be read (warned once until it can)");
                    }
                }
            }
        }
        for name in gone {
            self.files.remove(&name);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_a_shell_does() {
        for (p, n, want) in [
            ("*.log", "access.log", true),
            ("*.log", "access.log.1", false),
            ("*.log", ".hidden.log", false),
            (".*.log", ".hidden.log", true),
            ("app-?.log", "app-1.log", true),
            ("app-?.log", "app-12.log", false),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("*", "é.log", true),
            ("*.log", "x.log.gz", false),
        ] {
            assert_eq!(matches(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn only_the_file_name_may_be_a_pattern() {
        assert_eq!(Pattern::of(Path::new("/var/log/a.log")), Ok(None));
        assert_eq!(
            Pattern::of(Path::new("/var/log/app/*.log"))
                .unwrap()
                .unwrap(),
            Pattern {
                dir: "/var/log/app".into(),
                name: "*.log".into()
            }
        );
        assert!(Pattern::of(Path::new("/var/*/a.log"))
            .unwrap_err()
            .contains("only be in the file name"));
    }
}
