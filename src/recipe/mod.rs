//! Recipes and their tools, above the parser (`crate::parse`) and the exposition: a
//! recipe's TOML compiled into a [`Recipe`] ([`compile`]), the [`Parser`] trait sources are
//! read by, the [`Registry`] of built-in and user recipes, their `[[test]]` [`cases`] and
//! [`testing`] them, [`explain`] (`parse --explain`) and [`preview`] (one parser's result as
//! a page). This file only names the parts: each imports the others by their own path, so
//! no two files import each other.

pub mod cases;
pub mod compile;
pub mod explain;
pub mod log_format;
pub mod preview;
pub mod registry;
mod renamed;
pub mod request;
pub mod testing;

pub use compile::{Fed, FramingOptions, Parser, Recipe, RecipeFile};
pub use registry::Registry;
pub use renamed::{OLD_LOG, RENAMED};

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod property_tests;
