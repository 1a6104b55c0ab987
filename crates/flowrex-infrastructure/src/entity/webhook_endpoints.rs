//! The `webhook_endpoints` table: receivers superusers registered, each with its signing
//! secret sealed, and the secret before a rotation while it still signs.

use sea_orm::entity::prelude::*;

/// One row of `webhook_endpoints`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub url: String,
    /// The types wanted, a JSON list (`["*"]` for all).
    pub events: String,
    pub description: Option<String>,
    pub enabled: bool,
    /// `whsec_…`, sealed.
    pub secret: String,
    /// The secret before the last rotation, sealed.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

/// Deliveries refer to it.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
