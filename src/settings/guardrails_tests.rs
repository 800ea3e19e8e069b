//! The guardrails as the function reads them from its `PLANTON_*` environment: the
//! model's rules applied to settings parsed here (the model itself reads no environment).

use crate::model::guardrails::Guardrails;
use crate::model::spec::UserSpec;
use crate::settings::Settings;
use serde_json::{json, Value};

fn spec(props: Value) -> UserSpec {
    crate::model::spec::parse(&props, Some("aws")).unwrap()
}

/// The guardrails as the function reads them from its environment.
fn guardrails_from(get: impl Fn(&str) -> Option<String>) -> Guardrails {
    Settings::from_lookup(get).guardrails
}

fn settings_from(get: impl Fn(&str) -> Option<String>) -> Settings {
    Settings::from_lookup(get)
}

fn statement(action: Value, resource: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]})
}

#[test]
fn environment_settings_are_enforced() {
    let env = |k: &str| -> Option<String> {
        match k {
            "PLANTON_ALLOWED_PATH_PREFIX" => Some("/service-accounts".into()),
            "PLANTON_PERMISSIONS_BOUNDARY" => {
                Some("arn:aws:iam::123456789012:policy/boundary".into())
            }
            "PLANTON_DENIED_POLICY_ARNS" => Some("arn:aws:iam::aws:policy/ReadOnlyAccess".into()),
            "PLANTON_ALLOWED_GROUPS" => Some("deployers, auditors".into()),
            "PLANTON_SECRET_NAME_PREFIX" => Some("planton/".into()),
            _ => None,
        }
    };
    let settings = settings_from(env);
    assert!(settings.problems.is_empty(), "{:?}", settings.problems);
    let g = settings.guardrails;
    assert_eq!(g.allowed_path_prefix, "/service-accounts/");

    let mut ok =
        spec(json!({"UserName": "u", "Path": "/service-accounts/ci/", "Groups": ["Deployers"]}));
    assert!(g.apply(&mut ok).is_empty());
    assert_eq!(
        ok.permissions_boundary.as_deref(),
        Some("arn:aws:iam::123456789012:policy/boundary"),
        "required boundary filled in"
    );

    let mut bad = spec(json!({"UserName": "u", "Path": "/other/",
        "PermissionsBoundary": "arn:aws:iam::123456789012:policy/other",
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/AdministratorAccess"],
        "Groups": ["admins"], "SecretName": "elsewhere/u"}));
    let v = g.apply(&mut bad);
    let props: Vec<&str> = v.iter().map(|x| x.property.as_str()).collect();
    assert_eq!(
        props,
        vec![
            "Path",
            "PermissionsBoundary",
            "ManagedPolicyArns",
            "Groups[0]",
            "SecretName"
        ],
        "{v:?}"
    );
}

#[test]
fn privileged_inline_can_be_allowed_explicitly() {
    let doc = statement(json!("iam:*"), "*");
    let mut s = spec(json!({"UserName": "u", "InlinePolicies": {"admin": doc}}));
    assert_eq!(Guardrails::default().apply(&mut s).len(), 1);
    let g =
        guardrails_from(|k| (k == "PLANTON_ALLOW_PRIVILEGED_INLINE").then(|| "true".to_string()));
    assert!(g.apply(&mut s).is_empty());
}

#[test]
fn unreadable_settings_refuse_every_request() {
    let s = settings_from(|k| match k {
        "PLANTON_PERMISSIONS_BOUNDARY" => Some("not-an-arn".into()),
        "PLANTON_ALLOW_PRIVILEGED_INLINE" => Some("maybe".into()),
        _ => None,
    });
    let props: Vec<&str> = s.problems.iter().map(|x| x.property.as_str()).collect();
    assert_eq!(
        props,
        vec![
            "PLANTON_PERMISSIONS_BOUNDARY",
            "PLANTON_ALLOW_PRIVILEGED_INLINE"
        ]
    );
    assert!(s.check().is_err());
}

#[test]
fn only_the_configured_kms_key_may_encrypt_secrets() {
    const ARN: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let with = |setting: Option<&str>| {
        let setting = setting.map(str::to_string);
        guardrails_from(move |k| {
            (k == "PLANTON_SECRET_KMS_KEY_ARN")
                .then(|| setting.clone())
                .flatten()
        })
    };
    let named = |key: Option<&str>| {
        let mut p = json!({"UserName": "u"});
        if let Some(k) = key {
            p["SecretKmsKeyId"] = json!(k);
        }
        spec(p)
    };
    let other = "arn:aws:kms:us-east-1:123456789012:key/ffffffff-12ab-34cd-56ef-1234567890ab";
    let cases: &[(Option<&str>, Option<&str>, bool)] = &[
        // (setting, template's SecretKmsKeyId, allowed)
        (None, Some(other), true),
        (None, None, true),
        (Some(ARN), None, true),
        (Some(ARN), Some(ARN), true),
        (
            Some(ARN),
            Some("1234abcd-12ab-34cd-56ef-1234567890ab"),
            true,
        ),
        (Some(ARN), Some(other), false),
        (Some(ARN), Some("alias/secrets"), false),
        (Some("none"), None, true),
        (Some("none"), Some(ARN), false),
    ];
    for (setting, key, allowed) in cases {
        let v = with(*setting).apply(&mut named(*key));
        assert_eq!(v.is_empty(), *allowed, "{setting:?} {key:?}: {v:?}");
        if !allowed {
            assert_eq!(v[0].property, "SecretKmsKeyId");
            assert!(v[0].rule.contains("PLANTON_SECRET_KMS_KEY_ARN"), "{v:?}");
        }
    }
    let broken = settings_from(|k| (k == "PLANTON_SECRET_KMS_KEY_ARN").then(|| "my-key".into()));
    assert_eq!(
        broken.problems[0].property, "PLANTON_SECRET_KMS_KEY_ARN",
        "{:?}",
        broken.problems
    );
}
