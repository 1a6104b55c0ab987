//! `audit_events`: the append-only trail of security events — what happened, when, who did
//! it (actor) to whom (subject), in which session, from which address and user agent,
//! under which request id, and a small JSON of details that never holds a secret. User ids
//! are plain numbers, not foreign keys: the trail outlives deleted accounts.

use sea_orm_migration::prelude::*;

use crate::columns::{big_serial, text, timestamp, user_id, varchar};
use crate::statements::{create_indexes, drop_tables, index, new_table};

crate::declare_migration!();

async fn up(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    manager
        .create_table(
            new_table(AuditEvents::Table)
                .col(big_serial(AuditEvents::Id))
                .col(timestamp(backend, AuditEvents::CreatedAt, true))
                .col(varchar(AuditEvents::Action, 64, true))
                .col(user_id(AuditEvents::ActorId, false))
                .col(user_id(AuditEvents::SubjectId, false))
                .col(varchar(AuditEvents::SessionId, 36, false))
                .col(varchar(AuditEvents::Ip, 45, false))
                .col(varchar(AuditEvents::UserAgent, 255, false))
                .col(varchar(AuditEvents::RequestId, 64, false))
                .col(text(AuditEvents::Details, true))
                .to_owned(),
        )
        .await?;
    create_indexes(
        manager,
        [
            ("ix_audit_events_created_at", AuditEvents::CreatedAt),
            ("ix_audit_events_subject_id", AuditEvents::SubjectId),
            ("ix_audit_events_actor_id", AuditEvents::ActorId),
            ("ix_audit_events_action", AuditEvents::Action),
        ]
        .map(|(name, column)| index(name, AuditEvents::Table, [column])),
    )
    .await
}

async fn down(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    drop_tables(manager, [AuditEvents::Table.into_iden()]).await
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    CreatedAt,
    Action,
    ActorId,
    SubjectId,
    SessionId,
    Ip,
    UserAgent,
    RequestId,
    Details,
}
