//! Account changes that must happen together: the state, and the mails it causes, in one
//! transaction (the transactional outbox), so that a stored change never lacks its mail
//! and a queued mail never lacks its change.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{NewPasskey, StoredPasskey};
use crate::{
    EmailAddress, EmailLoginKey, FullName, IssuedUnder, Mail, NewEmailLogin, NewIdentity,
    NewOneTimeToken, NewUser, PasswordHash, RevokeReason, SealedSecret, SessionId,
    StoredEmailLogin, StoredToken, TokenFingerprint, TokenPurpose, User, UserId,
};

failure_enum! {
    /// Why an account store call failed.
    pub enum AccountStoreError {
        /// The inserted or updated address is another account's (its email key is taken), on
        /// every backend, also when two changes race.
        #[error("email already registered")]
        EmailTaken,
        /// The token, recovery code or pending factor to use up was used (or replaced)
        /// meanwhile: nothing was changed.
        #[error("one-time token already used")]
        TokenUsed,
        /// The changes would leave no active administrator: nothing was changed.
        #[error("the last active superuser cannot be removed")]
        LastSuperuser,
        /// The user's security stamp is no longer the one the changes were issued under
        /// ([`Changes::issued_under`]): a credential event came first, nothing was changed.
        #[error("the credentials changed meanwhile")]
        StampMoved,
        /// The passkey to add is registered already (to this account or another).
        #[error("credential already registered")]
        PasskeyTaken,
        /// The passkey to remove is not (or no longer) the user's: nothing was changed.
        #[error("passkey not found")]
        PasskeyGone,
        /// The identity to link (its provider and subject) is linked already, to this user
        /// or another: nothing was changed.
        #[error("identity already linked")]
        IdentityTaken,
        /// The identity to unlink is not (or no longer) the user's: nothing was changed.
        #[error("identity not found")]
        IdentityGone,
        /// The change would leave the user no way to sign in (no usable password, no
        /// passkey, no other identity), checked under a lock of the user's row: nothing was
        /// changed.
        #[error("the last way to sign in cannot be removed")]
        LastWayIn,
    }
    /// The store cannot be reached.
    unavailable: "account store unavailable";
    failed: "account store failed";
}

/// New values for some of a user's fields; `updated_at` is set to the changes' time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUpdate {
    /// Whose.
    pub id: UserId,
    /// The hash of a new password (a credential event).
    pub password_hash: Option<PasswordHash>,
    /// The same password under a new hash (its cost upgraded at login): no credential
    /// event.
    pub rehashed: Option<PasswordHash>,
    /// A new address (its key changes with it).
    pub email: Option<EmailAddress>,
    /// A new display name (`Some(None)` clears it).
    pub full_name: Option<Option<FullName>>,
    /// Verified or not.
    pub is_verified: Option<bool>,
    /// Active or not.
    pub is_active: Option<bool>,
    /// Administrator or not.
    pub is_superuser: Option<bool>,
}

impl UserUpdate {
    /// An update of `id` that changes nothing yet.
    pub fn of(id: UserId) -> Self {
        Self {
            id,
            password_hash: None,
            rehashed: None,
            email: None,
            full_name: None,
            is_verified: None,
            is_active: None,
            is_superuser: None,
        }
    }
}

/// Sessions to end with the changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// Whose.
    pub user: UserId,
    /// One to keep (the caller's own, after a password change).
    pub keep: Option<SessionId>,
    /// Why, as recorded.
    pub reason: RevokeReason,
}

/// A change of a user's TOTP factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TotpChange {
    /// Store a pending factor with this secret, replacing a pending one.
    Enroll {
        /// Whose.
        user: UserId,
        /// The secret, sealed.
        secret: SealedSecret,
    },
    /// Make the pending factor `factor` the active one (replacing an active one), with
    /// `step` as its last used step; it must still be pending, or nothing happens.
    Activate {
        /// Whose.
        user: UserId,
        /// The pending factor.
        factor: i64,
        /// The step of the code that activated it.
        step: u64,
    },
    /// Remove every TOTP factor and recovery code of the user.
    Remove {
        /// Whose.
        user: UserId,
    },
}

