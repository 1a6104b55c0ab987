//! Black-box HTTP tests of Flowrex live in `tests/api/`: each starts the real server (the same
//! `Application::build` as `main`) on a free port with its own database and talks to it over
//! HTTP. Run them with `cargo nextest run --workspace` (or `cargo test --workspace`).
