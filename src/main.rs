//! Builds what lives for the whole process (logging, the SDK clients) once, then serves
//! every invocation with it.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use planton_iam_user::{app::App, entry, logging};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = std::time::Instant::now();
    logging::init();
    // At DEBUG the phases of the cold start are logged (scripts/bench reads them).
    tracing::debug!(
        phase = "logging",
        us = started.elapsed().as_micros() as u64,
        "startup"
    );
    let app = App::from_env().await?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move { entry::handle(app, event).await },
    ))
    .await
}
