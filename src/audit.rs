//! The scheduled audit: stale keys and drift for every user this function manages.
//! (Being built; see issue 7.)

use crate::error::Error;
use crate::handler::App;
use serde_json::{json, Value};
use std::time::SystemTime;

/// Runs one audit over every managed user and returns the summary record.
pub async fn handle(_app: &App, _now: SystemTime) -> Result<Value, Error> {
    Ok(json!({"audit": "not implemented yet"}))
}
