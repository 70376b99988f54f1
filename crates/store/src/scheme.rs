//! The store URL schemes, in one place.
//!
//! [`StoreScheme`] is the single list of the backends [`from_url`](crate::from_url) can
//! open: each variant knows its URL form, what it does, its query parameters and the cargo
//! feature that builds it. Everything that shows or checks that list is generated from it:
//! the accepted forms in [`StoreError::InvalidUrl`](crate::StoreError::InvalidUrl), the
//! store section of `latency serve --help` ([`help`]), the unknown-parameter check, and
//! the metrics label of a store that is not open yet ([`LazyStore`](crate::LazyStore)).
//! Adding a backend means adding a variant here; the compiler then points at every
//! `match` that must learn about it.

use std::fmt;
use std::str::FromStr;

/// One store URL scheme, i.e. one backend.
///
/// Modelled on `object_store`'s `ObjectStoreScheme`: the scheme is parsed once, and the
/// rest of the crate matches on the enum instead of comparing strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreScheme {
    /// `memory://`: an atomic counter in this process.
    Memory,
    /// `file:///abs/path`: a durable counter file.
    File,
    /// `s3://bucket/key`: an S3 object, updated by conditional writes.
    S3,
    /// `dynamodb://table`: one attribute of one DynamoDB item.
    DynamoDb,
    /// `redis://host:port/db`: one Redis key.
    Redis,
    /// `postgres://user@host/db` (or `postgresql://`): one PostgreSQL row.
    Postgres,
}

/// One query parameter a scheme accepts, for help texts and for rejecting typos.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemeParam {
    /// The parameter's name, e.g. `create`.
    pub name: &'static str,
    /// Its value when absent, as written in the URL; `None` when there is none.
    pub default: Option<&'static str>,
}

const fn param(name: &'static str, default: &'static str) -> SchemeParam {
    SchemeParam {
        name,
        default: Some(default),
    }
}

const fn no_default(name: &'static str) -> SchemeParam {
    SchemeParam {
        name,
        default: None,
    }
}

const AWS_ENDPOINT: SchemeParam = no_default("endpoint");
const AWS_REGION: SchemeParam = no_default("region");
const WRITE_MODE: SchemeParam = param("mode", "atomic");

const FILE_PARAMS: &[SchemeParam] = &[param("create", "true")];
const S3_PARAMS: &[SchemeParam] = &[
    AWS_ENDPOINT,
    AWS_REGION,
    param("create", "false"),
    param("max_attempts", "200"),
    WRITE_MODE,
];
const DYNAMODB_PARAMS: &[SchemeParam] = &[
    AWS_ENDPOINT,
    AWS_REGION,
    param("create", "false"),
    param("key", "id"),
    param("key_value", "0"),
    no_default("key_type"),
    param("attribute", "hits"),
    WRITE_MODE,
];
const REDIS_PARAMS: &[SchemeParam] = &[param("key", "hits")];
const POSTGRES_PARAMS: &[SchemeParam] = &[
    param("table", "hits"),
    param("create", "true"),
    param("pool_size", "16"),
    // Passed through to the PostgreSQL client, as libpq names them.
    no_default("connect_timeout"),
    no_default("application_name"),
    no_default("options"),
    no_default("sslmode"),
    no_default("target_session_attrs"),
];

impl StoreScheme {
    /// Every scheme, in the order help texts list them.
    pub const ALL: [Self; 6] = [
        Self::Memory,
        Self::File,
        Self::S3,
        Self::DynamoDb,
        Self::Redis,
        Self::Postgres,
    ];

