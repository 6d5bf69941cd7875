//! The `metrics-adapter` binary; everything lives in the library so tests can drive it.

fn main() -> std::process::ExitCode {
    metrics_adapter::cli::main()
}
