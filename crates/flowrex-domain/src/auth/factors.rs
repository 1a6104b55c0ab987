//! [`Factors`]: the ways an account signs in besides its password — TOTP and recovery codes
//! (`factors/totp.rs`), passkeys (`factors/passkeys.rs`). Adding one needs fresh proof and
//! a verified address, and mails a notice; removing one is a credential event.

use std::sync::Arc;

use super::core::{Core, TotpCheck};
use crate::ports::RelyingParty;

mod passkeys;
mod totp;

/// Second factors and passkeys.
pub struct Factors {
    core: Arc<Core>,
    totp: TotpCheck,
    relying_party: Arc<dyn RelyingParty>,
}

impl Factors {
    pub(super) fn new(
        core: Arc<Core>,
        totp: TotpCheck,
        relying_party: Arc<dyn RelyingParty>,
    ) -> Self {
        Self {
            core,
            totp,
            relying_party,
        }
    }
}
