//! Rotation through the fault proxy: IAM's eventual consistency, played by STS refusing
//! a brand-new key a few times, must be ridden out by testSecret's backoff. A binary of
//! its own because the proxy's settings are process-wide.

mod common;

use common::*;
use serde_json::json;
use support::fault_proxy::FailOp;

/// Through the proxy, no faults until the test sets them.
const FAULTS: Option<fn() -> FaultConfig> = Some(FaultConfig::default);

#[tokio::test]
async fn test_secret_retries_until_sts_accepts_the_new_key() {
    let proxy = proxy().expect("proxy");
    let cfn = Cfn::new("StsLag").await;
    let v1 = json!({"UserName": "fi-sts", "KeySerial": "1"});
    let v2 = json!({"UserName": "fi-sts", "KeySerial": "2"});
    cfn.create(v1.clone()).await.assert_success();
    let before = secret_value("planton/iam-user/fi-sts").await.unwrap()["AccessKeyId"].clone();

    // STS refuses the new key 3 times (InvalidClientTokenId), as it does for the first
    // seconds of a key's life; the rotation still ends with the new key current.
    proxy.reset_stats();
    proxy.set(FaultConfig {
        fail_op: Some(FailOp {
            op: "GetCallerIdentity".into(),
            times: 3,
            status: 403,
            code: "InvalidClientTokenId".into(),
            message: "The security token included in the request is invalid.".into(),
        }),
        ..FaultConfig::default()
    });
    cfn.update("fi-sts", v2.clone(), v1).await.assert_success();
    assert_eq!(
        proxy.stats().failed_op,
        3,
        "STS refused the new key 3 times"
    );
    assert_eq!(proxy.stats().op("sts.GetCallerIdentity"), 4);
    proxy.set(FaultConfig::default());
    let after = secret_value("planton/iam-user/fi-sts").await.unwrap()["AccessKeyId"].clone();
    assert_ne!(after, before, "rotated once STS accepted the key");
    cfn.delete("fi-sts", v2).await.assert_success();
}
