//! The schema's migrations (`migrations/<engine>/`), compiled into the binary: one list per
//! engine, each file named below by its version and name.
//!
//! sqlx's `migrate!` macro would read the directory itself, but its macro crate compiles both
//! database drivers, SQLite's C source included, a second time for the compiler (about a minute
//! of every clean build and of `cargo clippy`: BENCHMARKS.md, "Build and CI"). A test checks that
//! these lists match the directories, checksums included, so a new file cannot be forgotten.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `version name` of each file of one engine's directory, oldest first.
macro_rules! embedded {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        vec![$(
            migration(
                $version,
                $name,
                include_str!(concat!(
                    "../../migrations/", $dir, "/", stringify!($version), "_", $name, ".sql"
                )),
            )
        ),*]
    };
}

/// One migration as sqlx's own directory reader makes it from `<version>_<name>.sql`, so the
/// checksums recorded in a database migrated by earlier builds still match.
fn migration(version: i64, name: &'static str, sql: &'static str) -> Migration {
    Migration::new(
        version,
        Cow::Owned(name.replace('_', " ")),
        MigrationType::Simple,
        sql.into_sql_str(),
        sql.starts_with("-- no-transaction"),
    )
}

/// The SQLite schema.
pub(super) fn sqlite() -> Migrator {
    Migrator::with_migrations(embedded!["sqlite":
        20261121000001 "queue",
        20261121000010 "provider_tokens",
        20261121000020 "orders_key_index",
        20261121000021 "in_doubt_due",
        20261121000030 "webhook_inbox",
        20261121000040 "reconcile_lookup",
        20261121000060 "attempt_kind",
        20261130000100 "schedules",
        20261130000200 "controls",
        20261130000300 "send_intent",
        20261130000400 "batch_counts",
        20261130000410 "retention",
        20261130000500 "lane_budgets",
        20261201000200 "batch_state_index_partial",
        20261201000300 "orders_ended_badly",
    ])
}

/// The PostgreSQL schema.
pub(super) fn postgres() -> Migrator {
    Migrator::with_migrations(embedded!["postgres":
        20261121000001 "queue",
        20261121000010 "provider_tokens",
        20261121000020 "orders_key_index",
        20261121000021 "in_doubt_due",
        20261121000030 "webhook_inbox",
        20261121000040 "reconcile_lookup",
        20261121000050 "orders_batch_fk",
        20261121000060 "attempt_kind",
        20261130000100 "schedules",
        20261130000200 "controls",
        20261130000300 "send_intent",
        20261130000400 "batch_counts",
        20261130000410 "retention",
        20261130000500 "lane_budgets",
        20261201000200 "batch_state_index_partial",
        20261201000300 "orders_ended_badly",
    ])
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// What matters of a migration: what sqlx compares with a database's record of it.
    fn summary(m: &Migrator) -> Vec<(i64, String, Vec<u8>, bool)> {
        m.iter()
            .map(|m| {
                let d = m.description.to_string();
                (m.version, d, m.checksum.to_vec(), m.no_tx)
            })
            .collect()
    }

    async fn from_directory(engine: &str) -> Migrator {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(engine);
        Migrator::new(dir)
            .await
            .expect("the migrations directory reads")
    }

    #[tokio::test]
    async fn the_sqlite_list_is_the_directory() {
        let listed = summary(&sqlite());
        assert_eq!(listed, summary(&from_directory("sqlite").await));
        assert!(listed.len() >= 15);
    }

    #[tokio::test]
    async fn the_postgres_list_is_the_directory() {
        let listed = summary(&postgres());
        assert_eq!(listed, summary(&from_directory("postgres").await));
        assert!(listed.len() >= 16);
    }
}
