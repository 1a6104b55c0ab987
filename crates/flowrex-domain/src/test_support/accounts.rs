//! The account changes of [`InMemoryStore`]: every change set applied whole or not at all,
//! as the real store's transaction does.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{
    AccountStore, AccountStoreError, Applied, Changes, QueuedMail, RecoveryCodesChange,
};
use crate::{
    FullName, Mail, MailPurpose, StoredToken, TokenFingerprint, TokenOwner, TokenPurpose, UserId,
    UserParts,
};

use super::federation::{apply_identity, forget_user, remove_identities};
use super::mfa::apply_totp;
use super::passkeys::{apply_passkey, remove_passkeys};
use super::{InMemoryStore, OutboxRow, TokenRow};

impl InMemoryStore {
    /// Every message queued so far, delivered or not, in order.
    pub fn queued_mails(&self) -> Vec<Mail> {
        self.lock_outbox()
            .iter()
            .map(|row| row.queued.mail.clone())
            .collect()
    }

    /// The token of the last queued mail of `purpose` that carries a link
    /// (`…?token=…`), if any.
    pub fn last_link_token(&self, purpose: MailPurpose) -> Option<String> {
        self.lock_outbox()
            .iter()
            .rev()
            .filter(|row| row.queued.mail.purpose == purpose)
            .find_map(|row| {
                let link = row.queued.mail.link.as_deref()?;
                Some(link.rsplit_once("token=")?.1.to_owned())
            })
    }

