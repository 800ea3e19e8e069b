//! Publishes [`Event`]s to EventBridge. Publishing never fails the work it reports on:
//! a stack operation, a rotation step, the audit or the sweep succeeds or fails on its
//! own; an event that could not be put is logged and counted (the `EventsFailed`
//! metric, in Embedded Metric Format, beside `EventsPublished`).

use crate::aws::Clients;
use crate::error::code_and_message;
use crate::model::events::{Event, DIMENSION, NAMESPACE, SOURCE};
use crate::settings::EventSettings;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::json;

/// EventBridge takes at most 10 entries per PutEvents.
const BATCH: usize = 10;

/// What publishing did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Published {
    pub sent: usize,
    pub failed: usize,
}

/// Publishes for one invocation: where to, how to name the owner, and the function the
/// metrics are counted under.
#[derive(Debug, Clone, Copy)]
pub struct Publisher<'a> {
    pub clients: &'a Clients,
    pub settings: &'a EventSettings,
    pub function: &'a str,
}

impl Publisher<'_> {
    /// Puts `events` (none when the bus is `none`); never an error.
    pub async fn publish(&self, events: &[Event]) -> Published {
        let Some(bus) = self.settings.bus.as_deref() else {
            return Published::default();
        };
        if events.is_empty() {
            return Published::default();
        }
        let mut out = Published::default();
        for batch in events.chunks(BATCH) {
            let entries: Vec<PutEventsRequestEntry> = batch
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(bus)
                        .source(SOURCE)
                        .detail_type(e.kind.detail_type())
                        .detail(e.detail(&self.settings.owner_tag_key).to_string())
                        .set_resources(Some(e.resources()))
                        .build()
                })
                .collect();
            match self
                .clients
                .events
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(r) => {
                    let failed = r.failed_entry_count().max(0) as usize;
                    for entry in r.entries().iter().filter(|x| x.error_code().is_some()) {
                        tracing::warn!(
                            bus,
                            code = entry.error_code().unwrap_or_default(),
                            message = entry.error_message().unwrap_or_default(),
                            "an event could not be published"
                        );
                    }
                    out.failed += failed.min(batch.len());
                    out.sent += batch.len() - failed.min(batch.len());
                }
                Err(e) => {
                    let (code, message) = code_and_message(&e);
                    tracing::warn!(
                        bus,
                        code,
                        message,
                        count = batch.len(),
                        "events could not be published"
                    );
                    out.failed += batch.len();
                }
            }
        }
        self.count(out);
        out
    }

    /// One Embedded Metric Format line: CloudWatch counts what was published and what
    /// failed under the function's name, so a failing bus can alarm.
    fn count(&self, p: Published) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let line = json!({
            "_aws": {
                "Timestamp": now,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [
                        {"Name": "EventsPublished", "Unit": "Count"},
                        {"Name": "EventsFailed", "Unit": "Count"},
                    ],
                }],
            },
            DIMENSION: self.function,
            "record": "planton.events",
            "EventsPublished": p.sent,
            "EventsFailed": p.failed,
        });
        println!("{line}");
    }
}
