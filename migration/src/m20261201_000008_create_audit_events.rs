//! `audit_events`: the append-only trail of security events — what happened, when, who did
//! it (actor) to whom (subject), in which session, from which address and user agent,
//! under which request id, and a small JSON of details that never holds a secret. User ids
//! are plain numbers, not foreign keys: the trail outlives deleted accounts.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut created_at = ColumnDef::new(AuditEvents::CreatedAt);
        match manager.get_database_backend() {
            // MySQL's TIMESTAMP keeps whole seconds unless given a precision.
            DbBackend::MySql => created_at.custom(Alias::new("timestamp(6)")),
            _ => created_at.timestamp_with_time_zone(),
        };
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AuditEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(created_at.not_null())
                    .col(
                        ColumnDef::new(AuditEvents::Action)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEvents::ActorId).integer().null())
                    .col(ColumnDef::new(AuditEvents::SubjectId).integer().null())
                    .col(ColumnDef::new(AuditEvents::SessionId).string_len(36).null())
                    .col(ColumnDef::new(AuditEvents::Ip).string_len(45).null())
                    .col(
                        ColumnDef::new(AuditEvents::UserAgent)
                            .string_len(255)
                            .null(),
                    )
                    .col(ColumnDef::new(AuditEvents::RequestId).string_len(64).null())
                    .col(ColumnDef::new(AuditEvents::Details).text().not_null())
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_audit_events_created_at", AuditEvents::CreatedAt),
            ("ix_audit_events_subject_id", AuditEvents::SubjectId),
            ("ix_audit_events_actor_id", AuditEvents::ActorId),
            ("ix_audit_events_action", AuditEvents::Action),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
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