    /// The scheme as written in URLs (`s3`), which is also the backend's metrics label.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::File => "file",
            Self::S3 => "s3",
            Self::DynamoDb => "dynamodb",
            Self::Redis => "redis",
            Self::Postgres => "postgres",
        }
    }

    /// Other spellings of the scheme that are accepted as well.
    pub const fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Postgres => &["postgresql"],
            _ => &[],
        }
    }

    /// The URL's general form, e.g. `s3://bucket/key`.
    pub const fn form(self) -> &'static str {
        match self {
            Self::Memory => "memory://",
            Self::File => "file:///abs/path",
            Self::S3 => "s3://bucket/key",
            Self::DynamoDb => "dynamodb://table",
            Self::Redis => "redis://host:port/db",
            Self::Postgres => "postgres://user@host/db",
        }
    }

    /// What the backend does, in one line.
    pub const fn summary(self) -> &'static str {
        match self {
            Self::Memory => "an atomic counter in this process (lost on exit)",
            Self::File => "a durable counter file, safe across processes",
            Self::S3 => "an S3 object, written only if unchanged since read (If-Match), retried",
            Self::DynamoDb => "a DynamoDB item, one UpdateItem ADD … UPDATED_NEW",
            Self::Redis => "one Redis key, INCR",
            Self::Postgres => "a PostgreSQL row, one upsert … RETURNING, pooled",
        }
    }

    /// The query parameters the scheme accepts, with their defaults. Any other parameter
    /// is an error, so that a typo is never silently ignored.
    pub const fn params(self) -> &'static [SchemeParam] {
        match self {
            Self::Memory => &[],
            Self::File => FILE_PARAMS,
            Self::S3 => S3_PARAMS,
            Self::DynamoDb => DYNAMODB_PARAMS,
            Self::Redis => REDIS_PARAMS,
            Self::Postgres => POSTGRES_PARAMS,
        }
    }

    /// The cargo feature of `latency-store` that builds this backend; `None` when it is
    /// always built.
    pub const fn feature(self) -> Option<&'static str> {
        match self {
            Self::Memory | Self::File => None,
            Self::S3 => Some("s3"),
            Self::DynamoDb => Some("dynamodb"),
            Self::Redis => Some("redis"),
            Self::Postgres => Some("postgres"),
        }
    }

    /// Whether this build can open the scheme's stores.
    pub const fn is_built(self) -> bool {
        match self {
            Self::Memory | Self::File => true,
            Self::S3 => cfg!(feature = "s3"),
            Self::DynamoDb => cfg!(feature = "dynamodb"),
            Self::Redis => cfg!(feature = "redis"),
            Self::Postgres => cfg!(feature = "postgres"),
        }
    }

    /// The scheme a store URL names, if it names a known one. Only the part before `://`
    /// is looked at, so this works on URLs that are otherwise invalid.
    pub fn of_url(url: &str) -> Option<Self> {
        url.split_once("://")
            .and_then(|(scheme, _)| scheme.parse().ok())
    }

    /// The line [`accepted_forms`] shows for this scheme: form, summary, parameters, and
    /// the feature that adds it when this build leaves it out.
    pub fn accepted_form(self) -> String {
        let mut line = format!("{:<26}{}", self.form(), self.summary());
        if !self.params().is_empty() {
            let params: Vec<String> = self.params().iter().map(ToString::to_string).collect();
            line.push_str(&format!(" ({})", params.join(" ")));
        }
        if let (Some(feature), false) = (self.feature(), self.is_built()) {
            line.push_str(&format!(
                " [not in this build: enable cargo feature `{feature}`]"
            ));
        }
        line
    }
}

impl fmt::Display for StoreScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for SchemeParam {
    /// `?name=default`, or `?name=…` when there is no default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "?{}={}", self.name, self.default.unwrap_or("…"))
    }
}

/// The text after `://` names no known scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown store scheme `{0}://`")]
pub struct UnknownScheme(pub String);

impl FromStr for StoreScheme {
    type Err = UnknownScheme;

    /// Parses a scheme name (`s3`, `postgresql`, …), case-insensitively as URLs do.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scheme| {
                scheme.name().eq_ignore_ascii_case(text)
                    || scheme
                        .aliases()
                        .iter()
                        .any(|alias| alias.eq_ignore_ascii_case(text))
            })
            .ok_or_else(|| UnknownScheme(text.to_owned()))
    }
}

