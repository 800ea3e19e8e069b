//! Secrets Manager rotation, served by the same function: the four steps of the
//! rotation protocol for a secret this function wrote. (Being built; see issue 5.)

use crate::error::Error;
use crate::handler::App;
use serde::Deserialize;
use serde_json::Value;

/// The event Secrets Manager sends a rotation function.
#[derive(Debug, Clone, Deserialize)]
pub struct RotationEvent {
    #[serde(rename = "Step")]
    pub step: String,
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    #[serde(rename = "ClientRequestToken")]
    pub token: String,
}

pub async fn handle(_app: &App, ev: RotationEvent) -> Result<Value, Error> {
    Err(Error::Internal(format!(
        "rotation step {} is not implemented yet",
        ev.step
    )))
}
