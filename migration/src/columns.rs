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
    if required {
        column.not_null();
    } else {
        column.null();
    }
    column.to_owned()
}
