//! The guard every CloudFormation request runs under: whatever happens inside (a
//! panic, the deadline about to pass), an [`Answer`] comes out, naming the step that
//! was interrupted, with a physical id the rollback Delete can find.

use crate::aws::budget::Progress;
use crate::custom_resource::envelope::{Answer, Request};
use crate::error::Error;
use crate::model::spec;
use futures::FutureExt;
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// The guard itself, separate so it can be tested with any work, panics included.
pub async fn guarded<F>(
    work: F,
    abandon_at: Option<Instant>,
    progress: &Progress,
    fallback_id: &str,
) -> Answer
where
    F: std::future::Future<Output = Answer>,
{
    let work = AssertUnwindSafe(work).catch_unwind();
    let result = match abandon_at {
        Some(at) => match tokio::time::timeout_at(at, work).await {
            Ok(r) => r,
            Err(_) => {
                let step = progress.describe();
                tracing::error!(step, "deadline reached; abandoning the work");
                return Answer::failed(
                    fallback_id,
                    format!(
                        "{}. The rollback Delete or the next Update finishes what was started",
                        Error::Timeout { step }
                    ),
                );
            }
        },
        None => work.await,
    };
    result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        // The panic message is logged for the operator but kept out of the Reason: it is
        // internal detail, never input for a template author.
        tracing::error!(panic = %what, step = %progress.describe(), "handler panicked");
        Answer::failed(
            fallback_id,
            format!(
                "internal error: the handler panicked while {}; see the function's log. Nothing further was changed",
                progress.describe()
            ),
        )
    })
}

/// The id to answer with when the work itself could not say: the existing id, else the
/// deterministic user name, so the rollback Delete can find any late write; the
/// ownership tags decide what that Delete may remove.
pub fn fallback_physical_id(req: &Request) -> String {
    if let Some(p) = &req.physical_id {
        return p.clone();
    }
    match req.props.get("UserName").and_then(Value::as_str) {
        Some(n) if is_user_name(n) => n.to_string(),
        _ => format!("planton-iam-user-invalid-{}", req.logical_id),
    }
}

/// A name IAM accepts for a user: what this resource can have created.
pub fn is_user_name(s: &str) -> bool {
    (1..=spec::MAX_USER_NAME).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// The remaining time, or `None` when the deadline is unknown (0, or in the past as
/// `cargo lambda watch` sends it).
pub fn remaining(deadline_ms: u64) -> Option<Duration> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let deadline = Duration::from_millis(deadline_ms);
    (deadline > now).then(|| deadline - now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[tokio::test]
    async fn a_panic_becomes_a_failed_answer_naming_the_step() {
        let progress = Progress::default();
        progress.phase("attaching policy X to user u");
        let work = async {
            if progress.describe().contains("policy") {
                panic!("index out of bounds");
            }
            Answer::success("u", HashMap::new())
        };
        let a = guarded(work, None, &progress, "u").await;
        assert!(!a.success);
        assert_eq!(a.physical_id, "u");
        assert!(
            a.reason
                .contains("panicked while attaching policy X to user u"),
            "{}",
            a.reason
        );
        assert!(
            !a.reason.contains("index out of bounds"),
            "panic text stays in the log"
        );
    }

    #[tokio::test]
    async fn work_still_running_at_the_abandon_time_is_answered_as_a_timeout() {
        let progress = Progress::default();
        progress.phase("creating user u");
        let work = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Answer::success("u", HashMap::new())
        };
        let at = Instant::now() + Duration::from_millis(50);
        let a = guarded(work, Some(at), &progress, "u").await;
        assert!(!a.success);
        assert!(
            a.reason.starts_with("timed out while creating user u"),
            "{}",
            a.reason
        );
    }

    #[test]
    fn unknown_deadlines_impose_no_limit() {
        assert_eq!(remaining(0), None);
        assert_eq!(remaining(600_000), None, "cargo lambda watch's constant");
        let soon = SystemTime::now() + Duration::from_secs(30);
        let ms = soon.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let r = remaining(ms).unwrap();
        assert!(r <= Duration::from_secs(30) && r > Duration::from_secs(28));
    }
}
