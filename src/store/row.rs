//! Structs read from a query's row by column name, on either engine.

/// Declares a struct and its `sqlx::FromRow` (each field read from the column of its name): what
/// `#[derive(sqlx::FromRow)]` writes, without sqlx's macro crate, which compiles both database
/// drivers a second time for the compiler (see `migrations.rs`).
macro_rules! from_row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$fmeta:meta])* $fvis:vis $field:ident : $fty:ty),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$fmeta])* $fvis $field: $fty),*
        }

        impl<'r, R: ::sqlx::Row> ::sqlx::FromRow<'r, R> for $name
        where
            &'r str: ::sqlx::ColumnIndex<R>,
            $($fty: ::sqlx::Decode<'r, R::Database> + ::sqlx::Type<R::Database>,)*
        {
            fn from_row(row: &'r R) -> ::std::result::Result<Self, ::sqlx::Error> {
                Ok($name {
                    $($field: ::sqlx::Row::try_get(row, stringify!($field))?),*
                })
            }
        }
    };
}

pub(super) use from_row;
