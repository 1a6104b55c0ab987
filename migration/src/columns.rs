//! Column shapes several migrations share.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// A timestamp column as the migrations make them (`timestamp(6)` on MySQL, so that
/// microseconds are kept; `timestamp with time zone` elsewhere), required or nullable.
pub(crate) fn timestamp(backend: DbBackend, column: impl IntoIden, required: bool) -> ColumnDef {
    let mut column = ColumnDef::new(column);
    match backend {
        DbBackend::MySql => column.custom(Alias::new("timestamp(6)")),
        _ => column.timestamp_with_time_zone(),
    };
    nullability(column, required)
}

/// `integer not null auto_increment primary key` (the id of `users`).
pub(crate) fn serial(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

/// `bigint not null auto_increment primary key` (the id of the later tables).
pub(crate) fn big_serial(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

/// `varchar(len) not null primary key`: an id the service makes (a UUID, a digest).
pub(crate) fn string_key(column: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(column)
        .string_len(len)
        .not_null()
        .primary_key()
        .to_owned()
}

/// `integer`, required or nullable: a user's id, the column of [`crate::statements::owned_by_user`].
pub(crate) fn user_id(column: impl IntoIden, required: bool) -> ColumnDef {
    nullability(ColumnDef::new(column).integer().to_owned(), required)
}

/// `integer not null default 0`: a count of attempts.
pub(crate) fn counter(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .integer()
        .not_null()
        .default(0)
        .to_owned()
}

/// `bigint not null default 0`: a security stamp.
pub(crate) fn stamp(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

/// `varchar(len)`, required or nullable, without a default.
pub(crate) fn varchar(column: impl IntoIden, len: u32, required: bool) -> ColumnDef {
    nullability(ColumnDef::new(column).string_len(len).to_owned(), required)
}

/// `text`, required or nullable, without a default.
pub(crate) fn text(column: impl IntoIden, required: bool) -> ColumnDef {
    nullability(ColumnDef::new(column).text().to_owned(), required)
}

/// `column`, `not null` when `required`, `null` otherwise.
fn nullability(mut column: ColumnDef, required: bool) -> ColumnDef {
    if required {
        column.not_null();
    } else {
        column.null();
    }
    column
}
