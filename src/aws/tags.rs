//! Tags cross the SDK boundary as the model's `(key, value)` pairs, both ways, for both
//! services: one conversion each, so no caller builds SDK tag types by hand.

use crate::error::{Error, Result};

/// IAM's tags as pairs.
pub fn from_iam(tags: &[aws_sdk_iam::types::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// Secrets Manager's tags as pairs; a tag without a key is no tag.
pub fn from_sm(tags: &[aws_sdk_secretsmanager::types::Tag]) -> Vec<(String, String)> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

pub fn to_iam(tags: &[(String, String)]) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| Error::Internal(format!("building tag {k}: {e}")))
        })
        .collect()
}

pub fn to_sm(tags: &[(String, String)]) -> Vec<aws_sdk_secretsmanager::types::Tag> {
    tags.iter()
        .map(|(k, v)| {
            aws_sdk_secretsmanager::types::Tag::builder()
                .key(k)
                .value(v)
                .build()
        })
        .collect()
}
