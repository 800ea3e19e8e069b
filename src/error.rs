//! Typed errors. Every variant renders as a sentence a CloudFormation user can act on,
//! because the `Display` text becomes the `Reason` of a FAILED response.

use aws_sdk_iam::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use std::fmt;

pub use crate::model::plan::NotOwned;
pub use crate::model::violation::{Violation, Violations};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid properties: {0}")]
    Invalid(Violations),

    #[error(
        "the function's configuration is invalid: {0}. Fix the function's environment \
         (the parameters of its template) and retry"
    )]
    Config(Violations),

    #[error(
        "refused before any change: the user would hold grants that let it raise its own \
         privilege, or that could not be read to tell: {0}. Grant named resources instead \
         of wildcards, or ask the operator to vet the policy (PLANTON_TRUSTED_POLICY_ARNS)"
    )]
    Grants(Violations),

    #[error(
        "refused: CloudFormation does not stand behind this request ({0}); nothing was changed"
    )]
    Unverified(String),

    #[error(
        "this function does not answer {0} (PLANTON_SERVES): the deployment runs scheduled \
         work and custom resources in separate functions with separate roles; use the \
         ServiceToken the deployment's stack exports"
    )]
    NotServed(&'static str),

    #[error("the event is not a usable CloudFormation request: {0}")]
    BadEvent(String),

    #[error(transparent)]
    NotOwned(#[from] NotOwned),

    #[error("{action}: {code}: {message}")]
    Aws {
        action: String,
        code: String,
        message: String,
    },

    #[error("rotation refused: {0}")]
    Rotation(String),

    #[error("timed out while {step}: the Lambda deadline was about to pass")]
    Timeout { step: String },

    /// IAM's credential report, which the audit judges every key by, is not what its
    /// documentation describes: the audit stops rather than judge keys on a guess.
    #[error("the credential report could not be read ({0}); the audit judged no key")]
    Report(#[from] crate::model::inventory::ReportError),

    #[error("internal error while {0}")]
    Internal(String),
}

impl Error {
    /// Wraps an SDK error with the action that failed ("attaching policy X to user Y").
    /// Only the service's code and message are kept: never the request, which for
    /// PutSecretValue/CreateSecret would carry the secret.
    pub fn aws<E, R>(action: impl Into<String>, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let (code, message) = code_and_message(&err);
        Error::Aws {
            action: action.into(),
            code,
            message,
        }
    }
}

/// The service's error code and message of an SDK error; for a failure that never
/// reached the service (timeout, connection), a description of that instead.
pub fn code_and_message<E, R>(err: &SdkError<E, R>) -> (String, String)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    let code = err.code().unwrap_or("Unknown").to_string();
    let message = match err.message() {
        Some(m) => redact_key_ids(m),
        None => match err {
            SdkError::ServiceError(_) => "no message".to_string(),
            SdkError::TimeoutError(_) => "the request timed out".to_string(),
            SdkError::DispatchFailure(_) => {
                format!("could not reach the service ({})", DisplayErrorContext(err))
            }
            _ => DisplayErrorContext(err).to_string(),
        },
    };
    (code, message)
}

/// Replaces every AWS access key id in `text` with its first four characters and an
/// ellipsis. IAM echoes key ids in messages ("The Access Key with id AKIA... cannot be
/// found"), and these messages become a FAILED response's Reason and log lines, where a
/// key id has no business: paired with a leaked secret it completes a credential.
pub fn redact_key_ids(text: &str) -> String {
    const PREFIXES: [&str; 4] = ["AKIA", "ASIA", "ABIA", "ACCA"];
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 20 <= b.len() {
        let starts_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let ends_word = b.get(i + 20).is_none_or(|c| !c.is_ascii_alphanumeric());
        if starts_word
            && ends_word
            && PREFIXES.iter().any(|p| b[i..].starts_with(p.as_bytes()))
            && b[i + 4..i + 20]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            out.push_str(&text[copied..i + 4]);
            out.push_str("...");
            i += 20;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// IAM and Secrets Manager say "not there" in several ways; at every cleanup step all of
/// them mean the same thing: already done.
pub fn is_not_found(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("NoSuchEntity") | Some("ResourceNotFoundException") | Some("NoSuchEntityException")
    )
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::redact_key_ids;

    #[test]
    fn key_ids_are_cut_from_service_messages() {
        let cases = [
            (
                "The Access Key with id AKIAIOSFODNN7EXAMPLE cannot be found.",
                "The Access Key with id AKIA... cannot be found.",
            ),
            ("key ASIAABCDEFGHIJKLMNOP.", "key ASIA...."),
            ("AKIAIOSFODNN7EXAMPLE", "AKIA..."),
            // Not key ids: too short, too long, lower case, part of a longer word.
            ("AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPL"),
            ("AKIAIOSFODNN7EXAMPLEX", "AKIAIOSFODNN7EXAMPLEX"),
            ("akiaiosfodnn7example", "akiaiosfodnn7example"),
            ("XAKIAIOSFODNN7EXAMPLE", "XAKIAIOSFODNN7EXAMPLE"),
            (
                "User ci-deployer cannot be found.",
                "User ci-deployer cannot be found.",
            ),
            ("é AKIAIOSFODNN7EXAMPLE é", "é AKIA... é"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(redact_key_ids(input), want, "{input}");
        }
    }
}
