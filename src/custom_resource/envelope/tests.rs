use super::*;
use serde_json::json;

fn event() -> Value {
    json!({
        "RequestType": "Create",
        "RequestId": "r-1",
        "ResponseURL": "https://bucket.s3.amazonaws.com/path?X-Amz-Signature=abc",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1",
        "LogicalResourceId": "User",
        "ResourceType": "Custom::PlantonIamUser",
        "ResourceProperties": {"UserName": "u"}
    })
}

#[test]
fn parses_a_well_formed_request() {
    let r = parse(&event()).unwrap();
    assert_eq!(r.request_type, Some(RequestType::Create));
    assert_eq!(r.request_id, "r-1");
    assert_eq!(r.logical_id, "User");
    assert_eq!(r.physical_id, None);
    assert_eq!(r.props["UserName"], "u");
    assert_eq!(r.old_props, Value::Null);
    assert_eq!(r.problem, None);
}

#[test]
fn envelope_problems_are_collected_not_fatal() {
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation, &str)> = vec![
        (
            "unknown type",
            Box::new(|e| e["RequestType"] = json!("Upsert")),
            "RequestType \"Upsert\"",
        ),
        (
            "no type",
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("RequestType");
            }),
            "RequestType is missing",
        ),
        (
            "no request id",
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("RequestId");
            }),
            "RequestId is missing",
        ),
        (
            "no stack id",
            Box::new(|e| {
                e.as_object_mut().unwrap().remove("StackId");
            }),
            "StackId is missing",
        ),
        (
            "update without physical id",
            Box::new(|e| e["RequestType"] = json!("Update")),
            "PhysicalResourceId is missing",
        ),
        (
            "delete with empty physical id",
            Box::new(|e| {
                e["RequestType"] = json!("Delete");
                e["PhysicalResourceId"] = json!("");
            }),
            "PhysicalResourceId is missing",
        ),
    ];
    for (name, mutate, want) in cases {
        let mut e = event();
        mutate(&mut e);
        let r = parse(&e).unwrap();
        let problem = r.problem.unwrap_or_default();
        assert!(problem.contains(want), "{name}: {problem}");
    }
}

#[test]
fn no_usable_response_url_is_unanswerable() {
    for bad in [
        json!(null),
        json!("x"),
        json!([1]),
        json!({"RequestType": "Create"}),
    ] {
        assert!(parse(&bad).is_err(), "{bad}");
    }
    let mut e = event();
    e["ResponseURL"] = json!("ftp://x/y");
    assert!(parse(&e).is_err());
    e["ResponseURL"] = json!(42);
    assert!(parse(&e).is_err());
}

#[test]
fn debug_output_hides_the_presigned_signature() {
    let r = parse(&event()).unwrap();
    let shown = format!("{r:?}");
    assert!(!shown.contains("X-Amz-Signature=abc"), "{shown}");
    assert!(shown.contains("<redacted>"));
    assert_eq!(redact_url("https://h/p?sig=1"), "https://h/p?<redacted>");
    assert_eq!(redact_url("https://h/p"), "https://h/p");
}

fn rendered(answer: &Answer) -> Value {
    let req = parse(&event()).unwrap();
    let b = body(&req, answer);
    assert!(b.len() <= MAX_BODY, "{} bytes", b.len());
    serde_json::from_slice(&b).unwrap()
}

#[test]
fn body_echoes_ids_and_carries_status_reason_and_data() {
    let mut data = HashMap::new();
    data.insert("Arn".to_string(), "arn:aws:iam::1:user/u".to_string());
    let v = rendered(&Answer::success("u", data));
    assert_eq!(v["Status"], "SUCCESS");
    assert_eq!(v["PhysicalResourceId"], "u");
    assert_eq!(v["RequestId"], "r-1");
    assert_eq!(v["LogicalResourceId"], "User");
    assert_eq!(
        v["StackId"],
        "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1"
    );
    assert_eq!(v["Data"]["Arn"], "arn:aws:iam::1:user/u");
    assert_eq!(v["Reason"], "OK");
    let f = rendered(&Answer::failed("u", "boom"));
    assert_eq!(f["Status"], "FAILED");
    assert_eq!(f["Reason"], "boom");
}

#[test]
fn reason_is_truncated_to_fit_keeping_its_beginning() {
    for filler in ["x", "é", "🦀"] {
        let reason = format!("creating user u: Throttling: {}", filler.repeat(5000));
        let v = rendered(&Answer::failed("u", reason));
        let r = v["Reason"].as_str().unwrap();
        assert!(r.starts_with("creating user u: Throttling: "), "{filler}");
        assert!(r.ends_with("[truncated]"), "{filler}");
    }
    // Just under the limit: untouched.
    let req = parse(&event()).unwrap();
    let base = body(&req, &Answer::failed("u", "")).len();
    let exact = "y".repeat(MAX_BODY - base);
    let v = rendered(&Answer::failed("u", exact.clone()));
    assert_eq!(v["Reason"], exact.as_str());
    let v = rendered(&Answer::failed("u", format!("{exact}y")));
    assert!(v["Reason"].as_str().unwrap().ends_with("[truncated]"));
}

#[test]
fn physical_id_is_never_empty_nor_over_1kb() {
    let v = rendered(&Answer::failed("", "x"));
    assert_eq!(v["PhysicalResourceId"], "planton-iam-user-unnamed-User");
    let v = rendered(&Answer::failed("p".repeat(2000), "x"));
    assert_eq!(v["PhysicalResourceId"].as_str().unwrap().len(), 1024);
}
