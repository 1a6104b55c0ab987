//! The `event_deliveries` table: one row per event and sink (`lane`: `nats`, or
//! `webhook:<id>`), `pending` until `delivered` or `failed` (given up), with its tries,
//! lease, next try and last outcome.

use sea_orm::entity::prelude::*;

/// Waiting for a try.
pub const PENDING: &str = "pending";
/// Delivered.
pub const DELIVERED: &str = "delivered";
/// Given up.
pub const FAILED: &str = "failed";
/// The stream's lane.
pub const NATS_LANE: &str = "nats";

/// The lane of the webhook endpoint `id`.
pub fn webhook_lane(id: i64) -> String {
    format!("webhook:{id}")
}

/// One row of `event_deliveries`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The event's row.
    pub event_row_id: i64,
    pub lane: String,
    pub endpoint_id: Option<i64>,
    /// The event's user (a user's deliveries on a lane go out in `id` order).
    pub user_id: Option<i32>,
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTimeUtc,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub last_attempt_at: Option<DateTimeUtc>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_duration_ms: Option<i32>,
    pub finished_at: Option<DateTimeUtc>,
}

/// Read by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
