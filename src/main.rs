//! The `metrics-adapter` binary; everything lives in the library so tests can drive it.
#![forbid(unsafe_code)]

/// The static (musl) build allocates with jemalloc, as ripgrep's does. musl's malloc unmaps a
/// group of small blocks once its last block is freed, so the thousands of small blocks a
/// scrape allocates and frees cost ~18 `mmap` and `munmap` calls a scrape, and their page
/// faults: a quarter of the CPU of a HAProxy or Redis scrape. Tuned for a small footprint in
/// .cargo/config.toml; measured in BENCHMARKS.md ("The static build's allocator").
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    metrics_adapter::cli::main()
}
