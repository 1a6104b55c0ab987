//! sea-orm entities. The schema itself is owned by the `migration` crate.

pub mod sessions;
pub mod users;
