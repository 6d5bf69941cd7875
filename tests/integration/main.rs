//! The one integration-test binary (`autotests = false` + one `[[test]]`, to link once):
//! the real `metrics-adapter` binary against real servers on 127.0.0.1, its pages checked
//! by `promtool` and the Python `prometheus_client` parsers. Helpers are in [`harness`].
//! It needs what `bash tests/setup.sh` installs ([`setup`] says what is missing); the
//! server-free tier is `cargo test --lib`.
#![allow(clippy::unwrap_used, clippy::string_slice)] // test code: a panic is a failed test

mod conventions;
mod core;
mod docs;
mod draft;
mod hardening;
mod harness;
mod hostile;
mod http_post;
mod https_source;
mod json_each;
mod language;
mod live_config;
mod log_formats;
mod log_recipes;
mod recipe_tools;
mod recipes;
mod relabel;
mod reliability;
mod requests;
mod scrape_budget;
mod security;
mod seed_pod;
mod setup;
mod sockets;
mod tail;
mod tail_expiry;
mod tail_glob;
mod trust;
mod trust_again;
