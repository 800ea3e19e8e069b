//! `Custom::PlantonIamUser`: a CloudFormation custom resource that manages an IAM
//! service-account user and keeps its access key only in Secrets Manager.
//!
//! Dependencies point one way: [`entry`] tells the callers apart and hands each what it
//! needs -> one module per caller ([`custom_resource`], [`rotation`], [`audit`],
//! [`grace`]) -> [`aws`], the only code that calls the SDK -> [`model`], pure. A
//! CloudFormation request flows event -> validated spec -> observed state -> plan ->
//! applied -> one answer.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod app;
pub mod audit;
pub mod aws;
pub mod custom_resource;
pub mod entry;
pub mod error;
pub mod grace;
pub mod logging;
/// The pure core lives in its own crate (crates/planton-model) so that the CDK construct
/// and the linters run the very same rules, compiled to WebAssembly; re-exported under
/// its old name so every caller keeps saying `crate::model`.
pub use planton_model as model;
pub mod rotation;
pub mod settings;
pub mod watch;
