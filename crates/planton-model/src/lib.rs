//! The pure core: properties in, a validated spec, a judgement, a plan out. Nothing here
//! performs I/O or reaches for the clock or the environment, so every rule is proven by
//! table-driven unit tests and the rest of the crate depends on this, never the reverse.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod adoption;
pub mod aws_managed;
pub mod check;
pub mod deployed;
pub mod escalation_actions;
pub mod events;
pub mod fence;
pub mod grants;
pub mod guardrails;
pub mod inventory;
pub mod judgement;
pub mod key_ledger;
pub mod pace;
pub mod plan;
pub mod request_check;
pub mod spec;
pub mod state;
pub mod values;
pub mod violation;
pub mod watch;
