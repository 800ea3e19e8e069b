use super::*;
use serde_json::json;

fn run(props: Value) -> Vec<String> {
    check(&Request {
        properties: props,
        partition: Some("aws".into()),
        ..Request::default()
    })
    .into_iter()
    .map(|f| format!("{}: {}", f.property, f.rule))
    .collect()
}

const U: &str = "\u{E000}";

#[test]
fn the_function_s_own_words() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"UserName": "ok"}), vec![]),
        (json!({}), vec!["UserName: is required"]),
        (
            json!({"UserName": "ok", "Path": "nope"}),
            vec!["Path: must be / or start and end with /"],
        ),
        (
            json!({"UserName": "ok", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}),
            vec!["ManagedPolicyArns: arn:aws:iam::aws:policy/AdministratorAccess may not be attached"],
        ),
        (
            json!({"UserName": "ok", "InlinePolicies": {"p": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}}}}),
            vec!["InlinePolicies.p: statement 0: \"iam:*\" grants every IAM action on \"*\""],
        ),
    ];
    for (props, want) in cases {
        let got = run(props.clone());
        assert_eq!(got.len(), want.len(), "{props}: {got:?}");
        for (g, w) in got.iter().zip(&want) {
            assert!(g.starts_with(w), "{props}: {g} does not start with {w}");
        }
    }
}

#[test]
fn unknown_text_is_given_the_benefit_of_the_doubt_but_not_its_fixed_part() {
    // Wholly unknown: nothing to say. A known bad character: said whatever the rest.
    assert!(run(json!({"UserName": U})).is_empty());
    assert!(run(json!({"UserName": format!("{U}-deployer")})).is_empty());
    let bad = run(json!({"UserName": format!("{U}/deployer")}));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].contains("the fixed text \"/deployer\" has '/'"),
        "{bad:?}"
    );
    let long = run(json!({"UserName": format!("{U}{}", "a".repeat(65))}));
    assert!(long[0].contains("the fixed text alone is 65"), "{long:?}");
    // An unknown list is not "not a list".
    assert!(run(json!({"UserName": "u", "ManagedPolicyArns": U})).is_empty());
    // A value that is known stays judged next to an unknown one.
    let mixed = run(json!({"UserName": U, "Path": "x"}));
    assert_eq!(mixed.len(), 1, "{mixed:?}");
}

