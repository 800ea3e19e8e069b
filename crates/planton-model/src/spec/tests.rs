use super::*;
use serde_json::json;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A refusal case: (case name, ResourceProperties, property named, substring of the rule).
type Refusal = (&'static str, Value, &'static str, &'static str);

const USER: &str = "svc-ci";

/// `extra` on top of a valid minimal event (`UserName` only), unless `extra` sets one.
fn props(extra: Value) -> Value {
    let mut m = Map::new();
    m.insert("UserName".to_string(), json!(USER));
    let Value::Object(e) = extra else {
        panic!("props() takes an object, got {extra}");
    };
    m.extend(e);
    Value::Object(m)
}

fn parse_ok(name: &str, props: &Value, partition: Option<&str>) -> UserSpec {
    match parse(props, partition) {
        Ok(spec) => spec,
        Err(v) => panic!("{name}: expected Ok, got violations: {v}"),
    }
}

fn parse_err(name: &str, props: &Value, partition: Option<&str>) -> Vec<Violation> {
    match parse(props, partition) {
        Ok(spec) => panic!("{name}: expected violations, got Ok({spec:?})"),
        Err(Violations(v)) => v,
    }
}

/// Every case yields exactly one violation, on `property`, whose rule contains `rule`.
fn assert_refused_with(cases: &[Refusal], partition: Option<&str>) {
    assert!(!cases.is_empty());
    for (name, p, property, rule) in cases {
        let v = parse_err(name, p, partition);
        assert_eq!(
            v.len(),
            1,
            "{name}: expected exactly one violation on {property}, got {v:?}"
        );
        assert_eq!(v[0].property, *property, "{name}: wrong property in {v:?}");
        assert!(
            v[0].rule.contains(rule),
            "{name}: rule {:?} does not contain {rule:?}",
            v[0].rule
        );
    }
}

fn assert_refused(cases: &[Refusal]) {
    assert_refused_with(cases, None);
}

fn has(v: &[Violation], property: &str, rule: &str) -> bool {
    v.iter()
        .any(|x| x.property == property && x.rule.contains(rule))
}

fn s(c: char, n: usize) -> String {
    std::iter::repeat_n(c, n).collect()
}

fn policy_doc() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
    })
}

/// A valid policy document whose `policy_size` is exactly `size`, padded with a `Sid`.
fn doc_of_size(size: usize) -> Value {
    let with_sid = |sid: String| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
        })
    };
    let base = policy_size(&with_sid(String::new()));
    assert!(size >= base, "cannot build a document of {size} (< {base})");
    let doc = with_sid(s('a', size - base));
    assert_eq!(policy_size(&doc), size, "calibration of doc_of_size");
    doc
}

fn arn(i: usize) -> String {
    format!("arn:aws:iam::123456789012:policy/p{i}")
}

fn tag(k: &str, v: &str) -> Value {
    json!({"Key": k, "Value": v})
}

/// Three valid tags and then `bad`, so the violation is on `Tags[3]`.
fn tags_then(bad: Value) -> Value {
    props(json!({"Tags": [tag("a", "1"), tag("b", "2"), tag("c", "3"), bad]}))
}

// ---------------------------------------------------------------------------------------
// Scalars: CloudFormation strings and native JSON
// ---------------------------------------------------------------------------------------

#[test]
fn disable_access_keys_accepts_strings_and_native_booleans() {
    let cases: Vec<(&str, Value, bool)> = vec![
        ("string true", json!("true"), true),
        ("upper TRUE", json!("TRUE"), true),
        ("mixed True", json!("True"), true),
        ("native true", json!(true), true),
        ("string false", json!("false"), false),
        ("upper FALSE", json!("FALSE"), false),
        ("native false", json!(false), false),
        ("null is the default", Value::Null, false),
    ];
    for (name, val, disabled) in cases {
        let spec = parse_ok(name, &props(json!({ "DisableAccessKeys": val })), None);
        assert_eq!(spec.key.is_none(), disabled, "{name}");
    }
    let spec = parse_ok("absent", &props(json!({})), None);
    assert!(spec.key.is_some(), "keys are on by default");
}

#[test]
fn disable_access_keys_refuses_non_booleans() {
    assert_refused(&[
        (
            "yes",
            props(json!({"DisableAccessKeys": "yes"})),
            "DisableAccessKeys",
            "must be true or false, got \"yes\"",
        ),
        (
            "1",
            props(json!({"DisableAccessKeys": "1"})),
            "DisableAccessKeys",
            "must be true or false",
        ),
        (
            "native 1",
            props(json!({"DisableAccessKeys": 1})),
            "DisableAccessKeys",
            "must be true or false",
        ),
        (
            "empty",
            props(json!({"DisableAccessKeys": ""})),
            "DisableAccessKeys",
            "must be true or false",
        ),
        (
            "list",
            props(json!({"DisableAccessKeys": [true]})),
            "DisableAccessKeys",
            "must be a string, got a list",
        ),
    ]);
}

#[test]
fn key_serial_accepts_strings_and_native_whole_numbers() {
    let cases: Vec<(&str, Value, u64)> = vec![
        ("string 0", json!("0"), 0),
        ("string 7", json!("7"), 7),
        ("native 7", json!(7), 7),
        ("native 0", json!(0), 0),
        ("u64::MAX", json!("18446744073709551615"), u64::MAX),
        ("null is the default", Value::Null, 0),
    ];
    for (name, val, serial) in cases {
        let spec = parse_ok(name, &props(json!({ "KeySerial": val })), None);
        assert_eq!(spec.key.expect(name).serial, serial, "{name}");
    }
    let spec = parse_ok("absent", &props(json!({})), None);
    assert_eq!(spec.key.unwrap().serial, 0);
}

#[test]
fn key_serial_refuses_what_is_not_a_whole_number() {
    let rule = "must be a whole number 0 or greater";
    assert_refused(&[
        ("-1", props(json!({"KeySerial": "-1"})), "KeySerial", rule),
        (
            "native -1",
            props(json!({"KeySerial": -1})),
            "KeySerial",
            rule,
        ),
        (
            "abc",
            props(json!({"KeySerial": "abc"})),
            "KeySerial",
            "must be a whole number 0 or greater, got \"abc\"",
        ),
        ("1.5", props(json!({"KeySerial": "1.5"})), "KeySerial", rule),
        (
            "native 1.5",
            props(json!({"KeySerial": 1.5})),
            "KeySerial",
            rule,
        ),
        ("empty", props(json!({"KeySerial": ""})), "KeySerial", rule),
        (
            "u64::MAX + 1",
            props(json!({"KeySerial": "18446744073709551616"})),
            "KeySerial",
            rule,
        ),
        (
            "object",
            props(json!({"KeySerial": {"n": 1}})),
            "KeySerial",
            "must be a string, got an object",
        ),
    ]);
}