    /// Every account event the applied changes announced so far, in order.
    pub fn announced_events(&self) -> Vec<crate::AccountEvent> {
        self.announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(super) fn lock_tokens(&self) -> std::sync::MutexGuard<'_, Vec<TokenRow>> {
        self.tokens
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn lock_email_logins(
        &self,
    ) -> std::sync::MutexGuard<'_, Vec<crate::StoredEmailLogin>> {
        self.email_logins
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn lock_outbox(&self) -> std::sync::MutexGuard<'_, Vec<OutboxRow>> {
        self.outbox
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies `changes` to copies, so that a failing step leaves nothing changed.
    fn apply_now(&self, changes: Changes, at: DateTime<Utc>) -> Result<Applied, AccountStoreError> {
        let mut users = self.lock().clone();
        let mut tokens = self.lock_tokens().clone();
        let mut sessions = self.lock_sessions().clone();
        let mut outbox = self.lock_outbox().clone();
        let mut email_logins = self.lock_email_logins().clone();
        let mut factors = self.lock_factors().clone();
        let mut passkeys = self.lock_passkeys().clone();
        let mut federated = self.lock_federated().clone();
        let credential_event = changes.credential_event();
        let plan = changes.event_plan();
        let before = plan
            .read_before()
            .and_then(|id| users.iter().find(|u| u.id() == id).cloned());
        if let Some(issued) = changes.issued_under
            && !users
                .iter()
                .any(|u| u.id() == issued.user && u.still_holds(issued))
        {
            return Err(AccountStoreError::StampMoved);
        }
        if let Some(id) = changes.consume_token {
            let row = tokens
                .iter_mut()
                .find(|row| row.token.id == id && row.token.used_at.is_none())
                .ok_or(AccountStoreError::TokenUsed)?;
            row.token.used_at = Some(at);
        }
        if let Some(id) = changes.consume_email_login {
            let row = email_logins
                .iter_mut()
                .find(|row| row.id == id && row.used_at.is_none() && row.expires_at > at)
                .ok_or(AccountStoreError::TokenUsed)?;
            row.used_at = Some(at);
        }
        if let Some(change) = changes.totp {
            apply_totp(&mut factors, change)?;
        }
        match changes.recovery_codes {
            Some(RecoveryCodesChange::Replace { user, codes }) => {
                factors.recovery.retain(|(owner, _, _)| *owner != user);
                factors
                    .recovery
                    .extend(codes.into_iter().map(|code| (user, code, false)));
            }
            Some(RecoveryCodesChange::Consume { user, code }) => {
                let row = factors
                    .recovery
                    .iter_mut()
                    .find(|(owner, stored, used)| *owner == user && *stored == code && !used)
                    .ok_or(AccountStoreError::TokenUsed)?;
                row.2 = true;
            }
            None => {}
        }
        if let Some(id) = changes.complete_challenge {
            let row = factors
                .challenges
                .iter_mut()
                .find(|c| c.id == id && !c.used)
                .ok_or(AccountStoreError::TokenUsed)?;
            row.used = true;
        }
        let mut added = None;
        if let Some(change) = changes.passkey.clone() {
            added = apply_passkey(&mut passkeys, change, at)?;
        }
        if let Some(user) = changes.reclaim {
            factors.totp.retain(|f| f.user != user);
            factors.recovery.retain(|(owner, _, _)| *owner != user);
            remove_passkeys(&mut passkeys, user);
            remove_identities(&mut federated, user);
        }
        let mut touched = None;
        let mut inserted_id = None;
        if let Some(new) = changes.insert_user {
            if users.iter().any(|u| u.email() == &new.email) {
                return Err(AccountStoreError::EmailTaken);
            }
            let id = UserId::new(i64::try_from(users.len()).unwrap_or(i64::MAX) + 1);
            users.push(
                UserParts {
                    id,
                    email: new.email,
                    password_hash: new.password_hash,
                    full_name: new.full_name.map(FullName::into_inner),
                    is_active: true,
                    is_verified: new.is_verified,
                    is_superuser: new.is_superuser,
                    created_at: new.created_at,
                    updated_at: new.created_at,
                    last_login_at: None,
                    security_stamp: crate::SecurityStamp::INITIAL,
                }
                .into(),
            );
            touched = Some(id);
            inserted_id = Some(id);
        }
        if let Some(update) = changes.update_user {
            if let Some(email) = &update.email
                && users
                    .iter()
                    .any(|u| u.email() == email && u.id() != update.id)
            {
                return Err(AccountStoreError::EmailTaken);
            }
            for user in users.iter_mut().filter(|u| u.id() == update.id) {
                let mut parts = user.to_parts();
                if let Some(hash) = update.password_hash.clone().or(update.rehashed.clone()) {
                    parts.password_hash = hash;
                }
                if let Some(email) = update.email.clone() {
                    parts.email = email;
                }
                if let Some(name) = update.full_name.clone() {
                    parts.full_name = name.map(FullName::into_inner);
                }
                if let Some(verified) = update.is_verified {
                    parts.is_verified = verified;
                }
                if let Some(active) = update.is_active {
                    parts.is_active = active;
                }
                if let Some(superuser) = update.is_superuser {
                    parts.is_superuser = superuser;
                }
                parts.updated_at = at;
                *user = parts.into();
            }
            touched = Some(update.id);
        }
        if let Some(change) = changes.identity {
            apply_identity(&mut federated, change, inserted_id, &users, &passkeys, at)?;
        }
        if let Some(id) = credential_event {
            for user in users.iter_mut().filter(|u| u.id() == id) {
                let mut parts = user.to_parts();
                parts.security_stamp = parts.security_stamp.next();
                *user = parts.into();
            }
        }
        for new in changes.issue_tokens {
            let stamp = new.owner.stamp();
            let user = match new.owner {
                TokenOwner::User(issued) => issued.user,
                TokenOwner::Inserted => touched.ok_or_else(|| {
                    AccountStoreError::Unexpected(anyhow::anyhow!("no inserted user"))
                })?,
            };
            for row in tokens.iter_mut().filter(|row| {
                row.token.user == user
                    && row.token.purpose == new.purpose
                    && row.token.used_at.is_none()
            }) {
                row.token.used_at = Some(at);
            }
            let id = i64::try_from(tokens.len()).unwrap_or(i64::MAX) + 1;
            tokens.push(TokenRow {
                token: StoredToken {
                    id,
                    user,
                    purpose: new.purpose,
                    expires_at: new.expires_at,
                    used_at: None,
                    new_email: new.new_email,
                    stamp,
                },
                fingerprint: new.fingerprint,
            });
        }
        if let Some(new) = changes.issue_email_login {
            let key = new.email.key().to_owned();
            email_logins.retain(|row| row.email != key || row.used_at.is_none());
            for row in email_logins.iter_mut().filter(|row| row.email == key) {
                row.used_at = Some(at);
            }
            let id = email_logins.iter().map(|row| row.id).max().unwrap_or(0) + 1;
            email_logins.push(crate::StoredEmailLogin {
                id,
                email: key,
                owner: new.owner,
                token: new.token,
                code: new.code,
                attempts: 0,
                return_to: new.return_to,
                expires_at: new.expires_at,
                used_at: None,
            });
        }
        let mut revoked = 0;
        if let Some(revocation) = changes.revoke_sessions {
            for session in sessions.iter_mut().filter(|s| {
                s.user_id == revocation.user
                    && s.revoked_at.is_none()
                    && revocation.keep.as_ref() != Some(&s.id)
            }) {
                session.revoked_at = Some(at);
                session.revoked_reason = Some(revocation.reason.as_str().to_owned());
                revoked += 1;
            }
        }
        for mail in changes.mails {
            let id = i64::try_from(outbox.len()).unwrap_or(i64::MAX) + 1;
            outbox.push(OutboxRow {
                queued: QueuedMail {
                    id,
                    mail,
                    attempts: 0,
                    queued_at: at,
                },
                due: at,
                leased_until: None,
                sent: false,
                given_up: false,
            });
        }
        if let Some(id) = changes.delete_user {
            users.retain(|u| u.id() != id);
            sessions.retain(|s| s.user_id != id);
            tokens.retain(|row| row.token.user != id);
            email_logins.retain(|row| row.owner.is_none_or(|owner| owner.user != id));
            factors.totp.retain(|f| f.user != id);
            factors.recovery.retain(|(owner, _, _)| *owner != id);
            factors.challenges.retain(|c| c.user != id);
            remove_passkeys(&mut passkeys, id);
            forget_user(&mut federated, id);
        }
        if changes.keep_a_superuser && !users.iter().any(|u| u.is_superuser() && u.is_active()) {
            return Err(AccountStoreError::LastSuperuser);
        }
        let user = touched.and_then(|id| users.iter().find(|u| u.id() == id).cloned());
        let inserted = inserted_id;
        let subject = match plan.subject() {
            Some(crate::EventSubject::User(id)) => Some(id),
            Some(crate::EventSubject::Inserted) => inserted,
            None => None,
        };
        let after = subject.and_then(|id| users.iter().find(|u| u.id() == id).cloned());
        let announced = plan.events(before.as_ref(), after.as_ref(), added.as_ref(), at);
        *self.lock() = users;
        *self.lock_tokens() = tokens;
        *self.lock_sessions() = sessions;
        *self.lock_outbox() = outbox;
        *self.lock_email_logins() = email_logins;
        *self.lock_factors() = factors;
        *self.lock_passkeys() = passkeys;
        *self.lock_federated() = federated;
        self.append(changes.audit, inserted, at);
        self.announced
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(announced);
        Ok(Applied {
            user,
            revoked,
            passkey: added,
        })
    }
}

#[async_trait]
impl AccountStore for InMemoryStore {
    async fn find_token(
        &self,
        fingerprint: &TokenFingerprint,
        purpose: TokenPurpose,
    ) -> Result<Option<StoredToken>, AccountStoreError> {
        Ok(self
            .lock_tokens()
            .iter()
            .find(|row| &row.fingerprint == fingerprint && row.token.purpose == purpose)
            .map(|row| row.token.clone()))
    }

