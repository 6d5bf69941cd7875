//! The adapter's own process metrics (`process_cpu_seconds_total`, memory, file descriptors,
//! start time), with the names, types and help of the Go client's process collector, so the
//! dashboards and alerts written for every official exporter work on the adapter too.
//!
//! Read from `/proc/self` (and `getrlimit` for the limits) on each scrape, on the calling
//! thread: procfs files are made from the kernel's own counters when read and never wait on
//! a disk or another process, so there is no background thread and no stale value. A
//! scrape costs four syscalls (a `pread` of a kept `/proc/self/stat`, an `fstat` of a kept
//! `/proc/self/fd`, two `getrlimit`). Linux only; where `/proc` cannot be read the families
//! are left off the page (logged once), as the Go collector does.
//!
//! Left out on purpose: the Go collector's `process_network_*_bytes_total` come from
//! `/proc/self/net/netstat`, which counts the whole network namespace. In a pod that is the
//! app's traffic, not ours, and a series named `process_` would misattribute it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::family::{Family, LabelSet, MetricKind};

/// The names source data may not write (both spellings of the counter: as a base name and
/// as written on the page), so the page never holds the app's numbers under our names.
pub const RESERVED: &[&str] = &[
    "process_cpu_seconds",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
    "process_virtual_memory_bytes",
    "process_virtual_memory_max_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
];

/// What `/proc/self/stat` tells, in its own units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// User + system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time, in clock ticks after boot.
    pub start_ticks: u64,
    pub vsize_bytes: u64,
    pub rss_pages: u64,
}

/// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may itself hold
/// spaces and `)`, so the fields are counted from the *last* `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    // `rest` starts at field 3 (state): field n is at index n - 3. Fields 14 to 24 are
    // wanted; picked from the iterator without collecting (this runs on every scrape).
    let mut wanted = [None::<u64>; 11];
    for (slot, word) in wanted.iter_mut().zip(rest.split_whitespace().skip(14 - 3)) {
        *slot = word.parse::<u64>().ok();
    }
    let field = |n: usize| *wanted.get(n - 14)?;
    Some(Stat {
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        start_ticks: field(22)?,
        vsize_bytes: field(23)?,
        rss_pages: field(24)?,
    })
}

/// `btime` of `/proc/stat`: the boot time, in Unix seconds.
pub fn parse_boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// Facts that do not change while the process runs, read on the first scrape.
#[derive(Debug, Clone, Copy)]
struct Fixed {
    ticks_per_second: f64,
    page_size: f64,
    /// Unix seconds; `None` if `/proc/stat` could not be read.
    boot_time: Option<f64>,
}

fn fixed() -> Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    *FIXED.get_or_init(|| {
        use nix::unistd::{sysconf, SysconfVar};
        // Asked of the C library rather than assumed (100 ticks, 4 KiB pages): arm64 and
        // ppc64 kernels run with 16 or 64 KiB pages.
        let conf = |var, fallback: f64| match sysconf(var) {
            Ok(Some(v)) if v > 0 => v as f64,
            _ => fallback,
        };
        Fixed {
            ticks_per_second: conf(SysconfVar::CLK_TCK, 100.0),
            page_size: conf(SysconfVar::PAGE_SIZE, 4096.0),
            // Read once: the kernel works `btime` out from the clock and the uptime, so it
            // can move by a second between reads, and a start time must not.
            boot_time: std::fs::read_to_string("/proc/stat")
                .ok()
                .as_deref()
                .and_then(parse_boot_time)
                .map(|b| b as f64),
        }
    })
}

/// Logs the first failure only: on a system without `/proc` every scrape would fail alike.
fn warn_once(what: &str, e: &dyn std::fmt::Display) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!("process metrics: cannot read {what}: {e}; left off the page");
    }
}

