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
