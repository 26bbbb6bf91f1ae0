//! One embedded sqlx `Migrator` per backend. The SQL lives in `migrations/{sqlite,postgres}`
//! at the repository root and is compiled into the binary, so a deployed `xingcun` needs no
//! migration files beside it. Migrations are append-only once landed.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

macro_rules! embedded {
    ($( $version:literal, $description:literal, $path:literal; )*) => {
        vec![$( Migration::new(
            $version,
            Cow::Borrowed($description),
            MigrationType::Simple,
            include_str!($path).into_sql_str(),
            false,
        ), )*]
    };
}

/// Migrations for the SQLite backend.
pub fn sqlite() -> Migrator {
    Migrator {
        migrations: Cow::Owned(embedded![
            1, "events", "../../../migrations/sqlite/0001_events.sql";
            2, "no replace", "../../../migrations/sqlite/0002_no_replace.sql";
            3, "access tokens", "../../../migrations/sqlite/0003_access_tokens.sql";
        ]),
        ..Migrator::DEFAULT
    }
}

/// Migrations for the PostgreSQL backend.
pub fn postgres() -> Migrator {
    Migrator {
        migrations: Cow::Owned(embedded![
            1, "events", "../../../migrations/postgres/0001_events.sql";
            2, "access tokens", "../../../migrations/postgres/0002_access_tokens.sql";
            3, "append function", "../../../migrations/postgres/0003_append_function.sql";
        ]),
        ..Migrator::DEFAULT
    }
}
