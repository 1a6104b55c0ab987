//! The tests that run the built `flowrex` binary and other programs, one module per area:
//! the binary as an operator runs it (`binary`), its command line (`cli`), mail over a real
//! SMTP server (`mail`), two instances behind nginx (`cluster`), account events across a
//! SIGKILL (`events`), and real headless Chromium
//! (`browser`, `passkey_browser`); what they share is in `support`. Those that need a
//! program CI installs (aiosmtpd, nginx, Chromium) or a database server are `#[ignore]`d;
//! `.ci/run` runs them with `--run-ignored only`.

// A test that cannot go on says so: `unwrap` and `expect` fail it with the error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_provider;
mod binary;
mod browser;
mod cli;
mod cluster;
mod events;
mod federation;
mod github;
mod mail;
mod passkey_browser;
mod support;
