//! How much an invocation may still do, and what it is doing now: the executor starts no
//! new call once the budget has run out, and the deadline guard reads the progress to
//! name the step it interrupted.

use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// What the invocation is doing right now, readable from outside the work future, so a
/// deadline can name the step it interrupted.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<ProgressState>>);

#[derive(Debug, Default)]
struct ProgressState {
    phase: String,
    in_flight: Vec<String>,
    /// A key minted but not yet in its secret: (user, key id). If the work is abandoned
    /// at the deadline in between, the handler deletes it before answering.
    unstored_key: Option<(String, String)>,
}

impl Progress {
    pub fn phase(&self, phase: impl Into<String>) {
        if let Ok(mut p) = self.0.lock() {
            p.phase = phase.into();
        }
    }

    pub(crate) fn start(&self, step: &str) {
        if let Ok(mut p) = self.0.lock() {
            p.in_flight.push(step.to_string());
        }
    }

    pub(crate) fn finish(&self, step: &str) {
        if let Ok(mut p) = self.0.lock() {
            if let Some(i) = p.in_flight.iter().position(|s| s == step) {
                p.in_flight.remove(i);
            }
        }
    }

    pub(crate) fn hold_unstored_key(&self, user: &str, key_id: &str) {
        if let Ok(mut p) = self.0.lock() {
            p.unstored_key = Some((user.to_string(), key_id.to_string()));
        }
    }

    pub(crate) fn release_unstored_key(&self) {
        if let Ok(mut p) = self.0.lock() {
            p.unstored_key = None;
        }
    }

    /// The key that was minted and never stored, if the work stopped in between.
    pub fn take_unstored_key(&self) -> Option<(String, String)> {
        self.0.lock().ok().and_then(|mut p| p.unstored_key.take())
    }

    /// "attaching policy X to user Y (and 2 other steps)", or the phase.
    pub fn describe(&self) -> String {
        let Ok(p) = self.0.lock() else {
            return "working".into();
        };
        match p.in_flight.as_slice() {
            [] if p.phase.is_empty() => "starting".into(),
            [] => p.phase.clone(),
            [one] => one.clone(),
            [first, rest @ ..] => format!(
                "{first} (and {} other step{} in flight)",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

/// When to stop starting new work, and where to report what is being done.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// After this instant no new step starts; steps in flight may finish.
    pub stop_at: Option<Instant>,
    pub progress: Progress,
    pub max_in_flight: usize,
}

impl Budget {
    pub fn expired(&self) -> bool {
        self.stop_at.is_some_and(|t| Instant::now() >= t)
    }
}
