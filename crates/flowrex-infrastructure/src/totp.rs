//! RFC 6238 one-time passwords with `totp-rs`: HMAC-SHA-1, 6 digits, 30-second steps, one
//! step of skew either way — what every authenticator app speaks. The adapter says which
//! step a code matched (compared in constant time), so that the domain can refuse it ever
//! after; the enrolment QR code is an SVG made with `qrcode`.

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use flowrex_domain::ports::{OneTimePasswords, OtpError};
use flowrex_domain::{TotpProvisioning, TotpSecret};
use qrcode::QrCode;
use qrcode::render::svg;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, TOTP};

/// Seconds per step.
const STEP_SECONDS: u64 = 30;
/// Digits per code.
const DIGITS: usize = 6;

/// TOTP codes for authenticator apps, under an issuer name (`Flowrex` by default) shown in
/// the app beside the account.
#[derive(Debug, Clone)]
pub struct TotpCodes {
    issuer: String,
}

impl Default for TotpCodes {
    fn default() -> Self {
        Self::new("Flowrex")
    }
}

impl TotpCodes {
    /// Codes whose enrolment names `issuer` (a `:` in it is dropped: the URI label
    /// cannot hold one).
    pub fn new(issuer: &str) -> Self {
        Self {
            issuer: issuer.replace(':', ""),
        }
    }

    fn totp(&self, secret: &TotpSecret, account: String) -> TOTP {
        // `new_unchecked`: our secrets are 160 bits; the check would only refuse shorter
        // ones, and the URI label is escaped by the crate.
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            1,
            STEP_SECONDS,
            secret.expose().to_vec(),
            Some(self.issuer.clone()),
            account,
        )
    }
}

impl OneTimePasswords for TotpCodes {
    fn provisioning(
        &self,
        secret: &TotpSecret,
        account: &str,
    ) -> Result<TotpProvisioning, OtpError> {
        // The label's `issuer:account` is split at the first `:`.
        let totp = self.totp(secret, account.replace(':', ""));
        let uri = totp.get_url();
        let qr_svg = QrCode::new(uri.as_bytes())
            .map_err(|error| OtpError(anyhow!(error)))?
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        Ok(TotpProvisioning {
            secret: totp.get_secret_base32(),
            uri,
            qr_svg,
        })
    }

    fn matching_step(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: DateTime<Utc>,
        after: Option<u64>,
    ) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let totp = self.totp(secret, String::new());
        let current = u64::try_from(now.timestamp()).ok()? / STEP_SECONDS;
        // Latest first, so that the step recorded is the newest the code can stand for.
        [current + 1, current, current.saturating_sub(1)]
            .into_iter()
            .filter(|step| after.is_none_or(|last| *step > last))
            .find(|step| {
                let expected = totp.generate(step * STEP_SECONDS);
                bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
            })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// RFC 6238's SHA-1 test secret (`12345678901234567890`) and its vectors, cut to six
    /// digits.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).single().unwrap()
    }

    #[test]
    fn codes_match_rfc_6238s_vectors_and_name_their_step() {
        let codes = TotpCodes::default();
        // T = 59 s → 94287082; T = 1111111109 → 07081804; T = 2000000000 → 69279037.
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (2_000_000_000, "279037"),
        ] {
            let step = u64::try_from(time).unwrap() / 30;
            assert_eq!(
                codes.matching_step(&rfc_secret(), code, at(time), None),
                Some(step),
                "{time}"
            );
        }
    }

    #[test]
    fn the_window_is_one_step_either_way_and_a_used_step_never_matches() {
        let codes = TotpCodes::default();
        let secret = rfc_secret();
        let code = "081804"; // step 37037036 (T = 1111111109)
        let step = 1_111_111_109 / 30;
        // At the step before, at it, and at the step after: accepted, as that step.
        for now in [step - 1, step, step + 1] {
            let now = at(i64::try_from(now * 30 + 15).unwrap());
            assert_eq!(codes.matching_step(&secret, code, now, None), Some(step));
        }
        // Two steps away either way: refused.
        for now in [step - 2, step + 2] {
            let now = at(i64::try_from(now * 30).unwrap());
            assert_eq!(codes.matching_step(&secret, code, now, None), None);
        }
        // The window's edges, to the second: the last second of step + 1 still matches,
        // the first of step + 2 does not.
        assert_eq!(
            codes.matching_step(
                &secret,
                code,
                at(i64::try_from((step + 2) * 30 - 1).unwrap()),
                None
            ),
            Some(step)
        );
        // Once the step was accepted, the code is refused, and so is any older step.
        let now = at(1_111_111_109);
        assert_eq!(codes.matching_step(&secret, code, now, Some(step)), None);
        assert_eq!(
            codes.matching_step(&secret, code, now, Some(step - 1)),
            Some(step)
        );
        for garbage in ["", "12345", "1234567", "abcdef", "08180４"] {
            assert_eq!(codes.matching_step(&secret, garbage, now, None), None);
        }
    }

    #[test]
    fn provisioning_names_issuer_and_account_and_draws_the_uri() {
        let codes = TotpCodes::default();
        let secret = rfc_secret();
        let provisioning = codes.provisioning(&secret, "ada@example.com").unwrap();
        assert_eq!(provisioning.secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(
            provisioning.uri.starts_with(
                "otpauth://totp/Flowrex:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            ),
            "{}",
            provisioning.uri
        );
        assert!(provisioning.uri.contains("issuer=Flowrex"));
        assert!(provisioning.qr_svg.contains("<svg"));
    }
}
