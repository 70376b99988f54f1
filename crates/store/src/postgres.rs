//! `postgres://user@host:port/db?table=hits`: the counter is one row, bumped by an upsert.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{
    Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, tokio_postgres,
};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use crate::url_parse::StoreUrl;
use crate::{CounterStore, StoreError};

const BACKEND: &str = "postgres";

/// This store's own parameters; the scheme's others go to the PostgreSQL client.
const OWN_PARAMS: [&str; 3] = ["table", "create", "pool_size"];

/// `postgres://user[:password]@host:port/db?table=hits` (or `postgresql://`): the counter
/// is the `hits` column of row `id = 0` in a table (default `hits`). It is a shared store
/// for several replicas (the Kubernetes row).
///
/// `incr` is one statement, `INSERT … ON CONFLICT (id) DO UPDATE SET hits = hits + 1
/// RETURNING hits`: atomic in PostgreSQL, one round trip, on a pooled connection with a
/// prepared statement.
///
/// # Parameters
/// - `?table=hits`: the table, created (`id integer PRIMARY KEY, hits bigint`) when
///   missing unless `?create=false`.
/// - `?pool_size=16`: connections kept open.
/// - `connect_timeout`, `application_name`, `options`, `sslmode`, `target_session_attrs`
///   go to the client as in libpq. This build has no TLS, so `sslmode=require` fails.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    table: String,
    incr_sql: String,
    get_sql: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    pub(crate) async fn open_url(url: &StoreUrl) -> Result<Self, StoreError> {
        let table = url.param("table").unwrap_or_default();
        if !is_identifier(&table) {
            return Err(url.invalid(format!(
                "parameter `table` must be a plain SQL name (letters, digits, _; at most 63), not `{table}`"
            )));
        }
        let create = url.bool_param("create")?;
        let text = url.param("pool_size").unwrap_or_default();
        let pool_size = text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                url.invalid(format!(
                    "parameter `pool_size` must be a whole number from 1 to 1000, not `{text}`"
                ))
            })?;

        // Hand the client the URL without our own parameters.
        let mut client_url = url.url().clone();
        let passed: Vec<(String, String)> = url
            .url()
            .query_pairs()
            // Unknown parameters were refused when the URL was parsed.
            .filter(|(key, _)| !OWN_PARAMS.contains(&key.as_ref()))
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        client_url.set_query(None);
        if !passed.is_empty() {
            client_url.query_pairs_mut().extend_pairs(passed);
        }
        let mut pg_config = tokio_postgres::Config::from_str(client_url.as_str())
            .map_err(|err| url.invalid(format!("not a PostgreSQL URL ({err})")))?;
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(Duration::from_secs(3));
        }
        let manager = Manager::from_config(
            pg_config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .runtime(Runtime::Tokio1)
            // Bounded waits, so that a stuck database becomes a 503, not a hung request.
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(3)))
            .recycle_timeout(Some(Duration::from_secs(2)))
            .build()
            .map_err(|err| url.invalid(format!("cannot build a connection pool ({err})")))?;

        let store = Self {
            pool,
            incr_sql: format!(
                "INSERT INTO \"{table}\" AS t (id, hits) VALUES (0, 1) \
                 ON CONFLICT (id) DO UPDATE SET hits = t.hits + 1 RETURNING hits"
            ),
            get_sql: format!("SELECT hits FROM \"{table}\" WHERE id = 0"),
            table,
        };
        store.ensure_table(create).await?;
        // Fails early on a row that does not hold a counter.
        store.get().await?;
        Ok(store)
    }

    async fn ensure_table(&self, create: bool) -> Result<(), StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|err| pool_unavailable(&err))?;
        if !create {
            let exists = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&self.quoted()])
                .await
                .map_err(|err| self.classify(&err))?;
            if exists.get::<_, bool>(0) {
                return Ok(());
            }
            return Err(self.missing());
        }
        let created = client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS \"{}\" (id integer PRIMARY KEY, hits bigint NOT NULL)",
                self.table
            ))
            .await;
        match created {
            Ok(()) => Ok(()),
            // Two processes creating the table at once: the loser sees the winner's type.
            Err(err)
                if matches!(
                    err.code(),
                    Some(&SqlState::UNIQUE_VIOLATION) | Some(&SqlState::DUPLICATE_TABLE)
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(self.classify(&err)),
        }
    }

    fn quoted(&self) -> String {
        format!("\"{}\"", self.table)
    }

    fn missing(&self) -> StoreError {
        StoreError::NotFound {
            backend: BACKEND,
            resource: format!("table `{}`", self.table),
            hint: format!(
                "create it (`CREATE TABLE {} (id integer PRIMARY KEY, hits bigint NOT NULL)`), \
                 or drop ?create=false from the store URL",
                self.table
            ),
        }
    }

    fn classify(&self, err: &tokio_postgres::Error) -> StoreError {
        if err.code() == Some(&SqlState::UNDEFINED_TABLE) {
            return self.missing();
        }
        StoreError::Unavailable {
            backend: BACKEND,
            detail: describe(err),
        }
    }

    fn corrupt(&self, value: i64) -> StoreError {
        StoreError::Corrupt {
            location: format!("PostgreSQL table {} row id = 0", self.table),
            reason: "the count is negative".to_owned(),
            content: Some(value.to_string()),
        }
    }
}

impl PostgresStore {
    /// Runs one prepared (and cached) statement on a pooled connection and reads the
    /// count it returns, if any row came back.
    async fn query_count(&self, sql: &str) -> Result<Option<u64>, StoreError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|err| pool_unavailable(&err))?;
        let statement = client
            .prepare_cached(sql)
            .await
            .map_err(|err| self.classify(&err))?;
        let row = client
            .query_opt(&statement, &[])
            .await
            .map_err(|err| self.classify(&err))?;
        row.map(|row| {
            let value: i64 = row.get(0);
            u64::try_from(value).map_err(|_| self.corrupt(value))
        })
        .transpose()
    }
}

#[async_trait]
impl CounterStore for PostgresStore {
    async fn incr(&self) -> Result<u64, StoreError> {
        // The upsert always returns the row it wrote.
        self.query_count(&self.incr_sql)
            .await?
            .ok_or_else(|| StoreError::Unavailable {
                backend: BACKEND,
                detail: "the upsert returned no row".to_owned(),
            })
    }

    async fn get(&self) -> Result<u64, StoreError> {
        // No row yet: the counter was never incremented.
        Ok(self.query_count(&self.get_sql).await?.unwrap_or(0))
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }
}

/// A name that needs no escaping inside double quotes, and that PostgreSQL keeps whole.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

fn pool_unavailable(err: &PoolError) -> StoreError {
    let detail = match err {
        PoolError::Backend(err) => describe(err),
        other => other.to_string(),
    };
    StoreError::Unavailable {
        backend: BACKEND,
        detail,
    }
}

fn describe(err: &tokio_postgres::Error) -> String {
    match std::error::Error::source(err) {
        Some(source) if !err.to_string().contains(&source.to_string()) => {
            format!("{err}: {source}")
        }
        _ => err.to_string(),
    }
}