/// Open file descriptors, as the entries of `/proc/self/fd` count them. The directory's own
/// descriptor, open while it is listed, is counted too, as the Go collector counts it.
/// Since Linux 6.2 the directory's size is that count, so the directory is kept open and
/// one `fstat` of it does (a listing is an open, two getdents and a close per scrape); the
/// kept descriptor is the directory's own in the count. Older kernels give 0 there, and
/// the directory is listed.
fn open_fds() -> std::io::Result<u64> {
    static DIR: OnceLock<Option<std::fs::File>> = OnceLock::new();
    if let Some(dir) = DIR.get_or_init(|| std::fs::File::open("/proc/self/fd").ok()) {
        let counted = dir.metadata()?.len();
        if counted > 0 {
            return Ok(counted);
        }
    }
    let mut n = 0;
    for entry in std::fs::read_dir("/proc/self/fd")? {
        entry?;
        n += 1;
    }
    Ok(n)
}

/// `/proc/self/stat`, read through a descriptor kept open: a read at offset 0 makes the
/// kernel write the file anew, so a scrape costs one `pread`, not an open, a `statx`, six
/// growing reads and a close. The kept descriptor is one of the open fds counted (and is
/// not inherited: std opens files close-on-exec).
fn read_stat() -> std::io::Result<Option<Stat>> {
    use std::os::unix::fs::FileExt;
    static STAT: OnceLock<Option<std::fs::File>> = OnceLock::new();
    let Some(file) = STAT.get_or_init(|| std::fs::File::open("/proc/self/stat").ok()) else {
        return std::fs::read_to_string("/proc/self/stat").map(|text| parse_stat(&text));
    };
    // The file is one line of at most 52 numbers and a 16-byte name: well under 1 KiB, so
    // a read that does not fill the buffer has the whole line.
    let mut buf = [0u8; 2048];
    let n = file.read_at(&mut buf, 0)?;
    match buf.get(..n) {
        Some(line) if n < buf.len() => Ok(std::str::from_utf8(line).ok().and_then(parse_stat)),
        _ => std::fs::read_to_string("/proc/self/stat").map(|text| parse_stat(&text)),
    }
}

/// The process families, read now. Whatever cannot be read is left out.
pub fn families() -> Vec<Family> {
    // One empty label set for all: each `Vec::new()` would be an allocation of its own.
    let none: LabelSet = std::sync::Arc::from([]);
    let gauge = |name: &str, help: &str, v: f64| {
        Family::new(name, MetricKind::Gauge, help).with_sample(none.clone(), v)
    };
    let fixed = fixed();
    let mut out = Vec::with_capacity(7);
    match read_stat() {
        Ok(stat) => match stat {
            Some(stat) => {
                out.push(
                    Family::new(
                        "process_cpu_seconds",
                        MetricKind::Counter,
                        "Total user and system CPU time spent in seconds.",
                    )
                    .with_sample(none.clone(), stat.cpu_ticks as f64 / fixed.ticks_per_second),
                );
                out.push(gauge(
                    "process_virtual_memory_bytes",
                    "Virtual memory size in bytes.",
                    stat.vsize_bytes as f64,
                ));
                out.push(gauge(
                    "process_resident_memory_bytes",
                    "Resident memory size in bytes.",
                    stat.rss_pages as f64 * fixed.page_size,
                ));
                if let Some(boot) = fixed.boot_time {
                    out.push(gauge(
                        "process_start_time_seconds",
                        "Start time of the process since unix epoch in seconds.",
                        boot + stat.start_ticks as f64 / fixed.ticks_per_second,
                    ));
                }
            }
            None => warn_once("/proc/self/stat", &"unexpected format"),
        },
        Err(e) => warn_once("/proc/self/stat", &e),
    }
    match open_fds() {
        Ok(n) => out.push(gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            n as f64,
        )),
        Err(e) => warn_once("/proc/self/fd", &e),
    }
    // The soft limits, as /proc/self/limits shows them (`unlimited` is RLIM_INFINITY,
    // u64::MAX, what the Go collector reports for it), asked of the kernel directly.
    use nix::sys::resource::{getrlimit, Resource};
    for (resource, name, help, what) in [
        (
            Resource::RLIMIT_NOFILE,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            "the open files limit",
        ),
        (
            Resource::RLIMIT_AS,
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            "the address space limit",
        ),
    ] {
        match getrlimit(resource) {
            Ok((soft, _)) => out.push(gauge(name, help, soft as f64)),
            Err(e) => warn_once(what, &e),
        }
    }
    out
}

#[cfg(test)]
mod tests;
