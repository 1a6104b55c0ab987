//! The black-box HTTP suite: one module per SPEC area, all through [`helpers::spawn_app`].

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod audit;
mod breach;
mod coexistence;
mod concurrency;
mod cookies;
mod cross_cutting;
mod email_login;
mod events;
mod events_stream;
mod faults;
mod health;
mod helpers;
mod keys;
mod lifecycle;
mod login;
mod logout;
mod me;
mod mfa;
mod nul_sweep;
mod passkeys;
mod redis;
mod refresh;
mod register;
mod services;
mod sessions;
mod takeover;
mod tokens;
mod upgrade;
