//! metrics-adapter: reads an app's own stats and serves them as a Prometheus `/metrics` page.
//!
//! ```text
//!  source (file | http | tcp | exec)  -- bytes -->  parser (pure)  -- families -->
//!    family set (names sanitised, kinds checked, duplicates merged)
//!      --> exposition (0.0.4 text or OpenMetrics, chosen by Accept) --> /metrics
//! ```
//!
//! - [`source`]: fetches bytes (one file per kind of source); a `tail` source delivers a
//!   followed log's new lines instead.
//! - [`parse`]: the pure parser: generic formats turn bytes into records, a mapping turns
//!   records into [`family::Family`]s, or adds a log's records into running totals. It
//!   imports only the data types below it.
//! - [`recipe`]: a format plus a mapping, packaged as recipes (`parsers/*.toml`), held in
//!   the [`recipe::Registry`], with their `[[test]]` cases, `parse --explain` and
//!   [`recipe::preview`] (one parser's result as a page).
//! - [`family`]: the plain data between stages, and the set that merges and checks it.
//! - [`framing`]: where the latest complete block of an append log is (file source and
//!   `parse` alike).
//! - [`scrape`]: runs every source's fetch + parse per scrape (or in the background), with
//!   timeouts, shared in-flight fetches and per-source state (a followed log's totals).
//! - [`exposition`]: writes a family set in a wire format; [`server`] serves it over HTTP,
//!   with TLS and basic auth from a web config file ([`web`]).
//! - [`process`]: the adapter's own `process_*` metrics, read from `/proc/self` per scrape.
//! - [`draft`]: `metrics-adapter draft`, a first recipe (with its test cases) from a sample
//!   of an app's stats.
//! - [`config`]: the layered configuration (embedded default, TOML file, environment, flags);
//!   [`app`]: the configuration in force, swapped whole on a hot reload.
//!
//! The modules stand in layers, each using only those below it (declared and checked in
//! `layer_tests.rs`): `text`, `keys`, `small_file`, `reaper` < `family` < `parse`,
//! `exposition`, `process` < `framing` < `recipe` < `draft`, `source`, `web` < `config` < `scrape`
//! < `app` < `server` < `cli`.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod draft;
pub mod exposition;
pub mod family;
pub mod framing;
pub mod keys;
pub mod parse;
pub mod process;
pub mod reaper;
pub mod recipe;
pub mod scrape;
pub mod server;
pub mod small_file;
pub mod source;
pub mod text;
pub mod web;

#[cfg(test)]
mod layer_tests;
