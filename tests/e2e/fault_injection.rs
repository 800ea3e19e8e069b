//! Targeted faults through a proxy of this test's own, one scenario at a time: secret
//! storage failing after the key was minted, a rotation whose store fails, one call
//! failing N times, a deadline that arrives midway (and one that arrives while a new
//! key is being stored), and independent calls running at once within the in-flight
//! bound (the proxy counts requests in flight). All of it under a TRACE-level log
//! capture that must never contain a minted secret.
//!
//! The future is large (debug builds keep every scenario's state in it), so it runs on
//! a thread of its own with a 16 MiB stack, in a runtime whose workers get the same;
//! the log capture is that thread's and those workers' default subscriber, not the
//! process's, so the other tests running alongside neither feed it nor are slowed by it.

use crate::harness::*;
use crate::support::fault_proxy::{FailOp, FaultConfig};
use lambda_runtime::tracing::subscriber::filter::EnvFilter;
use lambda_runtime::tracing::subscriber::util::SubscriberInitExt;
use serde_json::json;
use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The stack of the thread that drives the test and of its runtime's workers.
const BIG_STACK: usize = 16 << 20;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// A runtime worker's hold on the capturing subscriber, while the worker lives.
    static CAPTURE: RefCell<Option<tracing::dispatcher::DefaultGuard>> = const { RefCell::new(None) };
}

fn fail(op: &str, times: u32, status: u16, code: &str) -> FaultConfig {
    FaultConfig {
        fail_op: Some(FailOp {
            op: op.into(),
            times,
            status,
            code: code.into(),
            message: format!("injected {code}"),
        }),
        ..FaultConfig::default()
    }
}

