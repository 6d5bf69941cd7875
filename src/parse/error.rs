//! [`RecipeError`]: a mistake in a recipe, found when it loads. It says where (the key path,
//! as the layers that found it add to it: `mapping.metric[3]`, then `when.svname`) and what
//! (an [`ErrorKind`] and a message); its `Display` is the message users read, `where: what`.

use std::fmt;

/// What kind of mistake a recipe holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not TOML, or a key the table does not take.
    Syntax,
    /// A name the language does not know (a type, a format, a verb).
    UnknownName,
    /// A regular expression that does not compile.
    Pattern,
    /// A key written in a form the language replaced (its message names the new one).
    Renamed,
    /// A value or a combination of keys the language refuses.
    Invalid,
}

/// One step of where an error is: a key (written `key: `) or a format's table
/// (written `[table] `), outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
enum At {
    Key(String),
    Table(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeError {
    at: Vec<At>,
    kind: ErrorKind,
    message: String,
}

impl RecipeError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> RecipeError {
        RecipeError {
            at: Vec::new(),
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> RecipeError {
        RecipeError::new(ErrorKind::Invalid, message)
    }

    /// The same error, found under `key` (`mapping.metric[2]`, `when.host`).
    pub fn at(mut self, key: impl Into<String>) -> RecipeError {
        self.at.insert(0, At::Key(key.into()));
        self
    }

    /// The same error, found in format `table`'s options.
    pub fn in_table(mut self, table: impl Into<String>) -> RecipeError {
        self.at.insert(0, At::Table(table.into()));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Where, as a key path (`mapping.metric[3].when.svname`); empty for the whole file.
    pub fn key_path(&self) -> String {
        let keys: Vec<&str> = (self.at.iter())
            .map(|a| match a {
                At::Key(k) | At::Table(k) => k.as_str(),
            })
            .collect();
        keys.join(".")
    }
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for at in &self.at {
            match at {
                At::Key(k) => write!(f, "{k}: ")?,
                At::Table(t) => write!(f, "[{t}] ")?,
            }
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RecipeError {}

/// A refusal written as text by a check: `Invalid`, at no key of its own.
impl From<String> for RecipeError {
    fn from(message: String) -> RecipeError {
        RecipeError::invalid(message)
    }
}

impl From<&str> for RecipeError {
    fn from(message: &str) -> RecipeError {
        RecipeError::invalid(message)
    }
}
