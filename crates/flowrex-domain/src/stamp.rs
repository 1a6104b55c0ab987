//! The security stamp: one rule instead of a list of things each flow must remember to
//! cancel.
//!
//! Every user has a [`SecurityStamp`]. Each *credential event* — the password changed or
//! reset, the address changed, every session ended (by the user or an administrator), the
//! account deactivated, a factor or passkey removed, the account taken back by the first
//! proof of its mailbox — moves it on, in the transaction of the event itself
//! ([`crate::ports::Changes::credential_event`] says which changes are one). Everything
//! issued to a user records the stamp it was issued under ([`IssuedUnder`]): mailed links
//! (verification, reset, email change, invitation), the challenge of a login waiting for
//! its second factor, a passkey registration ceremony, and the sign-in a session is opened
//! for. It is honoured only while the user's stamp is still that one
//! ([`User::still_holds`]), and the change it leads to is applied only under the same
//! condition, checked again inside that change's transaction
//! ([`crate::ports::Changes::issued_under`], [`crate::ports::SessionStore::create`]), so a
//! credential event that commits a moment earlier still wins.

use crate::{User, UserId};

/// The version of a user's credentials; it only moves forward. Not a secret: it is never
/// sent, and knowing it grants nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecurityStamp(i64);

impl SecurityStamp {
    /// The stamp of a new user (and of rows written before stamps existed, by the
    /// original service or plain SQL: the column's default).
    pub const INITIAL: Self = Self(0);

    /// Wraps a stored stamp.
    pub fn new(stamp: i64) -> Self {
        Self(stamp)
    }

    /// As stored.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The stamp after one more credential event.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

/// Whom something was issued to, and under which of their stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedUnder {
    /// The user.
    pub user: UserId,
    /// The user's stamp when it was issued.
    pub stamp: SecurityStamp,
}

impl IssuedUnder {
    /// Issued to `user` as they are now.
    pub fn now(user: &User) -> Self {
        Self {
            user: user.id(),
            stamp: user.security_stamp(),
        }
    }
}

impl User {
    /// Whether what was issued under `issued` may still be honoured for this user: it was
    /// issued to this user, and no credential event has happened since.
    pub fn still_holds(&self, issued: IssuedUnder) -> bool {
        issued.user == self.id() && issued.stamp == self.security_stamp()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::{EmailAddress, PasswordHash, UserParts};

    fn user(id: i64, stamp: i64) -> User {
        UserParts {
            id: UserId::new(id),
            email: EmailAddress::parse("a@b.co").unwrap(),
            password_hash: PasswordHash::new("x".to_owned()),
            full_name: None,
            is_active: true,
            is_verified: true,
            is_superuser: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            last_login_at: None,
            security_stamp: SecurityStamp::new(stamp),
        }
        .into()
    }

    #[test]
    fn only_what_was_issued_to_the_user_under_the_current_stamp_holds() {
        let current = user(1, 3);
        let cases = [
            (1, 3, true),
            (1, 2, false),
            (1, 4, false),
            (2, 3, false),
            (1, 0, false),
        ];
        for (id, stamp, holds) in cases {
            let issued = IssuedUnder {
                user: UserId::new(id),
                stamp: SecurityStamp::new(stamp),
            };
            assert_eq!(current.still_holds(issued), holds, "{issued:?}");
        }
        assert!(current.still_holds(IssuedUnder::now(&current)));
        assert_eq!(SecurityStamp::INITIAL.next(), SecurityStamp::new(1));
        assert_eq!(
            SecurityStamp::new(i64::MAX).next(),
            SecurityStamp::new(i64::MAX)
        );
    }
}
