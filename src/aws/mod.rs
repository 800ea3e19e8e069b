//! The only code that calls the AWS SDK. Every read, key and secret write is written
//! once here; the callers above (custom resource, rotation, audit, grace sweep) compose
//! them, and the pure model below decides what they should do.

pub mod apply;
pub mod budget;
pub mod calls;
pub mod clients;
pub mod events;
pub mod gate;
pub mod inventory;
pub mod keys;
pub mod observe;
pub mod policies;
pub mod rotate;
pub mod snapshot;
pub mod stacks;
pub mod tags;
pub mod users;
pub mod watch;

pub use clients::Clients;
