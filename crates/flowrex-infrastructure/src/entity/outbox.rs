//! The `outbox` table: queued mails, each sealed; the row that queues a mail (inserted by
//! the account store beside the change that causes it) and the mail a row holds (read by
//! the outbox).

use chrono::{DateTime, Utc};
use flowrex_domain::{EmailAddress, Mail, MailPurpose};
use sea_orm::Set;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::secret_box::SecretBox;

/// One row of `outbox`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub purpose: String,
    /// The message, encrypted (`v1:` nonce and ciphertext, base64); `NULL` once sent or
    /// given up.
    pub payload: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub next_attempt_at: DateTimeUtc,
    pub locked_until: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub failed_at: Option<DateTimeUtc>,
}

/// No relations: a queued mail outlives the account it was for (a deletion notice).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A message as it is sealed into a row.
#[derive(Serialize, Deserialize)]
struct MailRecord {
    to: String,
    purpose: String,
    link: Option<String>,
    new_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<String>,
}

/// The row that queues `mail` at `at`: what [`crate::SeaOrmAccountStore`] inserts beside
/// the change that causes it.
pub(crate) fn queued_row(sealer: &SecretBox, mail: &Mail, at: DateTime<Utc>) -> ActiveModel {
    let record = MailRecord {
        to: mail.to.as_str().to_owned(),
        purpose: mail.purpose.as_str().to_owned(),
        link: mail.link.clone(),
        new_email: mail.new_email.clone(),
        code: mail.code.clone(),
    };
    let json = serde_json::to_vec(&record).unwrap_or_default();
    ActiveModel {
        purpose: Set(mail.purpose.as_str().to_owned()),
        payload: Set(Some(sealer.seal(&json))),
        attempts: Set(0),
        last_error: Set(None),
        created_at: Set(at),
        next_attempt_at: Set(at),
        locked_until: Set(None),
        sent_at: Set(None),
        failed_at: Set(None),
        ..Default::default()
    }
}

/// The message `row` holds, if its payload opens with `sealer` and reads.
pub(crate) fn mail_of(sealer: &SecretBox, row: &Model) -> Option<Mail> {
    let plain = sealer.open(row.payload.as_deref()?).ok()?;
    let record: MailRecord = serde_json::from_slice(&plain).ok()?;
    Some(Mail {
        to: EmailAddress::parse(&record.to).ok()?,
        purpose: MailPurpose::parse(&record.purpose)?,
        link: record.link,
        new_email: record.new_email,
        code: record.code,
    })
}
