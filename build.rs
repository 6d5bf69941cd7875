//! Build facts for `metrics_adapter_build_info`: the git revision and branch, and the rustc
//! version, as the Go exporters' build info carries `revision`, `branch` and `goversion`.
//!
//! Never fails the build: from a source tarball (no `.git`, no `git`), a fact that cannot be
//! found is "unknown". A packager who builds without `.git` (the Dockerfile's context leaves
//! it out) passes the facts in `METRICS_ADAPTER_BUILD_REVISION` / `..._BRANCH`; a crate
//! packaged by `cargo package` has its revision in `.cargo_vcs_info.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

const UNKNOWN: &str = "unknown";

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=METRICS_ADAPTER_BUILD_REVISION");
    println!("cargo:rerun-if-env-changed=METRICS_ADAPTER_BUILD_BRANCH");

    let repo = own_repository(&dir);
    if let Some(repo) = &repo {
        watch_head(&dir, repo);
    }
    let revision = from_env("METRICS_ADAPTER_BUILD_REVISION")
        .or_else(|| repo.as_ref().and(git(&dir, &["rev-parse", "HEAD"])))
        .or_else(|| vcs_info_sha1(&dir))
        .unwrap_or_else(|| UNKNOWN.into());
    let branch = from_env("METRICS_ADAPTER_BUILD_BRANCH")
        .or_else(|| {
            repo.as_ref()
                .and(git(&dir, &["rev-parse", "--abbrev-ref", "HEAD"]))
        })
        .unwrap_or_else(|| UNKNOWN.into());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    // "rustc 1.80.1 (3f5fd8dd4 2024-08-06)" -> "1.80.1", as `goversion` is "go1.22.1".
    let rust_version = run(Command::new(rustc).arg("--version"))
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| UNKNOWN.into());

    println!("cargo:rustc-env=METRICS_ADAPTER_REVISION={revision}");
    println!("cargo:rustc-env=METRICS_ADAPTER_BRANCH={branch}");
    println!("cargo:rustc-env=METRICS_ADAPTER_RUST_VERSION={rust_version}");
}

fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Output of a command that succeeded, trimmed; `None` if it could not run or failed.
fn run(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    run(Command::new("git").arg("-C").arg(dir).args(args))
}

/// The git directory, only if the crate is the top of its own repository: a tarball
/// unpacked inside some other checkout must not report that checkout's revision.
fn own_repository(dir: &Path) -> Option<PathBuf> {
    let top = PathBuf::from(git(dir, &["rev-parse", "--show-toplevel"])?);
    let same = match (top.canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return None;
    }
    git(dir, &["rev-parse", "--absolute-git-dir"]).map(PathBuf::from)
}

/// Reruns this script when a commit or checkout moves HEAD, so the revision is never that
/// of an older build. In a worktree, HEAD is in the worktree's git directory and the
/// branch refs in the common one. Only existing paths are named: cargo treats a missing
/// one as changed and would rerun on every build.
fn watch_head(dir: &Path, git_dir: &Path) {
    let common = git(dir, &["rev-parse", "--git-common-dir"])
        .map(|c| {
            let c = PathBuf::from(c);
            if c.is_absolute() {
                c
            } else {
                dir.join(c)
            }
        })
        .unwrap_or_else(|| git_dir.to_path_buf());
    let mut paths = vec![git_dir.join("HEAD"), common.join("packed-refs")];
    if let Some(reference) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.push(common.join(reference));
    }
    for p in paths.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", p.display());
    }
}

/// `"sha1": "<hex>"` from the `.cargo_vcs_info.json` that `cargo package` writes.
fn vcs_info_sha1(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let (_, rest) = text.split_once("\"sha1\"")?;
    let (_, rest) = rest.split_once('"')?;
    let (sha, _) = rest.split_once('"')?;
    (!sha.is_empty() && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha.to_string())
}
