//! sea-orm entities. The schema itself is owned by the `migration` crate.

pub mod account_events;
pub mod audit_events;
pub mod email_logins;
pub mod event_deliveries;
pub mod federation_flows;
pub mod identities;
pub mod mfa_challenges;
pub mod one_time_tokens;
pub mod outbox;
pub mod passkeys;
pub mod recovery_codes;
pub mod sessions;
pub mod totp_factors;
pub mod users;
pub mod webauthn_ceremonies;
pub mod webhook_endpoints;
