//! The command line: serve (default), and the debugging commands that give the
//! `curl /metrics` workflow without a pod (`check`, `once`, `parse`, `test`, `draft`, `parsers`).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser as _;

use crate::config::{LogFormat, Overrides, Settings};
use crate::exposition::{self, WireFormat};
use crate::recipe::Registry;
use crate::scrape::Scraper;
use crate::server::{self, App, Loaded};

mod command;
mod draft;
mod recipes;

pub use command::{Command, ParsersCommand};

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "metrics-adapter",
    version,
    about = "Reads an app's own stats and serves them as a Prometheus /metrics page.",
    after_help = "Without a command, serves (as `run` does). The serving options also go before \
                  `check`, which then checks them too: metrics-adapter --web.config.file FILE check"
)]
pub struct Cli {
    /// Config file (TOML). Without it, the embedded default (this host's /proc/meminfo).
    #[arg(long, short, global = true, env = "METRICS_ADAPTER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The options that only serving uses, so only `run` (and no command) lists them; the other
/// commands would accept and ignore them. Flag names follow Prometheus' exporter-toolkit
/// (`--web.listen-address`, `--web.telemetry-path`, `--web.config.file`), so a deployment
/// written for an official exporter carries over.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    /// Listen address, overriding server.listen (default 0.0.0.0:9898); `:PORT` listens on
    /// all IPv4 interfaces, as with the Go exporters.
    #[arg(long, visible_alias = "web.listen-address", value_name = "ADDRESS")]
    pub listen: Option<String>,
    /// Path of the metrics page, overriding server.metrics_path (default /metrics).
    #[arg(long = "web.telemetry-path", value_name = "PATH")]
    pub telemetry_path: Option<String>,
    /// TLS and basic auth for every endpoint: a web config file in the Prometheus
    /// exporter-toolkit format, overriding server.web_config_file ("" turns it off).
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<String>,
    /// Log level or filter (error, warn, info, debug, trace), overriding log.level.
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Log format, text or json, overriding log.format.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Accept POST/PUT /-/reload (as Prometheus' flag of that name). Off by default: anyone
    /// who can reach the port could trigger reloads. SIGHUP always reloads.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,
    /// How often the config file, recipe directories and web config file (with the
    /// certificates it names) are checked for changes, which reload them as SIGHUP does
    /// (a mounted ConfigMap's update included). `0` turns it off. Default 10s.
    #[arg(long = "config.auto-reload-interval", value_name = "DURATION")]
    pub auto_reload_interval: Option<String>,
}

impl ServeArgs {
    /// These options, each falling back to `outer`'s (`metrics-adapter --listen A run`).
    fn or(&self, outer: &ServeArgs) -> ServeArgs {
        let pick = |a: &Option<String>, b: &Option<String>| a.clone().or_else(|| b.clone());
        ServeArgs {
            listen: pick(&self.listen, &outer.listen),
            telemetry_path: pick(&self.telemetry_path, &outer.telemetry_path),
            web_config_file: pick(&self.web_config_file, &outer.web_config_file),
            log_level: pick(&self.log_level, &outer.log_level),
            log_format: pick(&self.log_format, &outer.log_format),
            enable_lifecycle: self.enable_lifecycle || outer.enable_lifecycle,
            auto_reload_interval: pick(&self.auto_reload_interval, &outer.auto_reload_interval),
        }
    }