/// A change of a user's recovery codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecoveryCodesChange {
    /// Replace the whole set by these (their fingerprints).
    Replace {
        /// Whose.
        user: UserId,
        /// The new set.
        codes: Vec<TokenFingerprint>,
    },
    /// Use up one code; it must be one of the user's and still unused, or nothing happens.
    Consume {
        /// Whose.
        user: UserId,
        /// The code's fingerprint.
        code: TokenFingerprint,
    },
}

/// A change of a user's passkeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasskeyChange {
    /// Store a new passkey ([`AccountStoreError::PasskeyTaken`] if its credential is
    /// registered already).
    Add(NewPasskey),
    /// Remove the passkey `id` of `user` ([`AccountStoreError::PasskeyGone`] if there is
    /// none).
    Remove {
        /// Whose.
        user: UserId,
        /// Which.
        id: i64,
    },
}

/// A change of a user's linked identities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityChange {
    /// Link an identity ([`AccountStoreError::IdentityTaken`] if its provider and subject
    /// are linked already).
    Link(NewIdentity),
    /// Unlink the identity `id` of `user` ([`AccountStoreError::IdentityGone`] if there is
    /// none; [`AccountStoreError::LastWayIn`] if the user would have no usable password, no
    /// passkey and no other identity left).
    Unlink {
        /// Whose.
        user: UserId,
        /// Which.
        id: i64,
    },
}

/// What one call of [`AccountStore::apply`] changes, in this order: the superusers' rows
/// locked ([`Self::keep_a_superuser`]), the stamp guard ([`Self::issued_under`]) checked,
/// the user's security stamp moved on when the set is a credential event
/// ([`Self::credential_event`]) — so that every set takes its row locks in one order —, a
/// token consumed (it must still be unused, or nothing happens), a second-factor change, a
/// recovery-code change and a challenge completed (each conditional in the same way), a
/// passkey added or removed, a user's sign-in methods removed ([`Self::reclaim`]), a user
/// inserted, a user updated, an identity linked (to the inserted user, or another) or
/// unlinked, tokens issued (each replacing its owner's unused ones of its
/// purpose; issued under the stamp their owner had when the set was built), sessions
/// revoked, mails queued, a user deleted (with everything of theirs), the superuser check,
/// the audit events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Apply the set only while this user's security stamp is still this one, checked
    /// before anything is written, under a lock of the user's row, so that a credential
    /// event that commits meanwhile wins: else [`AccountStoreError::StampMoved`] and
    /// nothing changes. Set by every change that honours something issued earlier (a link,
    /// a challenge, a ceremony) or acts on what the caller read (the caller's own changes).
    pub issued_under: Option<IssuedUnder>,
    /// The stored token (its id) this change set uses up.
    pub consume_token: Option<i64>,
    /// A change of a TOTP factor.
    pub totp: Option<TotpChange>,
    /// A change of recovery codes.
    pub recovery_codes: Option<RecoveryCodesChange>,
    /// A passkey added or removed.
    pub passkey: Option<PasskeyChange>,
    /// Remove every TOTP factor, recovery code, passkey and linked identity of this user:
    /// the account is taken back by the first proof of its mailbox, from whoever added
    /// them before.
    pub reclaim: Option<UserId>,
    /// A sign-in challenge (its id) these changes complete: it must still be open, or
    /// nothing happens ([`AccountStoreError::TokenUsed`]), so that a recovery code is spent
    /// only by the login it completes.
    pub complete_challenge: Option<i64>,
    /// A user to insert.
    pub insert_user: Option<NewUser>,
    /// Fields of a user to change.
    pub update_user: Option<UserUpdate>,
    /// An identity linked or unlinked.
    pub identity: Option<IdentityChange>,
    /// One-time tokens to store.
    pub issue_tokens: Vec<NewOneTimeToken>,
    /// A sign-in mail to store, replacing its address's unused ones.
    pub issue_email_login: Option<NewEmailLogin>,
    /// The sign-in mail (its id) these changes use up: it must still be unused, or nothing
    /// happens ([`AccountStoreError::TokenUsed`]), so that a link and its code sign in once.
    pub consume_email_login: Option<i64>,
    /// Sessions to revoke.
    pub revoke_sessions: Option<Revocation>,
    /// Mails to queue for delivery.
    pub mails: Vec<Mail>,
    /// A user to delete.
    pub delete_user: Option<UserId>,
    /// Refuse the whole set ([`AccountStoreError::LastSuperuser`]) if it leaves no active
    /// superuser; checked under a lock of the superusers' rows, so that two changes at once
    /// cannot each remove one of the last two.
    pub keep_a_superuser: bool,
    /// The audit events these changes record, written with them (last, after the
    /// superuser check), or not at all.
    pub audit: Vec<crate::AuditEvent>,
}

