//! Shared helpers for the integration tests: the real `metrics-adapter` binary, the real
//! servers it reads (nginx, redis, memcached, haproxy, apache2, php-fpm) and independent
//! checkers of its output (`promtool` and the Python `prometheus_client` parsers).
//! Everything is re-exported here, so a test module needs only `use crate::harness::*;`.
//!
//! Ground rules, so the tests can run in parallel and never hang or leak:
//! - Everything listens on 127.0.0.1, on a port from [`free_port`] (never a fixed one).
//! - Every process is started as a plain foreground child in a process group of its own,
//!   with its config and logs in a [`TempDir`]; dropping the handle sends SIGTERM to that
//!   group, waits a bounded time, then SIGKILLs it. Nothing is ever stopped by name.
//! - Every wait is a bounded loop ([`wait_until`]); a server that does not come up panics
//!   with its log. A missing server binary panics with the Debian package to install
//!   (`bash tests/setup.sh` installs them all); nothing is silently skipped.
//!
//! The API, in short, by file:
//! - `sandbox.rs`: [`free_port`], [`TempDir`], [`wait_until`], [`wait_for`], [`read_lossy`].
//! - `process.rs`: [`Proc`], [`send_signal`], [`pids_with_cmdline`].
//! - `programs.rs`: [`PROGRAMS`] the tests run and their Debian packages;
//!   [`require_binary`].
//! - `http.rs`: [`http_request`] / [`http_get`], a tiny HTTP/1.1 client ([`Response`]);
//!   [`raw_exchange`] for text protocols; [`port_open`].
//! - `adapter.rs`: [`Adapter::start`] / [`Adapter::start_default`] / [`Adapter::start_with`]:
//!   the binary serving a config; [`Adapter::get`], [`Adapter::get_with`],
//!   [`Adapter::request`], [`Adapter::metrics`], [`Adapter::terminate`],
//!   [`Adapter::stderr`]; [`run_cli`]: the one-shot subcommands (`check`, `once`, `parse`,
//!   `parsers`); [`toml_str`].
//! - `servers/`: [`Nginx`], [`Redis`], [`Memcached`], [`Haproxy`], [`Apache`], [`PhpFpm`]:
//!   real servers; [`Hanging`]: a TCP listener that accepts and never answers.
//! - `page.rs`: [`promtool_check`], [`promtool_check_syntax`], [`parse_page`],
//!   [`parse_page_typed`], [`value`], [`find`], [`source_up`]: checks of a page.
//! - `inputs.rs` (used as `inputs::`): the recorded inputs and the edits that damage them,
//!   shared with the library's property tests.

#![allow(dead_code)] // Not every test module uses every helper.

mod adapter;
mod http;
pub mod inputs;
mod page;
mod process;
mod programs;
mod sandbox;
mod servers;

pub use adapter::*;
pub use http::*;
pub use page::*;
pub use process::*;
pub use programs::*;
pub use sandbox::*;
pub use servers::*;
