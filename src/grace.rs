//! The end of a rotation's grace period. After a rotation the previous key keeps
//! working for `PLANTON_ROTATION_GRACE_HOURS` (measured from the current key's
//! creation), so clients that read the old value are not cut off mid-flight. Something
//! must end it on time even when nobody deploys: an hourly scheduled event runs this
//! sweep, which deactivates every previous key whose grace is over. A stack Update ends
//! it too (the planner applies the same rule), and the next rotation deletes the key.

use crate::aws::events::Publisher;
use crate::aws::observe::{self, Expect, Keys};
use crate::aws::users::{list_keys, managed_users, Managed};
use crate::aws::{keys, Clients};
use crate::error::Error;
use crate::model::deployed::adopted_of;
use crate::model::events::{owner_of, Event, Kind};
use crate::model::plan::Grace;
use futures::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The payload that asks for a sweep rather than an audit: a scheduled event whose
/// `detail` carries `"planton-task": "end-rotation-grace"` (the template's rule sends it).
pub const TASK: &str = "end-rotation-grace";
pub const SUMMARY_RECORD: &str = "planton.grace.summary";

/// What happened to one managed user.
#[derive(Debug, Default, Clone)]
struct Swept {
    /// Keys deactivated: the previous key, an adopted user's old keys.
    deactivated: usize,
    /// The owners' events for the keys deactivated.
    events: Vec<Event>,
    in_grace: bool,
    /// The secret records no key ids (written before the function kept the record).
    unrecorded: bool,
    error: bool,
}