/// The URL forms, one line per scheme, as errors list them.
pub fn accepted_forms() -> Vec<String> {
    StoreScheme::ALL
        .into_iter()
        .map(StoreScheme::accepted_form)
        .collect()
}

/// The store section of a command's `--help` (`latency serve`), generated from
/// [`StoreScheme`], followed by the notes that hold for every scheme. Every line fits in
/// 80 columns, so that clap shows it as written.
pub fn help() -> String {
    let mut text = String::from("Store URLs (--store, $LATENCY_STORE):\n");
    for scheme in StoreScheme::ALL {
        let mut words: Vec<String> = scheme.summary().split(' ').map(str::to_owned).collect();
        words.extend(scheme.params().iter().map(ToString::to_string));
        if let (Some(feature), false) = (scheme.feature(), scheme.is_built()) {
            words.push(format!("[not in this build: cargo feature `{feature}`]"));
        }
        let mut lines = wrap(&words, HELP_WIDTH - FORM_COLUMN).into_iter();
        let first = lines.next().unwrap_or_default();
        text.push_str(&format!("  {:<24}{first}\n", scheme.form()));
        for line in lines {
            text.push_str(&format!("{:FORM_COLUMN$}{line}\n", ""));
        }
    }
    text.push_str(NOTES);
    text
}

const HELP_WIDTH: usize = 80;
/// Where the description starts, after `  <form padded to 24>`.
const FORM_COLUMN: usize = 26;

/// Greedy word wrap. Hand-written because the help is the only text this crate wraps;
/// a dependency for twelve lines is not worth it.
fn wrap(words: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in words {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.clone()),
        }
    }
    lines
}

/// What holds across schemes; kept beside the enum so that the help stays one text.
const NOTES: &str = "\
  file: locked with flock on the counter file itself, written to a new temporary
    file (O_EXCL, random name) in the same directory, fsynced, renamed over it.
    A symlinked path is resolved once, when the store opens. A missing, corrupt
    or replaced-by-symlink file is an error (503), never a reset.
  s3, dynamodb: ?create=true creates a missing bucket or table, and the counter
    at 0, when the store opens. Without it a missing counter is an error. One
    that disappears while the store is open is an error (503), never a restart.
    ?mode=read-modify-write reproduces the original study's read, then
    unconditional write, which loses updates under concurrency (to compare).
  AWS credentials and region come from the standard chain (AWS_PROFILE,
    AWS_REGION, ...); with ?endpoint= and none configured, us-east-1 and dummy
    credentials are used. ?endpoint= must not carry user:password.
  Passwords in a store URL are shown as *** in every error and log line.
  A store this build leaves out says which cargo feature adds it.
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_parses_back_from_its_name_and_form() {
        for scheme in StoreScheme::ALL {
            assert_eq!(scheme.name().parse::<StoreScheme>(), Ok(scheme));
            assert_eq!(StoreScheme::of_url(scheme.form()), Some(scheme));
            assert!(scheme.form().starts_with(&format!("{}://", scheme.name())));
        }
        assert_eq!(
            StoreScheme::of_url("postgresql://u@h/db"),
            Some(StoreScheme::Postgres)
        );
        assert_eq!(StoreScheme::of_url("gopher://x"), None);
        assert_eq!(StoreScheme::of_url("memory"), None);
    }

    #[test]
    fn help_lists_every_scheme_and_parameter_within_80_columns() {
        let text = help();
        for scheme in StoreScheme::ALL {
            assert!(text.contains(scheme.form()), "{scheme} missing:\n{text}");
            for param in scheme.params() {
                assert!(
                    text.contains(&param.to_string()),
                    "{param} missing:\n{text}"
                );
            }
        }
        for line in text.lines() {
            assert!(line.chars().count() <= HELP_WIDTH, "too wide: {line}");
        }
    }

    #[test]
    fn param_names_are_unique_per_scheme() {
        for scheme in StoreScheme::ALL {
            let names: Vec<_> = scheme.params().iter().map(|p| p.name).collect();
            let mut unique = names.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(names.len(), unique.len(), "{scheme}: {names:?}");
        }
    }
}
