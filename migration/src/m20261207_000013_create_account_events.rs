//! Account events for the services around Flowrex. `account_events`: each event a
//! committed change announces (its id, type, user and JSON body), written in the change's
//! own transaction; `webhook_endpoints`: the receivers superusers registered (the URL, the
//! event types wanted, the signing secret sealed, and the secret before a rotation while
//! it still signs); `event_deliveries`: one row per event and sink (`lane`: `nats`, or
//! `webhook:<id>`), pending until delivered or given up, with its tries, lease, next try
//! and last outcome. A user's deliveries on one lane go out in `id` order.

use sea_orm_migration::prelude::*;

use crate::columns::{big_serial, counter, text, timestamp, user_id, varchar};
use crate::statements::{create_indexes, drop_tables, index, new_table, unique_index};

crate::declare_migration!(in_one_transaction);

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(AccountEvents::Table)
                .col(big_serial(AccountEvents::Id))
                .col(varchar(AccountEvents::EventId, 36, true))
                .col(varchar(AccountEvents::EventType, 64, true))
                .col(user_id(AccountEvents::UserId, false))
                .col(text(AccountEvents::Payload, true))
                .col(timestamp(backend, AccountEvents::CreatedAt, true))
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            new_table(WebhookEndpoints::Table)
                .col(big_serial(WebhookEndpoints::Id))
                .col(text(WebhookEndpoints::Url, true))
                .col(text(WebhookEndpoints::Events, true))
                .col(varchar(WebhookEndpoints::Description, 255, false))
                .col(
                    ColumnDef::new(WebhookEndpoints::Enabled)
                        .boolean()
                        .not_null()
                        .default(true),
                )
                .col(text(WebhookEndpoints::Secret, true))
                .col(text(WebhookEndpoints::PreviousSecret, false))
                .col(timestamp(
                    backend,
                    WebhookEndpoints::PreviousSecretUntil,
                    false,
                ))
                .col(varchar(WebhookEndpoints::DisabledReason, 255, false))
                .col(timestamp(backend, WebhookEndpoints::CreatedAt, true))
                .col(timestamp(backend, WebhookEndpoints::UpdatedAt, true))
                .to_owned(),
        )
        .await?;
    manager
        .create_table(
            new_table(EventDeliveries::Table)
                .col(big_serial(EventDeliveries::Id))
                .col(
                    ColumnDef::new(EventDeliveries::EventRowId)
                        .big_integer()
                        .not_null(),
                )
                .col(varchar(EventDeliveries::Lane, 40, true))
                .col(
                    ColumnDef::new(EventDeliveries::EndpointId)
                        .big_integer()
                        .null(),
                )
                .col(user_id(EventDeliveries::UserId, false))
                .col(varchar(EventDeliveries::Status, 16, true))
                .col(counter(EventDeliveries::Attempts))
                .col(timestamp(backend, EventDeliveries::CreatedAt, true))
                .col(timestamp(backend, EventDeliveries::NextAttemptAt, true))
                .col(timestamp(backend, EventDeliveries::LockedUntil, false))
                .col(timestamp(backend, EventDeliveries::LastAttemptAt, false))
                .col(ColumnDef::new(EventDeliveries::LastStatus).integer().null())
                .col(varchar(EventDeliveries::LastError, 500, false))
                .col(
                    ColumnDef::new(EventDeliveries::LastDurationMs)
                        .integer()
                        .null(),
                )
                .col(timestamp(backend, EventDeliveries::FinishedAt, false))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_event_deliveries_event_row_id")
                        .from(EventDeliveries::Table, EventDeliveries::EventRowId)
                        .to(AccountEvents::Table, AccountEvents::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_event_deliveries_endpoint_id")
                        .from(EventDeliveries::Table, EventDeliveries::EndpointId)
                        .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            unique_index(
                "ix_account_events_event_id",
                AccountEvents::Table,
                [AccountEvents::EventId],
            ),
            index(
                "ix_account_events_created_at",
                AccountEvents::Table,
                [AccountEvents::CreatedAt],
            ),
            index(
                "ix_event_deliveries_due",
                EventDeliveries::Table,
                [EventDeliveries::Status, EventDeliveries::NextAttemptAt],
            ),
            index(
                "ix_event_deliveries_lane_user",
                EventDeliveries::Table,
                [
                    EventDeliveries::Lane,
                    EventDeliveries::UserId,
                    EventDeliveries::Status,
                    EventDeliveries::Id,
                ],
            ),
            index(
                "ix_event_deliveries_event_row_id",
                EventDeliveries::Table,
                [EventDeliveries::EventRowId],
            ),
            index(
                "ix_event_deliveries_endpoint_id",
                EventDeliveries::Table,
                [EventDeliveries::EndpointId, EventDeliveries::Id],
            ),
        ],
    )
    .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(
        manager,
        [
            EventDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
            AccountEvents::Table.into_iden(),
        ],
    )
    .await
}

#[derive(DeriveIden)]
enum AccountEvents {
    Table,
    Id,
    EventId,
    EventType,
    UserId,
    Payload,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    Url,
    Events,
    Description,
    Enabled,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EventDeliveries {
    Table,
    Id,
    EventRowId,
    Lane,
    EndpointId,
    UserId,
    Status,
    Attempts,
    CreatedAt,
    NextAttemptAt,
    LockedUntil,
    LastAttemptAt,
    LastStatus,
    LastError,
    LastDurationMs,
    FinishedAt,
}