/// Sweeps every user under `path_prefix` that carries the ownership tags. Only a
/// failure to list the users fails the sweep; a user that cannot be read is counted as
/// an error and the others are swept all the same.
pub async fn sweep(
    c: &Clients,
    path_prefix: &str,
    period: Duration,
    max_in_flight: usize,
    events: &Publisher<'_>,
    stop_at: Option<tokio::time::Instant>,
    now: SystemTime,
) -> Result<Value, Error> {
    let grace = Grace {
        period_secs: period.as_secs(),
        now_secs: now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
    };
    let listing = managed_users(c, path_prefix, max_in_flight).await?;
    let (listed, unreadable) = (listing.listed, listing.unreadable);
    let managed_users = listing.managed.len();
    let max_in_flight = max_in_flight.max(1);
    let managed = listing.managed;
    // No user is started once `stop_at` has passed: the users in flight finish and the
    // summary says how many were covered; the next hourly run covers the rest.
    let started = std::sync::atomic::AtomicUsize::new(0);
    let swept: Vec<Swept> = futures::stream::iter(managed)
        .take_while(|_| {
            let time_left = stop_at.is_none_or(|s| tokio::time::Instant::now() < s);
            if time_left {
                started.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            std::future::ready(time_left)
        })
        .map(|m| async move { sweep_user(c, grace, &events.settings.owner_tag_key, m).await })
        .buffer_unordered((max_in_flight / 2).max(1))
        .collect()
        .await;
    let told: Vec<Event> = swept
        .iter()
        .flat_map(|s| s.events.iter().cloned())
        .collect();
    events.publish(&told).await;
    let count = |f: fn(&Swept) -> bool| swept.iter().filter(|s| f(s)).count();
    Ok(json!({
        "record": SUMMARY_RECORD,
        "grace_hours": period.as_secs() / 3600,
        "listed_users": listed,
        "managed_users": managed_users,
        "covered_users": started.load(std::sync::atomic::Ordering::Relaxed),
        "complete": started.load(std::sync::atomic::Ordering::Relaxed) == managed_users,
        "deactivated_keys": swept.iter().map(|s| s.deactivated).sum::<usize>(),
        "keys_in_grace": count(|s| s.in_grace),
        "unrecorded_secrets": count(|s| s.unrecorded),
        "errors": unreadable + count(|s| s.error),
    }))
}

/// One user: only a user with two active keys (or an adopted user's old keys) can have
/// a key whose grace is to end, so anything else costs one ListAccessKeys.
async fn sweep_user(c: &Clients, grace: Grace, owner_tag_key: &str, m: Managed) -> Swept {
    let user = m.name.as_str();
    let mut out = Swept::default();
    let user_keys = match list_keys(c, user).await {
        Ok(Some(k)) => k,
        Ok(None) => return out,
        Err(e) => {
            tracing::warn!(user, error = %e, "grace sweep: could not list the user's keys");
            out.error = true;
            return out;
        }
    };
    let active = |id: &str| user_keys.iter().any(|k| k.id == id && k.active);
    let active_count = user_keys.iter().filter(|k| k.active).count();
    // The keys an adopted user came with, still working.
    let adopted = adopted_of(&m.tags).filter(|a| a.keys.iter().any(|k| active(k)));
    let Some(secret) = m
        .secret_name
        .as_deref()
        .filter(|_| active_count >= 2 || adopted.is_some())
    else {
        return out;
    };
    // The key ids the function recorded for the secret's versions: DescribeSecret
    // alone, so this role never reads a secret value.
    let observed = match observe::secret(c, secret, Expect::Exists, Keys::FromRecord).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(user, error = %e, "grace sweep: could not read the user's secret");
            out.error = true;
            return out;
        }
    };
    let Some(observed) = observed else {
        return out;
    };
    // The resource's own PreviousKeyGraceHours, as its secret records it.
    let grace = grace.or_resources(observed.grace_hours);
    let event = |key: &str, adopted_at: Option<u64>| {
        let mut e = Event::new(
            Kind::PreviousKeyDeactivated,
            user,
            &m.owner.stack_id,
            &m.owner.logical_id,
        );
        e.secret_arn = Some(observed.arn.clone());
        e.owner = owner_of(&m.tags, owner_tag_key);
        e.access_key_id = Some(key.to_string());
        e.extra
            .insert("grace_hours".into(), json!(grace.period_secs / 3600));
        if let Some(at) = adopted_at {
            e.extra.insert("adopted_at".into(), json!(at));
        }
        e
    };

    // Ending grace periods: the adopted keys' (from the adoption), the previous key's
    // (from the rotation, that is the current key's creation).
    let mut ending: Vec<(String, Option<u64>)> = Vec::new();
    if let Some(a) = &adopted {
        if grace.is_over(Some(a.at)) {
            ending.extend(
                a.keys
                    .iter()
                    .filter(|k| active(k))
                    .map(|k| (k.clone(), Some(a.at))),
            );
        } else {
            out.in_grace = true;
        }
    }
    match (&observed.access_key_id, &observed.previous_key_id) {
        (Some(current), Some(previous)) if previous != current && active(previous) => {
            let current_created = user_keys
                .iter()
                .find(|k| &k.id == current)
                .and_then(|k| k.created)
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs());
            if grace.is_over(current_created) {
                ending.push((previous.clone(), None));
            } else {
                out.in_grace = true;
            }
        }
        (Some(_), Some(_)) => {}
        _ if !observed.key_ids_recorded => {
            // Written before the function recorded key ids: the next stack Update or
            // rotation records them. Until then nothing is deactivated on a guess.
            tracing::warn!(
                user,
                "grace sweep: the secret does not record which key each version holds; skipped until its next Update or rotation"
            );
            out.unrecorded = true;
        }
        _ => {}
    }
    for (key, adopted_at) in ending {
        match keys::deactivate_key(&c.iam, user, &key, "the previous access key").await {
            Ok(true) => {
                tracing::info!(
                    user,
                    adopted = adopted_at.is_some(),
                    "grace sweep: a key's grace period is over; deactivated"
                );
                out.deactivated += 1;
                out.events.push(event(&key, adopted_at));
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(user, error = %e, "grace sweep: could not deactivate a key whose grace is over");
                out.error = true;
            }
        }
    }
    out
}

/// Runs one sweep, writes its summary record to stdout and returns it (the
/// invocation's result).
pub async fn handle(
    c: &Clients,
    path_prefix: &str,
    grace: Duration,
    max_in_flight: usize,
    events: &Publisher<'_>,
    stop_at: Option<tokio::time::Instant>,
    now: SystemTime,
) -> Result<Value, Error> {
    let summary = sweep(c, path_prefix, grace, max_in_flight, events, stop_at, now).await?;
    println!("{summary}");
    Ok(summary)
}