impl Changes {
    /// The user whose credentials these changes change, if any: a new password (not a
    /// rehash), a new address, a deactivation, sessions revoked (all of them, or all but
    /// the caller's), the TOTP factor, a passkey or an identity removed, the sign-in
    /// methods reclaimed.
    /// The store moves that user's security stamp on in the same transaction
    /// ([`crate::stamp`]), which ends every link, challenge and ceremony issued before.
    pub fn credential_event(&self) -> Option<UserId> {
        let event = self.credential_event_of_first();
        debug_assert!(
            [
                self.revoke_sessions.as_ref().map(|r| r.user),
                self.reclaim,
                self.update_user.as_ref().map(|u| u.id)
            ]
            .into_iter()
            .flatten()
            .all(|user| event.is_none_or(|event| event == user)),
            "one change set, one user's credentials"
        );
        event
    }

    fn credential_event_of_first(&self) -> Option<UserId> {
        let updated = self.update_user.as_ref().filter(|update| {
            update.password_hash.is_some()
                || update.email.is_some()
                || update.is_active == Some(false)
        });
        let totp_removed = match &self.totp {
            Some(TotpChange::Remove { user }) => Some(*user),
            _ => None,
        };
        let passkey_removed = match &self.passkey {
            Some(PasskeyChange::Remove { user, .. }) => Some(*user),
            _ => None,
        };
        let identity_removed = match &self.identity {
            Some(IdentityChange::Unlink { user, .. }) => Some(*user),
            _ => None,
        };
        updated
            .map(|update| update.id)
            .or(self
                .revoke_sessions
                .as_ref()
                .map(|revocation| revocation.user))
            .or(totp_removed)
            .or(passkey_removed)
            .or(identity_removed)
            .or(self.reclaim)
    }
}

/// What [`AccountStore::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The inserted or updated user, as stored now.
    pub user: Option<User>,
    /// How many sessions were revoked.
    pub revoked: u64,
    /// The passkey added.
    pub passkey: Option<StoredPasskey>,
}

