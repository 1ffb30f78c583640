//! A throwaway database for one benchmark run: a SQLite file in a temporary directory, or a
//! Postgres database created beside the one a URL names and dropped afterwards. Shared by the
//! `bench_*` examples through `#[path]`.

use anyhow::{Context, bail};
use std::path::Path;

pub struct ScratchDb {
    /// The URL to connect the store to.
    pub url: String,
    dir: tempfile::TempDir,
    /// `(admin URL, database name)` of a Postgres database to drop.
    postgres: Option<(String, String)>,
}

impl ScratchDb {
    /// `db` is `sqlite`, `postgres` (then `pg_url` names the server), or a `postgres://` URL.
    pub async fn create(db: &str, pg_url: Option<&str>) -> anyhow::Result<ScratchDb> {
        let dir = tempfile::tempdir()?;
        let admin = match db {
            "sqlite" => {
                let url = format!("sqlite://{}", dir.path().join("bench.db").display());
                return Ok(ScratchDb {
                    url,
                    dir,
                    postgres: None,
                });
            }
            "postgres" => pg_url.context("--url is required with --db postgres")?,
            url if url.starts_with("postgres") => url,
            other => bail!("--db must be sqlite or postgres, not {other}"),
        };
        let name = format!("cardbatch_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        // The previous run left up to a gigabyte of WAL behind; a checkpoint it sets off in the
        // middle of this run (more so with the full-page images right after one) made the same
        // drain run at 23k or 32k orders/s. Flushed now, every run starts from the same place.
        // Needs the `pg_checkpoint` role or a superuser; without it the run goes on as before.
        if let Err(e) = sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await {
            eprintln!("note: CHECKPOINT before the run failed ({e}); figures may vary more");
        }
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b)
            .context("a Postgres URL with a database name")?;
        Ok(ScratchDb {
            url: format!("{base}/{name}"),
            dir,
            postgres: Some((admin.to_string(), name)),
        })
    }

    /// The temporary directory (holds the SQLite file; usable for other scratch files).
    #[allow(dead_code)]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Drops the Postgres database (the temporary directory goes with `self`).
    pub async fn remove(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.postgres {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await?;
        }
        Ok(())
    }
}
