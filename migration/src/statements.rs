//! Statements several migrations share: a new table, its indexes, the foreign key to its
//! owner in `users`, adding and dropping a column, the drops of `down`, and the reads and
//! writes of the `users.email_key` backfills.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::QueryResult;

/// `users` and the columns that statements of several migrations name: `id` (foreign
/// keys, updates by id), `email` and `email_key`.
#[derive(DeriveIden)]
pub(crate) enum Users {
    Table,
    Id,
    Email,
    EmailKey,
}

/// `CREATE TABLE IF NOT EXISTS table`, its columns to add.
pub(crate) fn new_table(table: impl IntoIden) -> TableCreateStatement {
    Table::create().table(table).if_not_exists().to_owned()
}

/// Foreign key `name` from `table.column` to `users.id`, `ON DELETE CASCADE`.
pub(crate) fn owned_by_user(
    name: &str,
    table: impl IntoIden,
    column: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(table, column)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// Index `name` on `table (columns)`.
pub(crate) fn index<C: IntoIden>(
    name: &str,
    table: impl IntoIden,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    let mut index = Index::create().name(name).table(table).to_owned();
    for column in columns {
        index.col(column);
    }
    index
}

/// Unique index `name` on `table (columns)`.
pub(crate) fn unique_index<C: IntoIden>(
    name: &str,
    table: impl IntoIden,
    columns: impl IntoIterator<Item = C>,
) -> IndexCreateStatement {
    index(name, table, columns).unique().to_owned()
}

/// Creates `indexes`, in order.
pub(crate) async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: impl IntoIterator<Item = IndexCreateStatement>,
) -> Result<(), DbErr> {
    for index in indexes {
        manager.create_index(index).await?;
    }
    Ok(())
}

/// `ALTER TABLE table ADD COLUMN column` (one column per statement: SQLite adds no more at
/// a time).
pub(crate) async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

/// `ALTER TABLE table DROP COLUMN column`.
pub(crate) async fn drop_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}

/// Drops `tables`, in order (dependents first).
pub(crate) async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: impl IntoIterator<Item = DynIden>,
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(table).to_owned())
            .await?;
    }
    Ok(())
}

/// `UPDATE users SET email_key = key WHERE id = id` for each `(id, key)` of `keys`.
pub(crate) async fn set_email_keys(
    manager: &SchemaManager<'_>,
    keys: Vec<(i64, String)>,
) -> Result<(), DbErr> {
    for (id, key) in keys {
        manager
            .exec_stmt(
                Query::update()
                    .table(Users::Table)
                    .value(Users::EmailKey, key)
                    .and_where(Expr::col(Users::Id).eq(id))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

/// The `id` of a `users` row: `integer` on every backend, read as `i64` where the driver
/// widens it.
pub(crate) fn row_id(row: &QueryResult) -> Result<i64, DbErr> {
    row.try_get::<i32>("", "id")
        .map(i64::from)
        .or_else(|_| row.try_get::<i64>("", "id"))
}

/// `DROP INDEX name` on `table`.
pub(crate) async fn drop_index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(name).table(table).to_owned())
        .await
}