/// Accounts: their atomic changes, and the one-time tokens they check.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The token with this fingerprint and purpose, whatever its state.
    ///
    /// # Errors
    /// [`AccountStoreError::Unavailable`] or [`AccountStoreError::Unexpected`].
    async fn find_token(
        &self,
        fingerprint: &TokenFingerprint,
        purpose: TokenPurpose,
    ) -> Result<Option<StoredToken>, AccountStoreError>;

    /// The sign-in mail `key` names, whatever its state (by address: the newest).
    ///
    /// # Errors
    /// [`AccountStoreError::Unavailable`] or [`AccountStoreError::Unexpected`].
    async fn find_email_login(
        &self,
        key: EmailLoginKey,
    ) -> Result<Option<StoredEmailLogin>, AccountStoreError>;

    /// Reserves one of the sign-in mail `id`'s [`crate::MAX_CODE_TRIES`] code tries, if it
    /// is unused, unexpired at `at` and has one left: whether it had. Atomic, so that of
    /// any number of concurrent tries at most the ones left are reserved; at the last, the
    /// mail stops working (its link too).
    ///
    /// # Errors
    /// [`AccountStoreError::Unavailable`] or [`AccountStoreError::Unexpected`].
    async fn reserve_code_try(&self, id: i64, at: DateTime<Utc>)
    -> Result<bool, AccountStoreError>;

    /// Deletes the sign-in mails that expired before `before`, used or not; how many.
    ///
    /// # Errors
    /// [`AccountStoreError::Unavailable`] or [`AccountStoreError::Unexpected`].
    async fn purge_email_logins(&self, before: DateTime<Utc>) -> Result<u64, AccountStoreError>;

    /// Applies every change of `changes` at `at`, in one transaction, or none of them.
    ///
    /// # Errors
    /// - [`AccountStoreError::StampMoved`] when [`Changes::issued_under`] no longer holds
    ///   (of a confirmation and a concurrent credential event of the same user, the
    ///   confirmation succeeds only if it commits first);
    /// - [`AccountStoreError::TokenUsed`] when the token to consume is no longer unused
    ///   (of two concurrent confirmations exactly one succeeds), nor the recovery code, nor
    ///   the factor to activate pending;
    /// - [`AccountStoreError::PasskeyTaken`], [`AccountStoreError::PasskeyGone`] for the
    ///   passkey change;
    /// - [`AccountStoreError::IdentityTaken`], [`AccountStoreError::IdentityGone`],
    ///   [`AccountStoreError::LastWayIn`] for the identity change;
    /// - [`AccountStoreError::EmailTaken`] when an inserted or updated address is taken;
    /// - [`AccountStoreError::LastSuperuser`] when `keep_a_superuser` is set and no active
    ///   superuser would be left;
    /// - [`AccountStoreError::Unavailable`] or [`AccountStoreError::Unexpected`].
    async fn apply(
        &self,
        changes: Changes,
        at: DateTime<Utc>,
    ) -> Result<Applied, AccountStoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::RegisteredCredential;

    #[test]
    fn only_credential_changes_are_credential_events() {
        let user = UserId::new(7);
        let update = |f: &dyn Fn(&mut UserUpdate)| {
            let mut update = UserUpdate::of(user);
            f(&mut update);
            Changes {
                update_user: Some(update),
                ..Changes::default()
            }
        };
        let hash = || PasswordHash::new("h".to_owned());
        let email = || EmailAddress::parse("new@example.com").unwrap();
        let cases: Vec<(&str, Changes, bool)> = vec![
            ("nothing", Changes::default(), false),
            (
                "new password",
                update(&|u| u.password_hash = Some(hash())),
                true,
            ),
            ("rehash", update(&|u| u.rehashed = Some(hash())), false),
            ("new address", update(&|u| u.email = Some(email())), true),
            ("deactivated", update(&|u| u.is_active = Some(false)), true),
            ("reactivated", update(&|u| u.is_active = Some(true)), false),
            ("verified", update(&|u| u.is_verified = Some(true)), false),
            (
                "superuser",
                update(&|u| u.is_superuser = Some(false)),
                false,
            ),
            ("renamed", update(&|u| u.full_name = Some(None)), false),
            (
                "sessions ended",
                Changes {
                    revoke_sessions: Some(Revocation {
                        user,
                        keep: None,
                        reason: RevokeReason::LogoutAll,
                    }),
                    ..Changes::default()
                },
                true,
            ),
            (
                "TOTP removed",
                Changes {
                    totp: Some(TotpChange::Remove { user }),
                    ..Changes::default()
                },
                true,
            ),
            (
                "TOTP enrolled",
                Changes {
                    totp: Some(TotpChange::Enroll {
                        user,
                        secret: SealedSecret::new("s".to_owned()),
                    }),
                    ..Changes::default()
                },
                false,
            ),
            (
                "passkey removed",
                Changes {
                    passkey: Some(PasskeyChange::Remove { user, id: 1 }),
                    ..Changes::default()
                },
                true,
            ),
            (
                "passkey added",
                Changes {
                    passkey: Some(PasskeyChange::Add(NewPasskey {
                        user,
                        name: "k".to_owned(),
                        registered: RegisteredCredential {
                            credential_id: "c".to_owned(),
                            credential: "{}".to_owned(),
                        },
                    })),
                    ..Changes::default()
                },
                false,
            ),
            (
                "identity unlinked",
                Changes {
                    identity: Some(IdentityChange::Unlink { user, id: 1 }),
                    ..Changes::default()
                },
                true,
            ),
            (
                "identity linked",
                Changes {
                    identity: Some(IdentityChange::Link(NewIdentity {
                        owner: crate::IdentityOwner::User(user),
                        provider: crate::ProviderId::parse("p").unwrap(),
                        subject: "s".to_owned(),
                        email: None,
                    })),
                    ..Changes::default()
                },
                false,
            ),
            (
                "taken back",
                Changes {
                    reclaim: Some(user),
                    ..Changes::default()
                },
                true,
            ),
        ];
        for (name, changes, event) in cases {
            assert_eq!(changes.credential_event(), event.then_some(user), "{name}");
        }
    }
}