#[test]
fn key_status_accepts_active_and_inactive_in_any_case() {
    let cases: Vec<(&str, Value, KeyStatus)> = vec![
        ("Active", json!("Active"), KeyStatus::Active),
        ("Inactive", json!("Inactive"), KeyStatus::Inactive),
        ("inactive", json!("inactive"), KeyStatus::Inactive),
        ("ACTIVE", json!("ACTIVE"), KeyStatus::Active),
        ("null is the default", Value::Null, KeyStatus::Active),
    ];
    for (name, val, status) in cases {
        let spec = parse_ok(name, &props(json!({ "KeyStatus": val })), None);
        assert_eq!(spec.key.expect(name).status, status, "{name}");
    }
    assert_eq!(KeyStatus::Active.as_str(), "Active");
    assert_eq!(KeyStatus::Inactive.as_str(), "Inactive");
}

#[test]
fn key_status_refuses_other_values() {
    let rule = "must be Active or Inactive";
    assert_refused(&[
        (
            "Disabled",
            props(json!({"KeyStatus": "Disabled"})),
            "KeyStatus",
            "must be Active or Inactive, got \"Disabled\"",
        ),
        ("empty", props(json!({"KeyStatus": ""})), "KeyStatus", rule),
        (
            "native true",
            props(json!({"KeyStatus": true})),
            "KeyStatus",
            rule,
        ),
        (
            "list",
            props(json!({"KeyStatus": ["Active"]})),
            "KeyStatus",
            "must be a string, got a list",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// UserName
// ---------------------------------------------------------------------------------------

#[test]
fn user_name_accepts_1_to_64_characters_of_the_iam_charset() {
    let cases: Vec<(&str, Value, String)> = vec![
        ("1 char", json!({"UserName": "a"}), "a".into()),
        ("64 chars", json!({"UserName": s('u', 64)}), s('u', 64)),
        (
            // Explicit SecretName: a comma is not valid in the default secret name.
            "whole charset",
            json!({"UserName": "Az09+=,.@_-", "SecretName": "s"}),
            "Az09+=,.@_-".into(),
        ),
        ("native number", json!({"UserName": 42}), "42".into()),
    ];
    for (name, p, expected) in cases {
        assert_eq!(parse_ok(name, &p, None).user_name, expected, "{name}");
    }
}

#[test]
fn user_name_refusals() {
    let rule = "must be 1-64 characters of letters, digits and +=,.@_-";
    assert_refused(&[
        ("missing", json!({}), "UserName", "is required"),
        ("null", json!({"UserName": null}), "UserName", "is required"),
        (
            "empty",
            json!({"UserName": ""}),
            "UserName",
            "must be 1-64 characters of letters, digits and +=,.@_- (got \"\", 0 characters)",
        ),
        (
            "65 chars",
            json!({"UserName": s('u', 65)}),
            "UserName",
            "65 characters)",
        ),
        ("space", json!({"UserName": "svc ci"}), "UserName", rule),
        ("slash", json!({"UserName": "svc/ci"}), "UserName", rule),
        (
            "unicode letter",
            json!({"UserName": "usér"}),
            "UserName",
            rule,
        ),
        ("colon", json!({"UserName": "svc:ci"}), "UserName", rule),
        (
            "list",
            json!({"UserName": ["svc"]}),
            "UserName",
            "must be a string, got a list",
        ),
        (
            "object",
            json!({"UserName": {"Ref": "Name"}}),
            "UserName",
            "must be a string, got an object",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// Path
// ---------------------------------------------------------------------------------------

#[test]
fn path_accepts_slash_delimited_printable_ascii_up_to_512() {
    let long = format!("/{}/", s('p', MAX_PATH - 2));
    assert_eq!(long.len(), 512);
    let cases: Vec<(&str, Value, String)> = vec![
        ("root", json!("/"), "/".into()),
        ("one segment", json!("/a/"), "/a/".into()),
        ("two segments", json!("/a/b/"), "/a/b/".into()),
        ("printable symbols", json!("/~!#/"), "/~!#/".into()),
        ("512 chars", json!(long), long.clone()),
        ("null is the default", Value::Null, "/".into()),
    ];
    for (name, val, expected) in cases {
        let spec = parse_ok(name, &props(json!({ "Path": val })), None);
        assert_eq!(spec.path, expected, "{name}");
    }
    assert_eq!(parse_ok("absent", &props(json!({})), None).path, "/");
}

#[test]
fn path_refusals() {
    let rule = "must be / or start and end with /";
    let too_long = format!("/{}/", s('p', MAX_PATH - 1));
    assert_eq!(too_long.len(), 513);
    assert_refused(&[
        (
            "no leading slash",
            props(json!({"Path": "a/"})),
            "Path",
            rule,
        ),
        (
            "no trailing slash",
            props(json!({"Path": "/a"})),
            "Path",
            rule,
        ),
        ("double slash", props(json!({"Path": "//"})), "Path", rule),
        (
            "empty segment",
            props(json!({"Path": "/a//b/"})),
            "Path",
            rule,
        ),
        ("non-ASCII", props(json!({"Path": "/é/"})), "Path", rule),
        ("space", props(json!({"Path": "/a b/"})), "Path", rule),
        ("tab", props(json!({"Path": "/a\tb/"})), "Path", rule),
        ("empty", props(json!({"Path": ""})), "Path", rule),
        (
            "513 chars",
            props(json!({ "Path": too_long })),
            "Path",
            "must be at most 512 characters (got 513)",
        ),
        (
            "list",
            props(json!({"Path": ["/"]})),
            "Path",
            "must be a string, got a list",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// ManagedPolicyArns
// ---------------------------------------------------------------------------------------

#[test]
fn managed_policy_arns_accepts_every_partition_account_and_path() {
    let cases: &[(&str, &str)] = &[
        ("aws, aws account", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ("aws-cn", "arn:aws-cn:iam::aws:policy/ReadOnlyAccess"),
        (
            "aws-us-gov",
            "arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess",
        ),
        (
            "12-digit account",
            "arn:aws:iam::123456789012:policy/my-policy",
        ),
        (
            "with a path",
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        ),
        (
            "with a deep path",
            "arn:aws:iam::123456789012:policy/a/b/Name",
        ),
        (
            "name charset",
            "arn:aws:iam::123456789012:policy/Az09+=,.@_-",
        ),
    ];
    for (name, a) in cases {
        let spec = parse_ok(name, &props(json!({"ManagedPolicyArns": [a]})), None);
        let expected: BTreeSet<String> = [a.to_string()].into();
        assert_eq!(spec.managed_policy_arns, expected, "{name}");
    }
}

#[test]
fn managed_policy_arns_refuses_malformed_arns_at_their_index() {
    let good = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let bad_arn = "must be a managed policy ARN";
    let case = |name, bad: &str, rule| -> Refusal {
        (
            name,
            props(json!({"ManagedPolicyArns": [good, bad]})),
            "ManagedPolicyArns[1]",
            rule,
        )
    };
    assert_refused(&[
        case(
            "other partition",
            "arn:aws-iso:iam::aws:policy/X",
            "partition \"aws-iso\" is not aws, aws-cn or aws-us-gov",
        ),
        case(
            "11-digit account",
            "arn:aws:iam::12345678901:policy/X",
            bad_arn,
        ),
        case(
            "13-digit account",
            "arn:aws:iam::1234567890123:policy/X",
            bad_arn,
        ),
        case(
            "non-digit account",
            "arn:aws:iam::12345678901a:policy/X",
            bad_arn,
        ),
        case("no policy/", "arn:aws:iam::aws:ReadOnlyAccess", bad_arn),
        case("role, not policy", "arn:aws:iam::aws:role/X", bad_arn),
        case("wrong service", "arn:aws:s3::aws:policy/X", bad_arn),
        case(
            "region present",
            "arn:aws:iam:us-east-1:aws:policy/X",
            bad_arn,
        ),
        case("bare name", "ReadOnlyAccess", bad_arn),
        case("empty", "", bad_arn),
        case("empty name", "arn:aws:iam::aws:policy/", bad_arn),
        case(
            "empty path segment",
            "arn:aws:iam::aws:policy/a//X",
            bad_arn,
        ),
        case(
            "space in name",
            "arn:aws:iam::aws:policy/Read Only",
            bad_arn,
        ),
        case(
            "129-char name",
            &format!("arn:aws:iam::aws:policy/{}", s('n', 129)),
            bad_arn,
        ),
    ]);
    // 128 is the longest name IAM allows.
    let a = format!("arn:aws:iam::aws:policy/{}", s('n', 128));
    parse_ok(
        "128-char name",
        &props(json!({"ManagedPolicyArns": [a]})),
        None,
    );
}

#[test]
fn managed_policy_arns_refuses_duplicates_non_strings_and_non_lists() {
    let a = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let b = "arn:aws:iam::aws:policy/PowerUserAccess";
    assert_refused(&[
        (
            "duplicate",
            props(json!({"ManagedPolicyArns": [a, b, a]})),
            "ManagedPolicyArns[2]",
            "arn:aws:iam::aws:policy/ReadOnlyAccess is listed twice",
        ),
        (
            "number item",
            props(json!({"ManagedPolicyArns": [a, 5]})),
            "ManagedPolicyArns[1]",
            "must be a string, got a number",
        ),
        (
            "null item",
            props(json!({"ManagedPolicyArns": [a, null]})),
            "ManagedPolicyArns[1]",
            "must be a string, got null",
        ),
        (
            "object item",
            props(json!({"ManagedPolicyArns": [{"Ref": "P"}]})),
            "ManagedPolicyArns[0]",
            "must be a string, got an object",
        ),
        (
            "a string, not a list",
            props(json!({ "ManagedPolicyArns": a })),
            "ManagedPolicyArns",
            "must be a list of strings, got a string",
        ),
        (
            "an object, not a list",
            props(json!({"ManagedPolicyArns": {"a": a}})),
            "ManagedPolicyArns",
            "must be a list of strings, got an object",
        ),
    ]);
}

#[test]
fn managed_policy_arns_at_most_20() {
    let twenty: Vec<String> = (0..MAX_MANAGED_POLICIES).map(arn).collect();
    let spec = parse_ok("20", &props(json!({ "ManagedPolicyArns": twenty })), None);
    assert_eq!(spec.managed_policy_arns.len(), 20);

    let twenty_one: Vec<String> = (0..=MAX_MANAGED_POLICIES).map(arn).collect();
    assert_refused(&[(
        "21",
        props(json!({ "ManagedPolicyArns": twenty_one })),
        "ManagedPolicyArns",
        "21 policies given; IAM attaches at most 20",
    )]);
}

#[test]
fn policy_arns_must_be_in_the_stack_partition() {
    let aws = "arn:aws:iam::aws:policy/ReadOnlyAccess";
    let cn = "arn:aws-cn:iam::aws:policy/ReadOnlyAccess";
    assert_refused_with(
        &[
            (
                "aws policy, aws-cn stack",
                props(json!({"ManagedPolicyArns": [cn, aws]})),
                "ManagedPolicyArns[1]",
                "is in partition aws but the stack is in partition aws-cn",
            ),
            (
                "aws boundary, aws-cn stack",
                props(json!({ "PermissionsBoundary": aws })),
                "PermissionsBoundary",
                "is in partition aws but the stack is in partition aws-cn",
            ),
        ],
        Some("aws-cn"),
    );
    let same: Vec<(&str, &str, &str)> = vec![
        ("aws in aws", aws, "aws"),
        ("aws-cn in aws-cn", cn, "aws-cn"),
        (
            "aws-us-gov in aws-us-gov",
            "arn:aws-us-gov:iam::aws:policy/X",
            "aws-us-gov",
        ),
    ];
    for (name, a, partition) in same {
        let p = props(json!({"ManagedPolicyArns": [a], "PermissionsBoundary": a}));
        parse_ok(name, &p, Some(partition));
    }
}

#[test]
fn partition_of_reads_the_second_field_of_an_arn() {
    let cases: &[(&str, Option<&str>)] = &[
        ("arn:aws:iam::aws:policy/X", Some("aws")),
        (
            "arn:aws-cn:cloudformation:cn-north-1:1:stack/s/id",
            Some("aws-cn"),
        ),
        ("arn::iam", None),
        ("arn", None),
        ("not-an-arn:aws", None),
        ("", None),
    ];
    for (a, expected) in cases {
        assert_eq!(partition_of(a), *expected, "{a:?}");
    }
}

// ---------------------------------------------------------------------------------------
// InlinePolicies
// ---------------------------------------------------------------------------------------

#[test]
fn inline_policy_object_and_json_string_give_the_same_canonical_document() {
    let doc = policy_doc();
    let pretty = serde_json::to_string_pretty(&doc).unwrap();
    let as_object = parse_ok(
        "object",
        &props(json!({"InlinePolicies": {"p": doc}})),
        None,
    );
    let as_string = parse_ok(
        "string",
        &props(json!({"InlinePolicies": {"p": pretty}})),
        None,
    );
    assert_eq!(as_object.inline_policies, as_string.inline_policies);
    let expected: BTreeMap<String, Value> = [("p".to_string(), policy_doc())].into();
    assert_eq!(as_string.inline_policies, expected);
    // A single Statement object is as good as a list.
    let single = json!({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}});
    let spec = parse_ok(
        "statement object",
        &props(json!({"InlinePolicies": {"deny": single}})),
        None,
    );
    assert_eq!(spec.inline_policies["deny"], single);
}

#[test]
fn inline_policy_document_refusals() {
    let prop = "InlinePolicies.p";
    let version = "document must have \"Version\": \"2012-10-17\"";
    let statement = "document must have a Statement (an object or a non-empty list)";
    let case = |name, doc: Value, rule| -> Refusal {
        (
            name,
            props(json!({"InlinePolicies": {"p": doc}})),
            prop,
            rule,
        )
    };
    assert_refused(&[
        case(
            "invalid JSON string",
            json!("{\"Version\": "),
            "document is not valid JSON",
        ),
        case(
            "JSON string of a list",
            json!("[]"),
            "document must be a JSON object, got a list",
        ),
        case(
            "native list",
            json!([policy_doc()]),
            "document must be a JSON object or a JSON string, got a list",
        ),
        case(
            "number",
            json!(5),
            "document must be a JSON object or a JSON string, got a number",
        ),
        case(
            "missing Version",
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            version,
        ),
        case(
            "old Version",
            json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
            version,
        ),
        case(
            "missing Statement",
            json!({"Version": "2012-10-17"}),
            statement,
        ),
        case(
            "empty Statement list",
            json!({"Version": "2012-10-17", "Statement": []}),
            statement,
        ),
        case(
            "Statement a string",
            json!({"Version": "2012-10-17", "Statement": "Allow"}),
            statement,
        ),
        case(
            "string document missing Version",
            json!(
                "{\"Statement\": {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}}"
            ),
            version,
        ),
    ]);
}

#[test]
fn inline_policy_names() {
    let ok_name = s('n', 128);
    let spec = parse_ok(
        "128-char name",
        &props(json!({"InlinePolicies": {ok_name.clone(): policy_doc()}})),
        None,
    );
    assert!(spec.inline_policies.contains_key(&ok_name));
    parse_ok(
        "charset",
        &props(json!({"InlinePolicies": {"Az09+=,.@_-": policy_doc()}})),
        None,
    );

    let rule = "must be 1-128 characters of letters, digits and +=,.@_-";
    // The property quotes the name clipped to 40 characters.
    let clipped: &'static str = format!("InlinePolicies.{}...", s('n', 40)).leak();
    assert_refused(&[
        (
            "129-char name",
            props(json!({"InlinePolicies": {s('n', 129): policy_doc()}})),
            clipped,
            "129 characters)",
        ),
        (
            "space",
            props(json!({"InlinePolicies": {"bad name": policy_doc()}})),
            "InlinePolicies.bad name",
            rule,
        ),
        (
            "empty",
            props(json!({"InlinePolicies": {"": policy_doc()}})),
            "InlinePolicies.",
            rule,
        ),
        (
            "unicode",
            props(json!({"InlinePolicies": {"pólicy": policy_doc()}})),
            "InlinePolicies.pólicy",
            rule,
        ),
    ]);
}

#[test]
fn inline_policies_must_be_an_object() {
    let rule = "must be an object mapping policy names to policy documents";
    assert_refused(&[
        (
            "list",
            props(json!({"InlinePolicies": [policy_doc()]})),
            "InlinePolicies",
            "must be an object mapping policy names to policy documents, got a list",
        ),
        (
            "string",
            props(json!({"InlinePolicies": "p"})),
            "InlinePolicies",
            rule,
        ),
    ]);
    let spec = parse_ok("null", &props(json!({"InlinePolicies": null})), None);
    assert!(spec.inline_policies.is_empty());
}

#[test]
fn inline_policies_total_size_at_most_2048() {
    let half = MAX_INLINE_TOTAL / 2;
    let ok: Vec<(&str, Value)> = vec![
        ("one of 2048", json!({"p": doc_of_size(MAX_INLINE_TOTAL)})),
        (
            "two adding to 2048",
            json!({"p": doc_of_size(half), "q": doc_of_size(half)}),
        ),
    ];
    for (name, policies) in ok {
        let spec = parse_ok(name, &props(json!({ "InlinePolicies": policies })), None);
        let total: usize = spec.inline_policies.values().map(policy_size).sum();
        assert_eq!(total, MAX_INLINE_TOTAL, "{name}");
    }
    let rule = "all documents together are 2049 characters (whitespace not counted); IAM allows at most 2048";
    assert_refused(&[
        (
            "one of 2049",
            props(json!({"InlinePolicies": {"p": doc_of_size(MAX_INLINE_TOTAL + 1)}})),
            "InlinePolicies",
            rule,
        ),
        (
            "two adding to 2049",
            props(json!({"InlinePolicies": {"p": doc_of_size(half), "q": doc_of_size(half + 1)}})),
            "InlinePolicies",
            rule,
        ),
    ]);
}

#[test]
fn inline_policy_whitespace_in_a_json_string_is_not_counted() {
    let doc = doc_of_size(MAX_INLINE_TOTAL);
    // Pretty-printed and then indented further: far more than 2048 characters as sent.
    let raw = serde_json::to_string_pretty(&doc)
        .unwrap()
        .replace('\n', "\n                                        ");
    assert!(
        raw.chars().count() > MAX_INLINE_TOTAL + 200,
        "raw is {}",
        raw.len()
    );
    let spec = parse_ok(
        "pretty 2048",
        &props(json!({"InlinePolicies": {"p": raw}})),
        None,
    );
    assert_eq!(spec.inline_policies["p"], doc);

    let over = serde_json::to_string_pretty(&doc_of_size(MAX_INLINE_TOTAL + 1)).unwrap();
    assert_refused(&[(
        "pretty 2049",
        props(json!({"InlinePolicies": {"p": over}})),
        "InlinePolicies",
        "are 2049 characters",
    )]);
}

// ---------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------

#[test]
fn groups_at_most_10() {
    let ten: Vec<String> = (0..MAX_GROUPS).map(|i| format!("g{i}")).collect();
    let spec = parse_ok("10", &props(json!({ "Groups": ten.clone() })), None);
    assert_eq!(spec.groups, ten);

    let eleven: Vec<String> = (0..=MAX_GROUPS).map(|i| format!("g{i}")).collect();
    assert_refused(&[(
        "11",
        props(json!({ "Groups": eleven })),
        "Groups",
        "11 groups given; IAM puts a user in at most 10 groups",
    )]);
}

#[test]
fn group_names() {
    let long = s('g', 128);
    let spec = parse_ok(
        "128 chars and charset",
        &props(json!({"Groups": [long.clone(), "Az09+=,.@_-"]})),
        None,
    );
    assert_eq!(spec.groups, vec![long, "Az09+=,.@_-".to_string()]);

    let rule = "must be 1-128 characters of letters, digits and +=,.@_-";
    assert_refused(&[
        (
            "duplicate in another case",
            props(json!({"Groups": ["Devs", "devs"]})),
            "Groups[1]",
            "group devs is listed twice",
        ),
        (
            "exact duplicate",
            props(json!({"Groups": ["a", "b", "a"]})),
            "Groups[2]",
            "group a is listed twice",
        ),
        (
            "space",
            props(json!({"Groups": ["ok", "dev ops"]})),
            "Groups[1]",
            rule,
        ),
        ("empty", props(json!({"Groups": [""]})), "Groups[0]", rule),
        (
            "129 chars",
            props(json!({"Groups": [s('g', 129)]})),
            "Groups[0]",
            rule,
        ),
        (
            "number item",
            props(json!({"Groups": [7]})),
            "Groups[0]",
            "must be a string, got a number",
        ),
        (
            "not a list",
            props(json!({"Groups": "devs"})),
            "Groups",
            "must be a list of strings, got a string",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// PermissionsBoundary
// ---------------------------------------------------------------------------------------

#[test]
fn permissions_boundary() {
    let b = "arn:aws:iam::123456789012:policy/boundary";
    let spec = parse_ok("valid", &props(json!({ "PermissionsBoundary": b })), None);
    assert_eq!(spec.permissions_boundary.as_deref(), Some(b));
    let spec = parse_ok("absent", &props(json!({})), None);
    assert_eq!(spec.permissions_boundary, None);

    let rule = "must be a managed policy ARN";
    assert_refused(&[
        (
            "not an ARN",
            props(json!({"PermissionsBoundary": "boundary"})),
            "PermissionsBoundary",
            rule,
        ),
        (
            "role ARN",
            props(json!({"PermissionsBoundary": "arn:aws:iam::123456789012:role/r"})),
            "PermissionsBoundary",
            rule,
        ),
        (
            "empty",
            props(json!({"PermissionsBoundary": ""})),
            "PermissionsBoundary",
            rule,
        ),
        (
            "list",
            props(json!({ "PermissionsBoundary": [b] })),
            "PermissionsBoundary",
            "must be a string, got a list",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------------------

#[test]
fn tags_accepted() {
    type Pairs = Vec<(String, String)>;
    let cases: Vec<(&str, Value, Pairs)> = vec![
        (
            "key and value",
            json!([tag("team", "core")]),
            vec![("team".into(), "core".into())],
        ),
        (
            "empty value",
            json!([tag("team", "")]),
            vec![("team".into(), "".into())],
        ),
        (
            "missing value",
            json!([{"Key": "team"}]),
            vec![("team".into(), "".into())],
        ),
        (
            "null value",
            json!([{"Key": "team", "Value": null}]),
            vec![("team".into(), "".into())],
        ),
        (
            "native number value",
            json!([{"Key": "n", "Value": 5}]),
            vec![("n".into(), "5".into())],
        ),
        (
            "unicode letters",
            json!([tag("équipe", "日本語")]),
            vec![("équipe".into(), "日本語".into())],
        ),
        (
            "allowed symbols",
            json!([tag("a b_.:/=+-@", "x y_.:/=+-@")]),
            vec![("a b_.:/=+-@".into(), "x y_.:/=+-@".into())],
        ),
        (
            "key 128, value 256",
            json!([tag(&s('k', 128), &s('v', 256))]),
            vec![(s('k', 128), s('v', 256))],
        ),
        (
            "aws and planton not as a prefix",
            json!([tag("my-aws:x", "1"), tag("x-planton:y", "2")]),
            vec![
                ("my-aws:x".into(), "1".into()),
                ("x-planton:y".into(), "2".into()),
            ],
        ),
    ];
    for (name, t, expected) in cases {
        let spec = parse_ok(name, &props(json!({ "Tags": t })), None);
        assert_eq!(spec.tags, expected, "{name}");
    }
}

#[test]
fn tags_at_most_what_the_ownership_tags_leave() {
    // 50 per IAM user and per secret, minus the 4 ownership tags the secret carries
    // (the user carries 3): template tags go on both.
    let max = MAX_TAGS_TOTAL - OWNERSHIP_TAGS;
    assert_eq!(max, 46);
    let make = |n: usize| -> Vec<Value> { (0..n).map(|i| tag(&format!("k{i}"), "v")).collect() };
    let spec = parse_ok("46", &props(json!({ "Tags": make(max) })), None);
    assert_eq!(spec.tags.len(), max);
    assert_refused(&[(
        "47",
        props(json!({ "Tags": make(max + 1) })),
        "Tags",
        "47 tags given; at most 46",
    )]);
}

#[test]
fn tag_refusals() {
    let key_rule = "must be 1-128 characters of letters, digits, spaces and _.:/=+-@";
    let value_rule = "must be 0-256 characters of letters, digits, spaces and _.:/=+-@";
    let aws = "the aws: prefix is reserved by AWS";
    let planton = "the planton: prefix is reserved";
    assert_refused(&[
        (
            "key 129",
            tags_then(tag(&s('k', 129), "v")),
            "Tags[3].Key",
            key_rule,
        ),
        (
            "empty key",
            tags_then(tag("", "v")),
            "Tags[3].Key",
            key_rule,
        ),
        (
            "key with !",
            tags_then(tag("a!b", "v")),
            "Tags[3].Key",
            key_rule,
        ),
        (
            "key with tab",
            tags_then(tag("a\tb", "v")),
            "Tags[3].Key",
            key_rule,
        ),
        (
            "value 257",
            tags_then(tag("k", &s('v', 257))),
            "Tags[3].Value",
            "must be 0-256 characters of letters, digits, spaces and _.:/=+-@ (got 257 characters)",
        ),
        (
            "value with #",
            tags_then(tag("k", "a#b")),
            "Tags[3].Value",
            value_rule,
        ),
        ("aws:", tags_then(tag("aws:x", "v")), "Tags[3].Key", aws),
        ("AWS:", tags_then(tag("AWS:x", "v")), "Tags[3].Key", aws),
        (
            "Aws:",
            tags_then(tag("Aws:cloudformation:x", "v")),
            "Tags[3].Key",
            aws,
        ),
        (
            "planton:",
            tags_then(tag("planton:stack-id", "v")),
            "Tags[3].Key",
            planton,
        ),
        (
            "PLANTON:",
            tags_then(tag("PLANTON:x", "v")),
            "Tags[3].Key",
            planton,
        ),
        (
            "duplicate key in another case",
            tags_then(tag("A", "v")),
            "Tags[3].Key",
            "A is given twice (tag keys are case-insensitive)",
        ),
        (
            "extra field",
            tags_then(json!({"Key": "k", "Value": "v", "Extra": 1})),
            "Tags[3].Extra",
            "not a tag field (only Key and Value)",
        ),
        (
            "missing Key",
            tags_then(json!({"Value": "v"})),
            "Tags[3].Key",
            "is required and must be a string",
        ),
        (
            "list Key",
            tags_then(json!({"Key": ["k"], "Value": "v"})),
            "Tags[3].Key",
            "is required and must be a string",
        ),
        (
            "list Value",
            tags_then(json!({"Key": "k", "Value": ["v"]})),
            "Tags[3].Value",
            "must be a string",
        ),
        (
            "string item",
            tags_then(json!("k=v")),
            "Tags[3]",
            "must be an object with Key and Value, got a string",
        ),
        (
            "null item",
            tags_then(Value::Null),
            "Tags[3]",
            "must be an object with Key and Value, got null",
        ),
        (
            "not a list",
            props(json!({"Tags": {"team": "core"}})),
            "Tags",
            "must be a list of {Key, Value} objects, got an object",
        ),
        (
            "a string",
            props(json!({"Tags": "team=core"})),
            "Tags",
            "must be a list of {Key, Value} objects, got a string",
        ),
    ]);
}

#[test]
fn lowercase_field_names_yield_two_violations() {
    // {"key": ...}: an unknown field, and Key is then missing.
    let v = parse_err("lowercase", &tags_then(json!({"key": "k"})), None);
    assert!(has(&v, "Tags[3].key", "not a tag field"), "{v:?}");
    assert!(has(&v, "Tags[3].Key", "is required"), "{v:?}");
}

// ---------------------------------------------------------------------------------------
// SecretName and SecretKmsKeyId
// ---------------------------------------------------------------------------------------

#[test]
fn secret_name_defaults_and_explicit_values() {
    let long = s('s', MAX_SECRET_NAME);
    let cases: Vec<(&str, Value, String)> = vec![
        ("default", json!({}), format!("planton/iam-user/{USER}")),
        (
            "null is the default",
            json!({"SecretName": null}),
            format!("planton/iam-user/{USER}"),
        ),
        (
            "explicit",
            json!({"SecretName": "team/ci/key"}),
            "team/ci/key".into(),
        ),
        (
            "charset",
            json!({"SecretName": "Az09/_+=.@-"}),
            "Az09/_+=.@-".into(),
        ),
        ("256 chars", json!({"SecretName": long.clone()}), long),
    ];
    for (name, extra, expected) in cases {
        assert_eq!(
            parse_ok(name, &props(extra), None).secret_name,
            expected,
            "{name}"
        );
    }
    assert_eq!(default_secret_name("u"), "planton/iam-user/u");
}

#[test]
fn secret_name_refusals() {
    let rule = "must be 1-256 characters of letters, digits and /_+=.@-";
    assert_refused(&[
        (
            "257 chars",
            props(json!({"SecretName": s('s', 257)})),
            "SecretName",
            "257 characters)",
        ),
        (
            "empty",
            props(json!({"SecretName": ""})),
            "SecretName",
            rule,
        ),
        (
            "space",
            props(json!({"SecretName": "a b"})),
            "SecretName",
            rule,
        ),
        (
            "comma",
            props(json!({"SecretName": "a,b"})),
            "SecretName",
            rule,
        ),
        (
            "colon",
            props(json!({"SecretName": "a:b"})),
            "SecretName",
            rule,
        ),
        (
            "unicode",
            props(json!({"SecretName": "sécret"})),
            "SecretName",
            rule,
        ),
        (
            "list",
            props(json!({"SecretName": ["a"]})),
            "SecretName",
            "must be a string, got a list",
        ),
    ]);
}

#[test]
fn default_secret_name_is_validated_too() {
    // IAM allows ',' in user names; Secrets Manager does not allow it in secret names
    // (ASCII letters, digits and /_+=.@- only). spec.rs checks secret_name_rule only
    // when SecretName is given, so this event passes validation and fails mid-deploy
    // at CreateSecret.
    let v = parse_err(
        "comma user, default secret",
        &json!({"UserName": "svc,ci"}),
        None,
    );
    assert!(
        v.iter().any(|x| x.property == "SecretName"),
        "expected a SecretName violation, got {v:?}"
    );
}

#[test]
fn secret_kms_key_id() {
    let ok: &[&str] = &[
        "alias/x",
        "arn:aws:kms:us-east-1:123456789012:alias/x",
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ];
    for k in ok {
        let spec = parse_ok(k, &props(json!({ "SecretKmsKeyId": k })), None);
        assert_eq!(spec.key.unwrap().kms_key_id.as_deref(), Some(*k));
    }
    let max = format!("alias/{}", s('k', 2048 - 6));
    parse_ok("2048 chars", &props(json!({ "SecretKmsKeyId": max })), None);
    let spec = parse_ok("absent", &props(json!({})), None);
    assert_eq!(spec.key.unwrap().kms_key_id, None);

    let rule = "must be a KMS key id, key ARN, alias name or alias ARN";
    assert_refused(&[
        (
            "empty",
            props(json!({"SecretKmsKeyId": ""})),
            "SecretKmsKeyId",
            rule,
        ),
        (
            "space",
            props(json!({"SecretKmsKeyId": "alias/a b"})),
            "SecretKmsKeyId",
            rule,
        ),
        (
            "tab",
            props(json!({"SecretKmsKeyId": "alias/a\tb"})),
            "SecretKmsKeyId",
            rule,
        ),
        (
            "newline",
            props(json!({"SecretKmsKeyId": "alias/x\n"})),
            "SecretKmsKeyId",
            rule,
        ),
        (
            "2049 chars",
            props(json!({"SecretKmsKeyId": format!("alias/{}", s('k', 2049 - 6))})),
            "SecretKmsKeyId",
            rule,
        ),
        (
            "object",
            props(json!({"SecretKmsKeyId": {"Ref": "Key"}})),
            "SecretKmsKeyId",
            "must be a string, got an object",
        ),
    ]);
}

// ---------------------------------------------------------------------------------------
// Unknown properties and the shape of ResourceProperties
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_properties_are_refused_with_a_hint() {
    let clipped: &'static str = format!("{}...", s('X', 40)).leak();
    let cases: &[(&str, &str, &str)] = &[
        (
            "Username",
            "Username",
            "not a property of Custom::PlantonIamUser (did you mean UserName?)",
        ),
        (
            "UserNmae",
            "UserNmae",
            "not a property of Custom::PlantonIamUser (did you mean UserName?)",
        ),
        ("Tag", "Tag", "(did you mean Tags?)"),
        (
            "ManagedPolicyArn",
            "ManagedPolicyArn",
            "(did you mean ManagedPolicyArns?)",
        ),
        (
            "KeySerial lowercase",
            "keyserial",
            "(did you mean KeySerial?)",
        ),
    ];
    for (name, key, rule) in cases {
        let mut p = props(json!({}));
        p[*key] = json!("x");
        let v = parse_err(name, &p, None);
        assert_eq!(v.len(), 1, "{name}: {v:?}");
        assert_eq!(v[0].property, *key, "{name}");
        assert!(v[0].rule.contains(rule), "{name}: {:?}", v[0].rule);
    }
    // Far from every property: no hint at all.
    let v = parse_err("Colour", &props(json!({"Colour": "red"})), None);
    assert_eq!(
        v,
        vec![Violation::new(
            "Colour",
            "not a property of Custom::PlantonIamUser"
        )]
    );
    // Keys quoted back are clipped after 40 characters: 40 stay whole, 41 are cut.
    let forty = s('X', 40);
    let v = parse_err("40-char key", &props(json!({ forty.clone(): 1 })), None);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].property, forty);
    let v = parse_err("41-char key", &props(json!({ s('X', 41): 1 })), None);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].property, clipped);
    // A very long key is clipped in the property and gets no hint.
    let v = parse_err("long", &props(json!({ s('X', 1000): 1 })), None);
    assert_eq!(
        v,
        vec![Violation::new(
            clipped,
            "not a property of Custom::PlantonIamUser"
        )]
    );
}

#[test]
fn service_token_and_timeout_are_ignored() {
    let p = props(json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:planton",
        "ServiceTimeout": "300",
    }));
    let with = parse_ok("with", &p, None);
    let without = parse_ok("without", &props(json!({})), None);
    assert_eq!(with, without);
}

#[test]
fn resource_properties_must_be_an_object() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "string",
            json!("UserName=svc"),
            "must be an object, got a string",
        ),
        (
            "list",
            json!([{"UserName": "svc"}]),
            "must be an object, got a list",
        ),
        ("number", json!(1), "must be an object, got a number"),
        (
            "null",
            Value::Null,
            "missing: at least UserName is required",
        ),
    ];
    for (name, p, rule) in cases {
        let v = parse_err(name, &p, None);
        assert!(has(&v, "ResourceProperties", rule), "{name}: {v:?}");
        // And nothing further than the missing UserName.
        assert!(has(&v, "UserName", "is required"), "{name}: {v:?}");
        assert_eq!(v.len(), 2, "{name}: {v:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Whole events
// ---------------------------------------------------------------------------------------

#[test]
fn all_violations_are_reported_at_once() {
    let p = json!({
        "UserName": "svc ci",
        "Path": "a/",
        "KeySerial": "abc",
        "Tags": [tag("aws:x", "v")],
    });
    let v = parse_err("four mistakes", &p, None);
    let mut properties: Vec<&str> = v.iter().map(|x| x.property.as_str()).collect();
    properties.sort_unstable();
    assert_eq!(
        properties,
        vec!["KeySerial", "Path", "Tags[0].Key", "UserName"],
        "{v:?}"
    );
    let shown = Violations(v).to_string();
    assert_eq!(shown.matches("; ").count(), 3, "{shown}");
}

#[test]
fn disabled_keys_drop_the_key_but_keep_the_secret_name() {
    let spec = parse_ok(
        "default secret",
        &props(json!({"DisableAccessKeys": "true", "KeySerial": "3", "KeyStatus": "Inactive"})),
        None,
    );
    assert_eq!(spec.key, None);
    assert_eq!(spec.secret_name, format!("planton/iam-user/{USER}"));

    let spec = parse_ok(
        "explicit secret",
        &props(json!({"DisableAccessKeys": true, "SecretName": "team/ci"})),
        None,
    );
    assert_eq!(spec.key, None);
    assert_eq!(spec.secret_name, "team/ci");
}

#[test]
fn a_full_cloudformation_event_parses_to_the_expected_spec() {
    // Every scalar a string, as CloudFormation sends them.
    let p = json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:planton",
        "UserName": "ci-deployer",
        "Path": "/service-accounts/",
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "InlinePolicies": {"s3": serde_json::to_string(&policy_doc()).unwrap()},
        "Groups": ["Deployers"],
        "PermissionsBoundary": "arn:aws:iam::123456789012:policy/boundary",
        "Tags": [{"Key": "team", "Value": "core"}],
        "DisableAccessKeys": "false",
        "KeySerial": "2",
        "KeyStatus": "Inactive",
        "SecretName": "ci/deployer",
        "SecretKmsKeyId": "alias/ci",
    });
    let spec = parse_ok("full", &p, Some("aws"));
    let expected = UserSpec {
        adopt: false,
        user_name: "ci-deployer".into(),
        path: "/service-accounts/".into(),
        managed_policy_arns: ["arn:aws:iam::aws:policy/ReadOnlyAccess".to_string()].into(),
        inline_policies: [("s3".to_string(), policy_doc())].into(),
        groups: vec!["Deployers".into()],
        permissions_boundary: Some("arn:aws:iam::123456789012:policy/boundary".into()),
        tags: vec![("team".into(), "core".into())],
        secret_name: "ci/deployer".into(),
        key: Some(KeySpec {
            serial: 2,
            status: KeyStatus::Inactive,
            kms_key_id: Some("alias/ci".into()),
            rotation_days: None,
            previous_key_grace_hours: None,
        }),
    };
    assert_eq!(spec, expected);
}

#[test]
fn a_minimal_event_gets_every_default() {
    let spec = parse_ok("minimal", &json!({"UserName": USER}), None);
    let expected = UserSpec {
        adopt: false,
        user_name: USER.into(),
        path: "/".into(),
        managed_policy_arns: BTreeSet::new(),
        inline_policies: BTreeMap::new(),
        groups: Vec::new(),
        permissions_boundary: None,
        tags: Vec::new(),
        secret_name: format!("planton/iam-user/{USER}"),
        key: Some(KeySpec {
            serial: 0,
            status: KeyStatus::Active,
            kms_key_id: None,
            rotation_days: None,
            previous_key_grace_hours: None,
        }),
    };
    assert_eq!(spec, expected);
}

// ---------------------------------------------------------------------------------------
// RotationDays and the source-IP fence
// ---------------------------------------------------------------------------------------

#[test]
fn rotation_days_accepts_1_to_365_with_an_active_key() {
    for (raw, want) in [(json!("1"), 1u16), (json!("365"), 365), (json!(30), 30)] {
        let spec = parse_ok("rotation", &props(json!({"RotationDays": raw})), None);
        assert_eq!(spec.key.unwrap().rotation_days, Some(want));
    }
    let spec = parse_ok("no rotation", &props(json!({})), None);
    assert_eq!(spec.key.unwrap().rotation_days, None);
}

#[test]
fn rotation_days_refusals() {
    assert_refused(&[
        (
            "zero",
            props(json!({"RotationDays": "0"})),
            "RotationDays",
            "1-365",
        ),
        (
            "too long",
            props(json!({"RotationDays": "366"})),
            "RotationDays",
            "1-365",
        ),
        (
            "not a number",
            props(json!({"RotationDays": "monthly"})),
            "RotationDays",
            "whole number",
        ),
        (
            "keys disabled",
            props(json!({"RotationDays": "30", "DisableAccessKeys": "true"})),
            "RotationDays",
            "DisableAccessKeys",
        ),
        (
            "inactive key",
            props(json!({"RotationDays": "30", "KeyStatus": "Inactive"})),
            "RotationDays",
            "KeyStatus Active",
        ),
    ]);
}

#[test]
fn the_fence_becomes_a_reserved_inline_policy() {
    let spec = parse_ok(
        "fence",
        &props(json!({
            "AllowedSourceIps": ["203.0.113.0/24", "2001:db8::/32"],
            "AllowedVpcEndpoints": ["vpce-0123456789abcdef0"],
            "InlinePolicies": {"read": policy_doc()}
        })),
        None,
    );
    let fence = crate::fence::parse(
        props(json!({
            "AllowedSourceIps": ["203.0.113.0/24", "2001:db8::/32"],
            "AllowedVpcEndpoints": ["vpce-0123456789abcdef0"]
        }))
        .as_object()
        .unwrap(),
    )
    .0
    .unwrap();
    assert_eq!(
        spec.inline_policies.get(crate::fence::FENCE_POLICY_NAME),
        Some(&crate::fence::document(&fence))
    );
    assert_eq!(spec.inline_policies.len(), 2);
    let none = parse_ok("no fence", &props(json!({})), None);
    assert!(none.inline_policies.is_empty());
}

#[test]
fn the_fence_refusals() {
    let fence_size = policy_size(&crate::fence::document(&crate::fence::Fence {
        source_ips: vec!["203.0.113.0/24".into()],
        vpc_endpoints: vec![],
    }));
    assert_refused(&[
        (
            "reserved name",
            props(json!({"InlinePolicies": {"PlantonSourceFence": policy_doc()}})),
            "InlinePolicies.PlantonSourceFence",
            "reserved",
        ),
        (
            "reserved name in another case",
            props(json!({"InlinePolicies": {"plantonsourcefence": policy_doc()}})),
            "InlinePolicies.plantonsourcefence",
            "reserved",
        ),
        (
            "the everything network",
            props(json!({"AllowedSourceIps": ["0.0.0.0/0"]})),
            "AllowedSourceIps[0]",
            "fence",
        ),
        (
            "host bits",
            props(json!({"AllowedSourceIps": ["10.0.0.5/24"]})),
            "AllowedSourceIps[0]",
            "10.0.0.0/24",
        ),
        (
            "fence does not fit beside the template's inline policies",
            props(json!({
                "AllowedSourceIps": ["203.0.113.0/24"],
                "InlinePolicies": {"big": doc_of_size(MAX_INLINE_TOTAL - fence_size + 1)}
            })),
            "AllowedSourceIps",
            "exceeds the 2048",
        ),
    ]);
    // Exactly at the budget: accepted.
    parse_ok(
        "fits exactly",
        &props(json!({
            "AllowedSourceIps": ["203.0.113.0/24"],
            "InlinePolicies": {"big": doc_of_size(MAX_INLINE_TOTAL - fence_size)}
        })),
        None,
    );
}

// ---------------------------------------------------------------------------------------
// PreviousKeyGraceHours and AdoptExistingUser
// ---------------------------------------------------------------------------------------

#[test]
fn previous_key_grace_hours_accepts_0_to_8760() {
    for (raw, want) in [
        (json!("0"), 0u32),
        (json!(0), 0),
        (json!("8760"), 8760),
        (json!("24"), 24),
    ] {
        let spec = parse_ok("grace", &props(json!({"PreviousKeyGraceHours": raw})), None);
        assert_eq!(spec.key.unwrap().previous_key_grace_hours, Some(want));
    }
    let spec = parse_ok("default", &props(json!({})), None);
    assert_eq!(spec.key.unwrap().previous_key_grace_hours, None);
}

#[test]
fn previous_key_grace_hours_refusals() {
    assert_refused(&[
        (
            "over a year",
            props(json!({"PreviousKeyGraceHours": "8761"})),
            "PreviousKeyGraceHours",
            "0-8760",
        ),
        (
            "negative",
            props(json!({"PreviousKeyGraceHours": "-1"})),
            "PreviousKeyGraceHours",
            "whole number",
        ),
        (
            "a duration string",
            props(json!({"PreviousKeyGraceHours": "24h"})),
            "PreviousKeyGraceHours",
            "whole number",
        ),
        (
            "keys disabled",
            props(json!({"PreviousKeyGraceHours": "0", "DisableAccessKeys": "true"})),
            "PreviousKeyGraceHours",
            "DisableAccessKeys",
        ),
    ]);
}

#[test]
fn adopt_existing_user_is_a_boolean_and_off_by_default() {
    assert!(!parse_ok("default", &props(json!({})), None).adopt);
    for raw in [json!("true"), json!(true)] {
        assert!(parse_ok("adopt", &props(json!({"AdoptExistingUser": raw})), None).adopt);
    }
    assert_refused(&[(
        "not a boolean",
        props(json!({"AdoptExistingUser": "yes"})),
        "AdoptExistingUser",
        "true or false",
    )]);
}