    async fn find_email_login(
        &self,
        key: crate::EmailLoginKey,
    ) -> Result<Option<crate::StoredEmailLogin>, AccountStoreError> {
        let rows = self.lock_email_logins();
        Ok(match key {
            crate::EmailLoginKey::Token(token) => rows.iter().find(|row| row.token == token),
            crate::EmailLoginKey::Email(email) => rows.iter().rev().find(|row| row.email == email),
        }
        .cloned())
    }

    async fn reserve_code_try(
        &self,
        id: i64,
        at: DateTime<Utc>,
    ) -> Result<bool, AccountStoreError> {
        let mut rows = self.lock_email_logins();
        let Some(row) = rows.iter_mut().find(|row| {
            row.id == id
                && row.used_at.is_none()
                && row.expires_at > at
                && row.attempts < crate::MAX_CODE_TRIES
        }) else {
            return Ok(false);
        };
        row.attempts += 1;
        Ok(true)
    }

    async fn purge_email_logins(&self, before: DateTime<Utc>) -> Result<u64, AccountStoreError> {
        let mut rows = self.lock_email_logins();
        let count = rows.len();
        rows.retain(|row| row.expires_at >= before);
        Ok(u64::try_from(count - rows.len()).unwrap_or(u64::MAX))
    }

    async fn apply(
        &self,
        changes: Changes,
        at: DateTime<Utc>,
    ) -> Result<Applied, AccountStoreError> {
        self.apply_now(changes, at)
    }
}
