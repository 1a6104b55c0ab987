//! The black-box HTTP suite: one module per SPEC area, all through [`helpers::spawn_app`].

mod coexistence;
mod concurrency;
mod cookies;
mod cross_cutting;
mod faults;
mod health;
mod helpers;
mod hostile;
mod keys;
mod login;
mod logout;
mod me;
mod redis;
mod refresh;
mod register;
mod services;
mod sessions;
mod tokens;
mod upgrade;
