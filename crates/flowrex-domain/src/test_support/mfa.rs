//! Second factors and sign-in challenges in [`InMemoryStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ports::{
    AccountStoreError, MfaChallenge, MfaStore, MfaStoreError, TotpChange, TotpFactor,
};
use crate::{IssuedUnder, TokenFingerprint, UserId};

use super::{ChallengeRow, Factors, InMemoryStore};

pub(super) fn apply_totp(
    factors: &mut Factors,
    change: TotpChange,
) -> Result<(), AccountStoreError> {
    match change {
        TotpChange::Enroll { user, secret } => {
            factors.totp.retain(|f| f.user != user || f.active);
            factors.next_id += 1;
            factors.totp.push(TotpFactor {
                id: factors.next_id,
                user,
                secret,
                active: false,
                last_used_step: None,
            });
        }
        TotpChange::Activate { user, factor, step } => {
            if !factors
                .totp
                .iter()
                .any(|f| f.id == factor && f.user == user && !f.active)
            {
                return Err(AccountStoreError::TokenUsed);
            }
            factors.totp.retain(|f| f.user != user || f.id == factor);
            for f in factors.totp.iter_mut().filter(|f| f.id == factor) {
                f.active = true;
                f.last_used_step = Some(step);
            }
        }
        TotpChange::Remove { user } => {
            factors.totp.retain(|f| f.user != user);
            factors.recovery.retain(|(owner, _, _)| *owner != user);
        }
    }
    Ok(())
}

#[async_trait]
impl MfaStore for InMemoryStore {
    async fn totp_factors(&self, user: UserId) -> Result<Vec<TotpFactor>, MfaStoreError> {
        Ok(self
            .lock_factors()
            .totp
            .iter()
            .filter(|f| f.user == user)
            .cloned()
            .collect())
    }

    async fn accept_totp_step(&self, factor: i64, step: u64) -> Result<bool, MfaStoreError> {
        let mut factors = self.lock_factors();
        let Some(row) = factors.totp.iter_mut().find(|f| {
            f.id == factor && f.active && f.last_used_step.is_none_or(|last| last < step)
        }) else {
            return Ok(false);
        };
        row.last_used_step = Some(step);
        Ok(true)
    }

    async fn create_challenge(
        &self,
        issued: IssuedUnder,
        first: crate::AuthMethod,
        fingerprint: &TokenFingerprint,
        expires_at: DateTime<Utc>,
        _at: DateTime<Utc>,
    ) -> Result<(), MfaStoreError> {
        let mut factors = self.lock_factors();
        factors.next_id += 1;
        let id = factors.next_id;
        factors.challenges.push(ChallengeRow {
            id,
            user: issued.user,
            stamp: issued.stamp,
            first,
            fingerprint: fingerprint.clone(),
            expires_at,
            tries: 0,
            used: false,
        });
        Ok(())
    }

    async fn try_challenge(
        &self,
        fingerprint: &TokenFingerprint,
        now: DateTime<Utc>,
        max_tries: u32,
    ) -> Result<Option<MfaChallenge>, MfaStoreError> {
        let mut factors = self.lock_factors();
        let Some(row) = factors.challenges.iter_mut().find(|c| {
            &c.fingerprint == fingerprint && !c.used && c.expires_at > now && c.tries < max_tries
        }) else {
            return Ok(None);
        };
        row.tries += 1;
        Ok(Some(MfaChallenge {
            id: row.id,
            user: row.user,
            stamp: row.stamp,
            first: row.first,
        }))
    }

    async fn complete_challenge(
        &self,
        id: i64,
        _now: DateTime<Utc>,
    ) -> Result<bool, MfaStoreError> {
        let mut factors = self.lock_factors();
        let Some(row) = factors
            .challenges
            .iter_mut()
            .find(|c| c.id == id && !c.used)
        else {
            return Ok(false);
        };
        row.used = true;
        Ok(true)
    }

    async fn delete_expired_challenges(&self, before: DateTime<Utc>) -> Result<u64, MfaStoreError> {
        let mut factors = self.lock_factors();
        let count = factors.challenges.len();
        factors.challenges.retain(|c| c.expires_at >= before);
        Ok(u64::try_from(count - factors.challenges.len()).unwrap_or(0))
    }
}
