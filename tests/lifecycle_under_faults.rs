//! The same lifecycle scenarios as tests/lifecycle.rs, through the fault-injecting
//! proxy: 30% of IAM calls throttled, 5% of all calls answered HTTP 500, 20 ms added to
//! every call. Every scenario must still end in the right state with one answer each.
//! Plus: fifty users created at once under the same faults.

mod common;

use common::*;
use std::time::Duration;

const FAULTS: Option<fn() -> FaultConfig> = Some(|| FaultConfig {
    latency: Duration::from_millis(20),
    iam_throttle_rate: 0.3,
    error_500_rate: 0.05,
    ..FaultConfig::default()
});

include!("scenarios/lifecycle.rs");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_users_created_and_deleted_at_once_under_throttling() {
    let before = proxy().expect("proxy").stats();
    let mut jobs = Vec::new();
    for i in 0..50 {
        jobs.push(tokio::spawn(async move {
            let cfn = Cfn::new(&format!("Fifty{i}")).await;
            let name = format!("lf-fifty-{i}");
            let props = json!({"UserName": name, "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                "Tags": [{"Key": "batch", "Value": "fifty"}]});
            let r = cfn.create(props.clone()).await;
            (cfn, name, props, r)
        }));
    }
    let mut created = Vec::new();
    for j in jobs {
        let (cfn, name, props, r) = j.await.unwrap();
        r.assert_success();
        created.push((cfn, name, props));
    }
    for (_, name, _) in &created {
        let u = user_state(name).await;
        assert_eq!(u.keys.len(), 1, "{name}");
        assert_eq!(u.managed.len(), 1, "{name}");
    }
    let mut deletes = Vec::new();
    for (cfn, name, props) in created {
        deletes.push(tokio::spawn(async move {
            let r = cfn.delete(&name, props).await;
            (name, r)
        }));
    }
    for d in deletes {
        let (name, r) = d.await.unwrap();
        r.assert_success();
        assert!(!user_state(&name).await.exists, "{name}");
    }
    let s = proxy().unwrap().stats();
    let throttled = s.throttled - before.throttled;
    let requests = s.requests - before.requests;
    println!(
        "fifty users: {requests} AWS requests through the proxy, {throttled} answered Throttling, {} answered 500",
        s.errors_500 - before.errors_500
    );
    assert!(throttled > 0, "faults were injected");
}