    /// `--config.auto-reload-interval`: `None` when turned off (`0`).
    fn auto_reload_interval(&self) -> Result<Option<std::time::Duration>, String> {
        match self.auto_reload_interval.as_deref().map(str::trim) {
            None => Ok(Some(crate::app::watch::DEFAULT_INTERVAL)),
            Some("0" | "0s" | "off") => Ok(None),
            Some(text) => crate::source::parse_duration(text)
                .map(Some)
                .map_err(|e| format!("--config.auto-reload-interval: {e}, or 0 to turn it off")),
        }
    }
}

/// Entry point: runs the command and prints any error with its context.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let hint = misplaced_serving_flag(&e);
            let _ = e.print();
            if let Some(hint) = hint {
                eprintln!("\n{hint}");
            }
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("metrics-adapter: error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error>;

/// For a serving flag written after a command that does not serve (`check --listen :9100`):
/// where it goes instead. Clap's own tip (`-- --listen`) would lead the wrong way.
fn misplaced_serving_flag(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split('=').next().unwrap_or(arg);
    let serving = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    let known = serving.get_arguments().any(|a| {
        a.get_long().is_some_and(|l| flag == format!("--{l}"))
            || a.get_all_aliases()
                .is_some_and(|aliases| aliases.iter().any(|l| flag == format!("--{l}")))
    });
    known.then(|| {
        format!(
            "tip: {flag} is a serving option: it goes before the command \
             (metrics-adapter {flag} ... check) or after `run`"
        )
    })
}

/// The serving options in force: `run`'s own, else those before the command.
fn serve_args(cli: &Cli) -> ServeArgs {
    match &cli.command {
        Some(Command::Run(args)) => args.or(&cli.serve),
        _ => cli.serve.clone(),
    }
}

/// The settings, and every parser: the built-in ones, and the config's recipe directories
/// and inline recipes.
fn load(cli: &Cli) -> Result<(Settings, Registry), Error> {
    load_with(cli, false)
}

/// [`load`] for a process that reads its sources (serve, its reloads, `check`, `once`): of
/// the built-in recipes, only those a source names are compiled.
fn load_used(cli: &Cli) -> Result<(Settings, Registry), Error> {
    load_with(cli, true)
}

fn load_with(cli: &Cli, used_only: bool) -> Result<(Settings, Registry), Error> {
    let args = serve_args(cli);
    let overrides = Overrides {
        listen: args.listen,
        metrics_path: args.telemetry_path,
        log_level: args.log_level,
        log_format: args.log_format,
        web_config_file: args.web_config_file,
        enable_lifecycle: args.enable_lifecycle,
    };
    let settings = Settings::load(cli.config.as_deref(), std::env::vars(), &overrides)?;
    let used = |name: &str| !used_only || settings.sources.iter().any(|s| s.parser == name);
    let mut registry = Registry::builtin_only(used)?;
    for dir in &settings.parser_dirs {
        registry.load_dir(dir)?;
    }
    let config = settings.origin.to_string();
    for r in &settings.recipes {
        registry.load_inline(&r.name, &r.text, &config)?;
    }
    Ok((settings, registry))
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    // One thread: a sidecar's work is a few concurrent reads per scrape, all waiting on I/O;
    // more threads only cost memory (a malloc arena and a stack each) in every pod, and
    // hand-offs between them cost latency. Blocking file reads still go to tokio's
    // blocking pool.
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log_level)
        .unwrap_or_else(|_| "info".into());
    // Colours only for a person at a terminal, never in a container's log stream.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

pub fn run(cli: Cli) -> Result<ExitCode, Error> {
    match &cli.command {
        None | Some(Command::Run(_)) => serve(&cli),
        Some(Command::Check) => check(&cli),
        Some(Command::Once { openmetrics }) => once(&cli, *openmetrics),
        Some(Command::Parse {
            parser,
            file,
            openmetrics,
            explain,
            source,
        }) => recipes::parse(
            &cli,
            parser,
            file.as_deref(),
            *openmetrics,
            *explain,
            source.as_deref(),
        ),
        Some(Command::Test { targets }) => recipes::test_recipes(&cli, targets),
        Some(Command::Draft(args)) => draft::run(args),
        Some(Command::Parsers { action: None }) => recipes::parsers(&cli),
        Some(Command::Parsers {
            action: Some(ParsersCommand::Show { name }),
        }) => recipes::show_parser(&cli, name),
    }
}

fn serve(cli: &Cli) -> Result<ExitCode, Error> {
    // Signal handlers before anything slow (config, recipes, patterns, the port): until one
    // is installed, HUP's default action ends the process, and a supervisor may send it as
    // soon as we start. Installed now, an early HUP waits for the app and reloads it, an
    // early TERM or INT stops the server as soon as it runs.
    let rt = runtime()?;
    let (hangup, shutdown) = {
        let _context = rt.enter();
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        (hup, server::shutdown_signal())
    };
    let (settings, registry) = load_used(cli)?;
    // Read once, before anything listens: a broken web config stops the start.
    let web = crate::web::Web::load(settings.server.web_config_file.as_deref())?;
    let auto_reload = serve_args(cli).auto_reload_interval()?;
    init_logging(&settings);
    for w in web.warnings() {
        tracing::warn!("web config: {w}");
    }
    for skipped in registry.skipped() {
        tracing::info!("{skipped}");
    }
    let mut scraper = Scraper::new(&settings, &registry)?;
    // The scraper holds the parsers it uses; the other recipes (and their compiled
    // patterns, most of our heap at start-up) are not kept for the life of the process.
    drop(registry);
    let grace = settings.server.shutdown_timeout;
    let code = rt.block_on(async {
        crate::reaper::start();
        scraper.start();
        let listener = tokio::net::TcpListener::bind(settings.server.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", settings.server.listen))?;
        tracing::info!(
            listen = %listener.local_addr()?,
            config = %settings.origin,
            sources = settings.sources.len(),
            web = %web.summary(),
            "metrics-adapter {} serving {}",
            env!("CARGO_PKG_VERSION"),
            settings.server.metrics_path
        );
        let loader_cli = cli.clone();
        let loader: crate::app::Loader = Box::new(move || {
            load_used(&loader_cli).map_err(|e| crate::app::ReloadError::Load(e.to_string()))
        });
        let app = Arc::new(App::new(Loaded { settings, scraper }, Some(loader)).with_web(web));
        tokio::spawn(reload_on_sighup(app.clone(), hangup));
        if let Some(every) = auto_reload {
            tokio::spawn(crate::app::watch::watch(app.clone(), every));
        }
        server::serve(listener, app, shutdown).await;
        Ok::<_, Error>(ExitCode::SUCCESS)
    });
    // A read stuck in the blocking pool (a hung file system, a parse past its timeout) must
    // not keep the process alive after SIGTERM: dropping the runtime would wait for it.
    rt.shutdown_timeout(grace);
    code
}

/// `SIGHUP` re-reads the config and recipes, as Prometheus and most daemons do.
async fn reload_on_sighup(app: Arc<App>, hangup: std::io::Result<tokio::signal::unix::Signal>) {
    match hangup {
        Ok(mut hup) => {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP received: reloading the configuration");
                let _ = app.reload().await;
            }
        }
        Err(e) => tracing::error!("cannot listen for SIGHUP (reload with POST /-/reload): {e}"),
    }
}

/// Writes command output to stdout. A closed pipe (`metrics-adapter parsers | head`) is
/// the reader's choice, not an error.
fn emit(text: &str) -> Result<(), Error> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn check(cli: &Cli) -> Result<ExitCode, Error> {
    let (settings, registry) = load_used(cli)?;
    let scraper = Scraper::new(&settings, &registry)?;
    let web = crate::web::Web::load(settings.server.web_config_file.as_deref())?;
    let mut out = String::new();
    let _ = writeln!(out, "config: {} (ok)", settings.origin);
    let _ = writeln!(
        out,
        "listen: {}  metrics path: {}",
        settings.server.listen, settings.server.metrics_path
    );
    let _ = writeln!(
        out,
        "server limits: max_connections = {}, header_read_timeout = {:?}, shutdown_timeout = {:?}",
        settings.server.max_connections,
        settings.server.header_read_timeout,
        settings.server.shutdown_timeout
    );
    if let Some(file) = web.file() {
        let _ = writeln!(
            out,
            "web config: {} (ok): {}",
            file.display(),
            web.summary()
        );
        for w in web.warnings() {
            let _ = writeln!(out, "warning: web config: {w}");
        }
    }
    for dir in &settings.parser_dirs {
        let _ = writeln!(out, "recipe directory: {}", dir.display());
    }
    for skipped in registry.skipped() {
        let _ = writeln!(out, "{skipped}");
    }
    let _ = writeln!(out, "sources: {}", settings.sources.len());
    for t in scraper.targets() {
        let s = &t.spec;
        let entry = registry
            .get(&s.parser)
            .map(|e| e.origin.to_string())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}: {} {} -> parser {} ({entry})",
            s.name,
            s.source.kind(),
            s.source.describe(),
            s.parser,
        );
        // Every key in force, as a `key = value` line, so what the adapter will do can be
        // read without knowing the defaults or what the recipe adds.
        let from_recipe = match (&s.source, t.parser.framing()) {
            (crate::source::Source::File(f), Some(recipe)) => f
                .framing
                .as_ref()
                .is_some_and(|own| Arc::ptr_eq(own, recipe)),
            _ => false,
        };
        let mut keys = s.source.resolved();
        if from_recipe {
            for (k, v) in &mut keys {
                if matches!(*k, "block_start" | "block_end") && v != crate::source::UNSET {
                    v.push_str(&format!(" (from recipe {})", s.parser));
                }
            }
        }
        // Every other source applies the recipe's framing to what it reads.
        let framing = t.parser.framing();
        if let (Some(f), false) = (framing, matches!(s.source, crate::source::Source::File(_))) {
            let from = format!(" (from recipe {})", s.parser);
            keys.push((
                "block_start",
                crate::source::quote(f.start.as_str()) + &from,
            ));
            if let Some(end) = &f.end {
                keys.push(("block_end", crate::source::quote(end.as_str()) + &from));
            }
        }
        let dated = match &s.source {
            crate::source::Source::File(f) => f.framing.as_ref().is_some_and(|f| f.dated),
            _ => framing.is_some_and(|f| f.dated),
        };
        keys.push(("max_age", max_age_shown(s.max_age, dated)));
        let interval = match s.refresh {
            crate::config::Refresh::OnScrape => {
                format!("{} (read on each scrape)", crate::source::UNSET)
            }
            crate::config::Refresh::Every(d) => format!("{d:?} (read in the background)"),
        };
        let list = |l: &[regex::Regex]| {
            if l.is_empty() {
                crate::source::UNSET.to_string()
            } else {
                // Shown as written: the anchors added at load are not the user's.
                let written: Vec<&str> = l
                    .iter()
                    .map(|r| {
                        r.as_str()
                            .strip_prefix("^(?:")
                            .and_then(|p| p.strip_suffix(")$"))
                            .unwrap_or(r.as_str())
                    })
                    .collect();
                let quoted: Vec<String> = written.into_iter().map(crate::source::quote).collect();
                format!("[{}]", quoted.join(", "))
            }
        };
        let labels = if s.labels.is_empty() {
            crate::source::UNSET.to_string()
        } else {
            let pairs: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k} = {}", crate::source::quote(v)))
                .collect();
            format!("{{ {} }}", pairs.join(", "))
        };
        let rules = crate::parse::relabel::describe(s.relabel.as_deref(), crate::source::UNSET);
        keys.extend([
            ("timeout", format!("{:?}", s.timeout)),
            ("interval", interval),
            ("max_bytes", s.max_bytes.to_string()),
            ("labels", labels),
            ("include", list(&s.include)),
            ("exclude", list(&s.exclude)),
            ("relabel", rules),
        ]);
        for (k, v) in keys {
            let _ = writeln!(out, "    {k} = {v}");
        }
    }
    // The `[[test]]` cases of the recipes in use: a recipe edited into giving other numbers
    // fails here, before it is deployed.
    let mut used: Vec<&str> = scraper
        .targets()
        .iter()
        .map(|t| t.spec.parser.as_str())
        .collect();
    used.sort_unstable();
    used.dedup();
    let summary = crate::recipe::testing::run_all(
        used.iter().filter_map(|&n| registry.get(n).map(|e| (n, e))),
    );
    let _ = writeln!(
        out,
        "recipe tests: {} passed, {} failed",
        summary.passed,
        summary.failed.len()
    );
    if !summary.failed.is_empty() {
        emit(&out)?;
        eprint!("{}", summary.text);
        return Err(format!("recipe tests failed: {}", summary.failed.join("; ")).into());
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `max_age` as `check` shows it: set, off, or what the default does for this source.
fn max_age_shown(max_age: crate::config::MaxAge, dated: bool) -> String {
    use crate::framing::{STALE_FLOOR, STALE_PERIODS};
    match max_age {
        crate::config::MaxAge::After(d) => format!("{d:?}"),
        crate::config::MaxAge::Off => "\"off\"".into(),
        crate::config::MaxAge::Auto if dated => format!(
            "{} (the recipe's blocks are dated: stale past {STALE_PERIODS} write periods, at \
             least {STALE_FLOOR:?})",
            crate::source::UNSET
        ),
        crate::config::MaxAge::Auto => crate::source::UNSET.into(),
    }
}

fn once(cli: &Cli, openmetrics: bool) -> Result<ExitCode, Error> {
    let (settings, registry) = load_used(cli)?;
    let rt = runtime()?;
    let scraper = Scraper::new(&settings, &registry)?;
    // Background (`interval`) sources too: `once` reads everything once.
    let page = rt.block_on(scraper.scrape_now());
    let mut all_up = true;
    for t in scraper.targets() {
        let Some(o) = t.last() else {
            all_up = false;
            eprintln!("source {}: down: not read", t.spec.name);
            continue;
        };
        if let Some(e) = &o.error {
            all_up = false;
            eprintln!("source {}: down: {e}", t.spec.name);
            continue;
        }
        for (n, what, first) in [
            (o.issues, "value(s) skipped", &o.first_issue),
            (
                o.unmatched,
                "unmatched (read, but no rule used them)",
                &o.first_unmatched,
            ),
        ] {
            if n > 0 {
                let first = first.as_deref().unwrap_or("");
                eprintln!("source {}: {n} {what}, first: {first}", t.spec.name);
            }
        }
    }
    let format = if openmetrics {
        WireFormat::OpenMetrics
    } else {
        WireFormat::Text
    };
    emit(&exposition::encode(&page, format))?;
    Ok(if all_up {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