#[test]
fn aws_managed_policies_are_refused_with_the_generated_verdict() {
    let Some((name, why)) = crate::aws_managed::REFUSED.first() else {
        return; // the data is empty only before its first generation
    };
    let got = run(
        json!({"UserName": "u", "ManagedPolicyArns": [format!("arn:aws:iam::aws:policy/{name}")]}),
    );
    assert_eq!(
        got,
        vec![format!(
            "ManagedPolicyArns[0]: arn:aws:iam::aws:policy/{name}: {why}"
        )]
    );
    assert!(run(
        json!({"UserName": "u", "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]})
    )
    .is_empty());
    let names: Vec<&str> = crate::aws_managed::REFUSED
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "binary search needs the names sorted");
}

#[test]
fn policies_and_groups_the_host_knows_are_judged() {
    let admin = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let req: Request = serde_json::from_value(json!({
        "Properties": {"UserName": "u", "ManagedPolicyArns": ["arn:aws:iam::123456789012:policy/mine"], "Groups": ["g"]},
        "ManagedPolicies": {"arn:aws:iam::123456789012:policy/mine": admin},
        "Groups": {"g": {"Policies": {"p": admin}}}
    }))
    .unwrap();
    let got: Vec<String> = check(&req).into_iter().map(|f| f.property).collect();
    assert_eq!(got, vec!["ManagedPolicyArns[0]", "Groups[0]"]);
}

#[test]
fn values_are_found_where_a_reason_names_them() {
    let props = json!({"Tags": [{"Key": "a"}], "InlinePolicies": {"a.b": 1}, "Groups": ["x"]});
    assert_eq!(value_at(&props, "Tags[0].Key"), Some(&json!("a")));
    assert_eq!(value_at(&props, "InlinePolicies.a.b"), Some(&json!(1)));
    assert_eq!(value_at(&props, "Groups[0]"), Some(&json!("x")));
    assert_eq!(value_at(&props, "Groups[9]"), None);
}

#[test]
fn the_wire_form_refuses_what_it_cannot_read() {
    assert!(check_json("nope").is_err());
    assert!(judge_json("{}").is_err());
    let judged = judge_json(
        r#"{"Documents": [{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}]}"#,
    )
    .unwrap();
    assert_eq!(judged[0]["findings"][0]["action"], "*");
}

fn props_of(req: Value) -> Vec<(String, Stage)> {
    check(&serde_json::from_value(req).unwrap())
        .into_iter()
        .map(|f| (f.property, f.stage))
        .collect()
}

#[test]
fn unknown_values_do_not_hide_what_is_known() {
    let star = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    // An unknown number, switch or address list leaves the grants judged.
    for (key, value) in [
        ("KeySerial", json!(U)),
        ("RotationDays", json!(U)),
        ("DisableAccessKeys", json!(U)),
        ("AllowedSourceIps", json!(U)),
        ("AllowedSourceIps", json!([U])),
    ] {
        let got = props_of(
            json!({"Properties": {"UserName": "u", key: value, "InlinePolicies": {"p": star}}}),
        );
        assert_eq!(
            got,
            vec![("InlinePolicies.p".to_string(), Stage::Guardrails)],
            "{key}"
        );
    }
    // An unknown resource in one statement does not hide another statement's "*".
    let mixed = json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{U}/*")},
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let got = props_of(json!({"Properties": {"UserName": "u", "InlinePolicies": {"p": mixed}}}));
    assert_eq!(
        got,
        vec![("InlinePolicies.p".to_string(), Stage::Guardrails)]
    );
    // An unknown effect or action is given the benefit of the doubt, in a template's
    // own group too (not refused as an unreadable statement).
    let unknown_effect = json!({"Version": "2012-10-17", "Statement": [{"Effect": U, "Action": "*", "Resource": "*"}]});
    let unknown_action = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": U, "Resource": "*"}]});
    assert!(props_of(
        json!({"Properties": {"UserName": "u", "InlinePolicies": {"p": unknown_effect}}})
    )
    .is_empty());
    assert!(
        props_of(json!({"Properties": {"UserName": "u", "Groups": ["g"]},
        "Groups": {"g": {"Policies": {"p": unknown_action}}}}))
        .is_empty()
    );
}

#[test]
fn the_fixed_text_of_secret_names_and_tags_is_judged() {
    let got = props_of(
        json!({"Properties": {"UserName": "u", "SecretName": format!("{U} secret"),
        "Tags": [{"Key": format!("aws:{U}"), "Value": "v"}, {"Key": format!("team{U}"), "Value": format!("a{U}#")}]}}),
    );
    assert_eq!(
        got,
        vec![
            ("SecretName".to_string(), Stage::FixedText),
            ("Tags[0].Key".to_string(), Stage::FixedText),
            ("Tags[1].Value".to_string(), Stage::FixedText),
        ]
    );
}

#[test]
fn every_stage_on_request_and_what_lifts_each() {
    let star = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let req = |every: bool| {
        json!({"Properties": {"UserName": "u", "InlinePolicies": {"p": star},
            "ManagedPolicyArns": ["arn:aws:iam::123456789012:policy/mine"]},
            "ManagedPolicies": {"arn:aws:iam::123456789012:policy/mine": star}, "EveryStage": every})
    };
    // The function stops at the guardrails; a linter asks for everything.
    let first = check(&serde_json::from_value(req(false)).unwrap());
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].lifted_by, Some("PLANTON_ALLOW_PRIVILEGED_INLINE"));
    let all = check(&serde_json::from_value(req(true)).unwrap());
    let stages: Vec<Stage> = all.iter().map(|f| f.stage).collect();
    assert_eq!(stages, vec![Stage::Guardrails, Stage::Grants]);
    assert_eq!(all[1].lifted_by, Some("PLANTON_TRUSTED_POLICY_ARNS"));
    let fixed = check(&serde_json::from_value(json!({"Properties": {"UserName": "a/b"}})).unwrap());
    assert_eq!(fixed[0].lifted_by, None);
}

#[test]
fn unknown_list_entries_and_documents_leave_the_rest_judged() {
    let star = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    // An empty fence list is refused, as the function refuses it.
    let empty = props_of(json!({"Properties": {"UserName": "u", "AllowedSourceIps": []}}));
    assert_eq!(
        empty,
        vec![("AllowedSourceIps".to_string(), Stage::Properties)]
    );
    // A bad entry after an unknown one keeps its number.
    let bad =
        props_of(json!({"Properties": {"UserName": "u", "AllowedSourceIps": [U, "10.0.0.5/24"]}}));
    assert_eq!(
        bad,
        vec![("AllowedSourceIps[1]".to_string(), Stage::Properties)]
    );
    // An unknown managed policy ARN hides neither the known one nor an inline policy.
    let arns = check(&serde_json::from_value(json!({"Properties": {"UserName": "u",
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess", U, format!("arn:aws:iam::{U}:policy/x")]},
        "EveryStage": true})).unwrap());
    let props: Vec<&str> = arns.iter().map(|f| f.property.as_str()).collect();
    assert_eq!(
        props,
        vec!["ManagedPolicyArns", "ManagedPolicyArns[0]"],
        "{arns:?}"
    );
    let inline = props_of(
        json!({"Properties": {"UserName": "u", "ManagedPolicyArns": [U],
        "InlinePolicies": {"p": star, "q": U}}}),
    );
    assert_eq!(
        inline,
        vec![("InlinePolicies.p".to_string(), Stage::Guardrails)]
    );
}

#[test]
fn a_group_s_managed_policy_is_lifted_by_trusting_it() {
    let got = check(
        &serde_json::from_value(json!({"Properties": {"UserName": "u", "Groups": ["g"]},
        "Groups": {"g": {"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}}))
        .unwrap(),
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].lifted_by, Some("PLANTON_TRUSTED_POLICY_ARNS"));
    let inline = check(&serde_json::from_value(json!({"Properties": {"UserName": "u", "Groups": ["g"]},
        "Groups": {"g": {"Policies": {"p": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}}}})).unwrap());
    assert_eq!(
        inline[0].lifted_by, None,
        "a group's inline policy is lifted by no setting"
    );
}