#[test]
fn faults_after_the_key_exists_orphan_nothing_and_leak_nothing() {
    std::thread::Builder::new()
        .name("fault_injection".into())
        .stack_size(BIG_STACK)
        .spawn(|| {
            // While only one subscriber exists, tracing decides whether a log statement
            // is wanted at all by asking the default subscriber of whichever thread
            // reaches it first, and remembers the answer: another test's thread, which
            // has none, would switch the function's statements off for this capture too.
            // A second (silent) subscriber, alive as long as the capture, makes tracing
            // ask every subscriber instead.
            let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
            // Everything the function logs, at TRACE, with the production filter.
            let logs = Captured::default();
            let sink = logs.clone();
            let _capture = lambda_runtime::tracing::subscriber::fmt()
                .json()
                .with_env_filter(EnvFilter::new(
                    planton_iam_user::logging::filter_directives(Some("trace")),
                ))
                .with_writer(move || sink.clone())
                .finish()
                .set_default();
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_stack_size(BIG_STACK)
                .on_thread_start(move || {
                    let guard = tracing::dispatcher::set_default(&dispatch);
                    CAPTURE.with(|c| *c.borrow_mut() = Some(guard));
                })
                .on_thread_stop(|| drop(CAPTURE.with(|c| c.borrow_mut().take())))
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(Box::pin(scenarios(logs)));
        })
        .unwrap()
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

async fn scenarios(logs: Captured) {
    let h = Harness::with_faults(FaultConfig::default());
    let proxy = h.proxy();
    let cfn = h.cfn("Faulty").await;

    // A. CreateSecret keeps failing after CreateAccessKey succeeded.
    proxy.set(fail("CreateSecret", 50, 500, "InternalServiceError"));
    let keys_before = proxy.minted_key_ids().len();
    let props = json!({"UserName": "fi-store", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]});
    let r = cfn.create(props.clone()).await;
    r.assert_failed(&[
        "creating secret planton/iam-user/fi-store",
        "InternalServiceError",
        "Everything this request created was removed",
    ]);
    assert!(
        proxy.minted_key_ids().len() > keys_before,
        "a key was minted before the store failed"
    );
    assert!(
        !user_state("fi-store").await.exists,
        "user and its key removed"
    );
    assert!(!secret_exists("planton/iam-user/fi-store").await);
    proxy.set(FaultConfig::default());
    cfn.delete("fi-store", props).await.assert_success();

    // B. A rotation whose PutSecretValue keeps failing: the new key is deleted, the old
    // one stays current.
    let v1 = json!({"UserName": "fi-rotate", "KeySerial": "1"});
    let v2 = json!({"UserName": "fi-rotate", "KeySerial": "2"});
    cfn.create(v1.clone()).await.assert_success();
    let old = user_state("fi-rotate").await.keys.clone();
    proxy.set(fail("PutSecretValue", 50, 500, "InternalServiceError"));
    let r = cfn.update("fi-rotate", v2.clone(), v1.clone()).await;
    r.assert_failed(&[
        "storing the new access key of user fi-rotate as the pending version of secret",
        "InternalServiceError",
    ]);
    assert_eq!(
        user_state("fi-rotate").await.keys,
        old,
        "the unstored key was deleted"
    );
    assert_eq!(
        secret_value("planton/iam-user/fi-rotate").await.unwrap()["AccessKeyId"],
        old[0].0.as_str()
    );
    proxy.set(FaultConfig::default());
    cfn.update("fi-rotate", v2.clone(), v1)
        .await
        .assert_success();
    let now = user_state("fi-rotate").await.keys;
    let current = secret_value("planton/iam-user/fi-rotate").await.unwrap()["AccessKeyId"].clone();
    assert_ne!(
        current,
        old[0].0.as_str(),
        "retried later, the rotation completes"
    );
    assert_eq!(
        now.iter()
            .find(|(id, _)| *id == old[0].0)
            .map(|(_, s)| s.as_str()),
        Some("Active"),
        "the old key keeps working for its grace period"
    );
    assert_eq!(now.len(), 2);

    // C. One chosen call fails 4 times, then succeeds: the SDK's retries ride it out.
    proxy.reset_stats();
    proxy.set(fail("AttachUserPolicy", 4, 500, "ServiceFailure"));
    let r = cfn
        .create(json!({"UserName": "fi-flaky", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}))
        .await;
    r.assert_success();
    assert_eq!(proxy.stats().failed_op, 4);
    assert_eq!(user_state("fi-flaky").await.managed.len(), 1);

    // D. The deadline arrives midway: 700 ms per call, 3 s left, 2 s margin. The answer
    // names the step, arrives before the deadline, and the rollback Delete cleans up.
    proxy.set(FaultConfig {
        latency: Duration::from_millis(700),
        ..FaultConfig::default()
    });
    let mut slow = h.cfn("Slow").await;
    slow.app.settings.deadline_margin = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let ctx = deadline_in(3);
    let props = json!({"UserName": "fi-deadline", "ManagedPolicyArns": [
        "arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/SecurityAudit"]});
    let e = slow.event("Create", None, props.clone(), None);
    let r = slow.send_with(e, ctx).await;
    r.assert_failed(&["timed out while", "fi-deadline"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered before the deadline: {:?}",
        started.elapsed()
    );
    assert_eq!(r.physical_id(), "fi-deadline");
    proxy.set(FaultConfig::default());
    slow.delete("fi-deadline", props).await.assert_success();
    assert!(
        !user_state("fi-deadline").await.exists,
        "the rollback Delete removed the late writes"
    );
    assert!(!secret_exists("planton/iam-user/fi-deadline").await);

    // E. The deadline arrives while the new key is being stored (CreateSecret held 4 s;
    // 3 s left, 2 s margin): the work is abandoned with a key minted and not stored, and
    // that key is deleted before the answer, not left for the rollback.
    proxy.set(FaultConfig {
        slow_op: Some(("CreateSecret".into(), Duration::from_secs(4))),
        ..FaultConfig::default()
    });
    let started = std::time::Instant::now();
    let ctx = deadline_in(3);
    let props = json!({"UserName": "fi-deadline-key"});
    let e = slow.event("Create", None, props.clone(), None);
    let r = slow.send_with(e, ctx).await;
    r.assert_failed(&["timed out while", "fi-deadline-key"]);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered before the deadline: {:?}",
        started.elapsed()
    );
    // Let the held CreateSecret land (the proxy forwards it late), then look.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(started.elapsed())).await;
    let u = user_state("fi-deadline-key").await;
    assert!(u.exists);
    assert!(
        u.keys.is_empty(),
        "the key minted before the deadline was deleted: {:?}",
        u.keys
    );
    proxy.set(FaultConfig::default());
    slow.delete("fi-deadline-key", props).await.assert_success();
    assert!(!user_state("fi-deadline-key").await.exists);
    assert!(!secret_exists("planton/iam-user/fi-deadline-key").await);

    // F. Independent calls run at once, and never more than PLANTON_MAX_IN_FLIGHT: with
    // 100 ms per call, everything after CreateUser (6 attachments, 3 inline policies, 2
    // groups, the key: 12 calls) is in flight together; with a bound of 3, at most 3.
    Box::pin(async {
        for g in ["fi-par-a", "fi-par-b"] {
            create_group(g).await;
        }
        let wide = |name: &str| wide_user(name, ["fi-par-a", "fi-par-b"]);
        for (bound, name) in [(16, "fi-parallel"), (3, "fi-bounded")] {
            let mut par = h.cfn("Parallel").await;
            par.app.settings.max_in_flight = bound;
            proxy.set(FaultConfig {
                latency: Duration::from_millis(100),
                ..FaultConfig::default()
            });
            proxy.reset_stats();
            par.create(wide(name)).await.assert_success();
            let peak = proxy.stats().peak_in_flight;
            if bound == 16 {
                assert!(
                    peak >= 12,
                    "everything after CreateUser at once: peak {peak}"
                );
            } else {
                assert!((2..=3).contains(&peak), "bounded by {bound}: peak {peak}");
            }
            proxy.set(FaultConfig::default());
            par.delete(name, wide(name)).await.assert_success();
        }
    })
    .await;

    // G. No secret access key minted in any scenario appears anywhere.
    let secrets = proxy.minted_secrets();
    assert!(secrets.len() >= 5, "{} keys minted", secrets.len());
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("request handled"),
        "the capture saw the function's logs"
    );
    let bodies = [
        cfn.bodies.lock().unwrap().clone(),
        slow.bodies.lock().unwrap().clone(),
    ]
    .concat();
    for s in &secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret access key in the logs"
        );
        for b in &bodies {
            assert!(!b.contains(s.as_str()), "a secret access key in an answer");
        }
    }
    for id in proxy.minted_key_ids() {
        for b in &bodies {
            assert!(!b.contains(id.as_str()), "an access key id in an answer");
        }
    }
    println!(
        "fault injection: {} keys minted, {} log bytes and {} answers checked: 6 fault scenarios passed, no key material anywhere",
        secrets.len(),
        text.len(),
        bodies.len()
    );
}
