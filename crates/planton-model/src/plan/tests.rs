use super::*;
use crate::deployed::TAG_DEPLOYED;
use crate::spec::KeyStatus;
use crate::state::{Extras, ObservedKey, TAG_LOGICAL, TAG_STACK};
use serde_json::json;
use serde_json::Value;
use std::collections::BTreeMap;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app/0f1e2d3c";
const OTHER_STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/other/9a8b7c6d";
const LOGICAL: &str = "ServiceUser";
const USER: &str = "svc-app";
const SECRET: &str = "planton/iam-user/svc-app";
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:planton/iam-user/svc-app-AbCdEf";
const NEW_SECRET: &str = "app/svc-app-key";
const KEY: &str = "AKIACURRENTKEY000001";
const STRAY: &str = "AKIASTRAYKEY00000002";
const GONE: &str = "AKIAGONEKEY000000003";
const RO: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const APP: &str = "arn:aws:iam::123456789012:policy/app-read";
const OTHER_POLICY: &str = "arn:aws:iam::123456789012:policy/other";
const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/boundary";
const DEFAULT_KMS: &str = "alias/aws/secretsmanager";

fn owner() -> Owner {
    Owner {
        stack_id: STACK.into(),
        logical_id: LOGICAL.into(),
    }
}

fn t(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

fn sv(x: &str) -> String {
    x.to_string()
}

fn s3_doc() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]
    })
}

/// Every property set, keys enabled with serial 1, default SecretName.
fn base_props() -> Value {
    json!({
        "UserName": USER,
        "Path": "/svc/",
        "ManagedPolicyArns": [RO, APP],
        "InlinePolicies": {"s3-read": s3_doc()},
        "Groups": ["devs"],
        "PermissionsBoundary": BOUNDARY,
        "Tags": [{"Key": "team", "Value": "core"}],
        "KeySerial": "1"
    })
}

/// `base_props()` with `patch` merged in; a `null` in the patch removes the property.
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user";

fn props(patch: Value) -> Value {
    let mut base = base_props();
    let (Value::Object(b), Value::Object(p)) = (&mut base, patch) else {
        panic!("props patch must be an object");
    };
    for (k, v) in p {
        if v.is_null() {
            b.remove(&k);
        } else {
            b.insert(k, v);
        }
    }
    base
}

fn parse_spec(props: &Value) -> UserSpec {
    crate::spec::parse(props, None).unwrap_or_else(|v| panic!("test props are invalid: {v}"))
}

/// The `planton:deployed` record the planner writes for these properties.
fn deployed_of(props: &Value) -> String {
    let spec = parse_spec(props);
    crate::deployed::of_spec(&spec, &spec.inline_policies).to_tag()
}

fn key(id: &str, active: bool) -> ObservedKey {
    ObservedKey {
        id: id.into(),
        active,
        created: None,
    }
}

/// The user exactly as `base_props()` wants it, owned by `owner()`, holding `KEY`.
fn observed_user() -> ObservedUser {
    ObservedUser {
        name: USER.into(),
        arn: format!("arn:aws:iam::123456789012:user/svc/{USER}"),
        user_id: "AIDAEXAMPLEUSERID".into(),
        path: "/svc/".into(),
        boundary: Some(BOUNDARY.into()),
        tags: vec![
            t("team", "core"),
            t(TAG_STACK, STACK),
            t(TAG_LOGICAL, LOGICAL),
            t(TAG_DEPLOYED, &deployed_of(&base_props())),
            t(TAG_SECRET_NAME, SECRET),
        ],
        managed: [sv(RO), sv(APP)].into_iter().collect(),
        inline: BTreeMap::from([(sv("s3-read"), s3_doc())]),
        groups: vec![sv("devs")],
        keys: vec![key(KEY, true)],
        extras: Extras::default(),
    }
}

fn user_with(f: impl FnOnce(&mut ObservedUser)) -> ObservedUser {
    let mut u = observed_user();
    f(&mut u);
    u
}

/// The secret exactly as `base_props()` wants it: owned, written for `USER` at serial 1,
/// holding `KEY`, on the default KMS key.
fn observed_secret() -> ObservedSecret {
    ObservedSecret {
        name: SECRET.into(),
        arn: SECRET_ARN.into(),
        tags: vec![
            t("team", "core"),
            t(TAG_STACK, STACK),
            t(TAG_LOGICAL, LOGICAL),
            t(TAG_USER_NAME, USER),
            t(TAG_KEY_SERIAL, "1"),
        ],
        kms_key_id: None,
        pending_deletion: false,
        access_key_id: Some(KEY.into()),
        ..ObservedSecret::default()
    }
}

fn secret_with(f: impl FnOnce(&mut ObservedSecret)) -> ObservedSecret {
    let mut s = observed_secret();
    f(&mut s);
    s
}

fn set_tag(tags: &mut Vec<(String, String)>, k: &str, v: &str) {
    tags.retain(|(tk, _)| tk != k);
    tags.push(t(k, v));
}

/// A secret of this owner, at another name, written for `user`.
fn owned_secret(name: &str, user: &str, key_id: Option<&str>) -> ObservedSecret {
    ObservedSecret {
        name: name.into(),
        arn: format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-XyZ123"),
        tags: vec![
            t(TAG_STACK, STACK),
            t(TAG_LOGICAL, LOGICAL),
            t(TAG_USER_NAME, user),
            t(TAG_KEY_SERIAL, "0"),
        ],
        kms_key_id: None,
        pending_deletion: false,
        access_key_id: key_id.map(str::to_string),
        ..ObservedSecret::default()
    }
}

/// The tags a new secret for `base_props()` is created with, at `serial`.
fn secret_tags(serial: &str) -> Vec<(String, String)> {
    vec![
        t("team", "core"),
        t(TAG_STACK, STACK),
        t(TAG_LOGICAL, LOGICAL),
        t(TAG_USER_NAME, USER),
        t(TAG_KEY_SERIAL, serial),
    ]
}

fn doc_string(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

// ---------------------------------------------------------------------------------------
// Comparing plans
// ---------------------------------------------------------------------------------------

/// A change with its inner lists sorted: the order of tags inside one call is not part
/// of the contract either.
fn canon(c: &Change) -> String {
    let mut c = c.clone();
    match &mut c {
        Change::CreateUser { tags, .. }
        | Change::TagUser(tags)
        | Change::TagSecret { tags, .. } => tags.sort(),
        Change::IssueKey {
            store: Store::Create { tags, .. },
            ..
        } => tags.sort(),
        Change::UntagUser(keys) | Change::UntagSecret { keys, .. } => keys.sort(),
        _ => {}
    }
    format!("{c:?}")
}

/// The change without the `planton:deployed` record, or `None` when the record was all
/// it wrote. The record follows every template change, so the cases below would each
/// have to restate it; `the_deployed_record_follows_the_template_not_the_drift` covers
/// it once instead.
fn without_record(c: &Change) -> Option<Change> {
    let mut c = c.clone();
    match &mut c {
        Change::CreateUser { tags, .. } => tags.retain(|(k, _)| k != TAG_DEPLOYED),
        Change::TagUser(tags) => {
            tags.retain(|(k, _)| k != TAG_DEPLOYED);
            if tags.is_empty() {
                return None;
            }
        }
        _ => {}
    }
    Some(c)
}

/// The plan's changes equal `expected` as a multiset (the deployed record aside).
fn assert_changes(case: &str, p: &Plan, expected: &[Change]) {
    let mut got: Vec<String> = p
        .changes()
        .filter_map(without_record)
        .map(|c| canon(&c))
        .collect();
    let mut want: Vec<String> = expected
        .iter()
        .filter_map(without_record)
        .map(|c| canon(&c))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "case {case:?}: changes differ; plan: {p:#?}");
}

/// Every dependency points at an earlier step (so the graph is acyclic and `depth` is
/// sound), once, and never at the step itself.
fn assert_well_formed(case: &str, p: &Plan) {
    for (i, st) in p.steps.iter().enumerate() {
        let mut seen = BTreeSet::new();
        for &j in &st.after {
            assert!(
                j < i,
                "case {case:?}: step {i} depends on later step {j}: {p:#?}"
            );
            assert!(seen.insert(j), "case {case:?}: step {i} lists {j} twice");
        }
    }
}

/// Index of the one step doing `c`.
fn step(case: &str, p: &Plan, c: &Change) -> usize {
    let want = without_record(c).map(|c| canon(&c));
    let found: Vec<usize> = (0..p.steps.len())
        .filter(|&i| without_record(&p.steps[i].change).map(|c| canon(&c)) == want)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "case {case:?}: want exactly one {c:?}: {p:#?}"
    );
    found[0]
}

/// Step `c` waits for exactly the steps doing `before`.
fn assert_deps(case: &str, p: &Plan, c: &Change, before: &[&Change]) {
    let i = step(case, p, c);
    let got: BTreeSet<usize> = p.steps[i].after.iter().copied().collect();
    let want: BTreeSet<usize> = before.iter().map(|b| step(case, p, b)).collect();
    assert_eq!(
        got, want,
        "case {case:?}: dependencies of {c:?} differ (want after {before:?}): {p:#?}"
    );
}

/// Whether step `b` (transitively) waits for step `a`.
fn waits_for(p: &Plan, b: usize, a: usize) -> bool {
    p.steps[b]
        .after
        .iter()
        .any(|&j| j == a || waits_for(p, j, a))
}

// ---------------------------------------------------------------------------------------
// Table cases
// ---------------------------------------------------------------------------------------

/// One planning scenario: by default the converged user and secret of `base_props()`.
struct Case {
    name: &'static str,
    props: Value,
    user: Option<ObservedUser>,
    desired: Option<ObservedSecret>,
    previous: Option<ObservedSecret>,
    grace: Grace,
    expect: Vec<Change>,
}

impl Case {
    fn new(name: &'static str) -> Self {
        Case {
            name,
            props: base_props(),
            user: Some(observed_user()),
            desired: Some(observed_secret()),
            previous: None,
            grace: Grace::default(),
            expect: vec![],
        }
    }
    fn grace(mut self, period_secs: u64, now_secs: u64) -> Self {
        self.grace = Grace {
            period_secs,
            now_secs,
        };
        self
    }
    fn props(mut self, patch: Value) -> Self {
        self.props = props(patch);
        self
    }
    fn user(mut self, f: impl FnOnce(&mut ObservedUser)) -> Self {
        f(self.user.as_mut().expect("case has a user"));
        self
    }
    fn no_user(mut self) -> Self {
        self.user = None;
        self
    }
    fn secret(mut self, f: impl FnOnce(&mut ObservedSecret)) -> Self {
        f(self.desired.as_mut().expect("case has a secret"));
        self
    }
    fn no_secret(mut self) -> Self {
        self.desired = None;
        self
    }
    fn previous(mut self, s: ObservedSecret) -> Self {
        self.previous = Some(s);
        self
    }
    fn expect(mut self, changes: Vec<Change>) -> Self {
        self.expect = changes;
        self
    }

    fn result(&self) -> Result<Plan, NotOwned> {
        plan(
            &parse_spec(&self.props),
            &owner(),
            self.user.as_ref(),
            Secrets {
                desired: self.desired.as_ref(),
                previous: self.previous.as_ref(),
                rotation_function: Some(FUNCTION),
                grace: self.grace,
                adoption: None,
            },
        )
    }

    /// Plans, checks the graph is well formed and the changes are `expect`.
    fn run(&self) -> Plan {
        let p = self
            .result()
            .unwrap_or_else(|e| panic!("case {:?}: plan failed: {e}", self.name));
        assert_well_formed(self.name, &p);
        assert_changes(self.name, &p, &self.expect);
        p
    }
}

fn issue_put(restore: bool) -> Change {
    Change::IssueKey {
        status: KeyStatus::Active,
        store: Store::Put {
            secret_id: SECRET_ARN.into(),
            restore,
            description: String::new(),
            key_versions: vec![],
        },
    }
}

fn issue_create(name: &str, tags: Vec<(String, String)>) -> Change {
    Change::IssueKey {
        status: KeyStatus::Active,
        store: Store::Create {
            name: name.into(),
            kms_key_id: None,
            tags,
            grace_hours: None,
        },
    }
}

fn tag_secret(tags: Vec<(String, String)>) -> Change {
    Change::TagSecret {
        secret_id: SECRET_ARN.into(),
        tags,
    }
}

// ---------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------

#[test]
fn create_builds_the_user_then_everything_else_after_it() {
    let full_user_tags = vec![
        t("team", "core"),
        t(TAG_STACK, STACK),
        t(TAG_LOGICAL, LOGICAL),
        t(TAG_DEPLOYED, &deployed_of(&base_props())),
        t(TAG_SECRET_NAME, SECRET),
    ];
    let cases =
        vec![
        Case::new("everything, keys enabled")
            .no_user()
            .no_secret()
            .expect(vec![
                Change::CreateUser {
                    path: sv("/svc/"),
                    boundary: Some(sv(BOUNDARY)),
                    tags: full_user_tags.clone(),
                },
                Change::AttachPolicy(sv(RO)),
                Change::AttachPolicy(sv(APP)),
                Change::PutInlinePolicy {
                    name: sv("s3-read"),
                    document: doc_string(&s3_doc()),
                },
                Change::AddToGroup(sv("devs")),
                issue_create(SECRET, secret_tags("1")),
            ]),
        Case::new("only a UserName: root path, no boundary, default secret, serial 0")
            .props(json!({
                "Path": null, "ManagedPolicyArns": null, "InlinePolicies": null,
                "Groups": null, "PermissionsBoundary": null, "Tags": null, "KeySerial": null
            }))
            .no_user()
            .no_secret()
            .expect(vec![
                Change::CreateUser {
                    path: sv("/"),
                    boundary: None,
                    tags: vec![
                        t(TAG_STACK, STACK),
                        t(TAG_LOGICAL, LOGICAL),
                        t(TAG_SECRET_NAME, SECRET),
                    ],
                },
                issue_create(
                    SECRET,
                    vec![
                        t(TAG_STACK, STACK),
                        t(TAG_LOGICAL, LOGICAL),
                        t(TAG_USER_NAME, USER),
                        t(TAG_KEY_SERIAL, "0"),
                    ],
                ),
            ]),
        Case::new("custom secret, KMS key, inactive key")
            .props(json!({
                "SecretName": NEW_SECRET, "SecretKmsKeyId": "alias/app", "KeyStatus": "Inactive",
                "KeySerial": "7"
            }))
            .no_user()
            .no_secret()
            .expect(vec![
                Change::CreateUser {
                    path: sv("/svc/"),
                    boundary: Some(sv(BOUNDARY)),
                    tags: vec![
                        t("team", "core"),
                        t(TAG_STACK, STACK),
                        t(TAG_LOGICAL, LOGICAL),
                        t(TAG_SECRET_NAME, NEW_SECRET),
                    ],
                },
                Change::AttachPolicy(sv(RO)),
                Change::AttachPolicy(sv(APP)),
                Change::PutInlinePolicy {
                    name: sv("s3-read"),
                    document: doc_string(&s3_doc()),
                },
                Change::AddToGroup(sv("devs")),
                Change::IssueKey {
                    status: KeyStatus::Inactive,
                    store: Store::Create {
                        name: sv(NEW_SECRET),
                        kms_key_id: Some(sv("alias/app")),
                        tags: secret_tags("7"),
                        grace_hours: None,
                    },
                },
            ]),
        Case::new("keys disabled: no secret-name tag, no key")
            .props(json!({"DisableAccessKeys": "true"}))
            .no_user()
            .no_secret()
            .expect(vec![
                Change::CreateUser {
                    path: sv("/svc/"),
                    boundary: Some(sv(BOUNDARY)),
                    tags: vec![t("team", "core"), t(TAG_STACK, STACK), t(TAG_LOGICAL, LOGICAL)],
                },
                Change::AttachPolicy(sv(RO)),
                Change::AttachPolicy(sv(APP)),
                Change::PutInlinePolicy {
                    name: sv("s3-read"),
                    document: doc_string(&s3_doc()),
                },
                Change::AddToGroup(sv("devs")),
            ]),
        // A retried Create finds the secret an earlier attempt wrote: a new value goes
        // into it instead of a CreateSecret that would collide.
        Case::new("our secret already exists")
            .no_user()
            .expect(vec![
                Change::CreateUser {
                    path: sv("/svc/"),
                    boundary: Some(sv(BOUNDARY)),
                    tags: full_user_tags,
                },
                Change::AttachPolicy(sv(RO)),
                Change::AttachPolicy(sv(APP)),
                Change::PutInlinePolicy {
                    name: sv("s3-read"),
                    document: doc_string(&s3_doc()),
                },
                Change::AddToGroup(sv("devs")),
                issue_put(false),
            ]),
    ];
    for c in cases {
        let p = c.run();
        let create = p
            .steps
            .iter()
            .position(|s| matches!(s.change, Change::CreateUser { .. }))
            .expect("a CreateUser step");
        assert!(
            p.steps[create].after.is_empty(),
            "{}: CreateUser waits",
            c.name
        );
        for (i, st) in p.steps.iter().enumerate() {
            if i != create {
                assert_eq!(
                    st.after,
                    vec![create],
                    "case {:?}: {:?} must wait for exactly CreateUser",
                    c.name,
                    st.change
                );
            }
        }
    }
}

#[test]
fn create_depth_is_the_key_chain_whatever_the_number_of_policies() {
    let create = |n_managed: usize, n_inline: usize, n_groups: usize, keys: bool| {
        let managed: Vec<String> = (0..n_managed)
            .map(|i| format!("arn:aws:iam::123456789012:policy/p{i}"))
            .collect();
        let inline: serde_json::Map<String, Value> = (0..n_inline)
            .map(|i| (format!("inline-{i}"), s3_doc()))
            .collect();
        let groups: Vec<String> = (0..n_groups).map(|i| format!("group-{i}")).collect();
        let spec = parse_spec(&props(json!({
            "ManagedPolicyArns": managed,
            "InlinePolicies": inline,
            "Groups": groups,
            "DisableAccessKeys": (!keys).to_string(),
        })));
        let p = plan(&spec, &owner(), None, Secrets::default()).unwrap();
        assert_eq!(
            p.steps.len(),
            1 + n_managed + n_inline + n_groups + usize::from(keys)
        );
        p.depth()
    };
    // CreateUser (1) then IssueKey (2: CreateAccessKey, then CreateSecret).
    assert_eq!(create(6, 3, 2, true), 3);
    assert_eq!(create(1, 0, 0, true), 3);
    assert_eq!(create(20, 3, 10, true), 3);
    assert_eq!(create(0, 0, 0, true), 3);
    // Without a key: CreateUser, then everything else at once.
    assert_eq!(create(6, 3, 2, false), 2);
    assert_eq!(create(20, 3, 10, false), 2);
    assert_eq!(create(0, 0, 0, false), 1);
}

#[test]
fn depth_counts_the_longest_chain_and_issue_key_twice() {
    let st = |change: Change, after: Vec<usize>| Step { change, after };
    let cases: Vec<(&str, Plan, usize)> = vec![
        ("empty plan", Plan::default(), 0),
        (
            "independent steps",
            Plan {
                steps: vec![
                    st(Change::AttachPolicy(sv(RO)), vec![]),
                    st(Change::AttachPolicy(sv(APP)), vec![]),
                    st(Change::UpdatePath(sv("/x/")), vec![]),
                ],
            },
            1,
        ),
        (
            "a lone IssueKey",
            Plan {
                steps: vec![st(issue_put(false), vec![])],
            },
            // CreateAccessKey, record its id, store it.
            3,
        ),
        (
            "detach -> attach, next to a longer key chain",
            Plan {
                steps: vec![
                    st(Change::DetachPolicy(sv(RO)), vec![]),
                    st(Change::AttachPolicy(sv(APP)), vec![0]),
                    st(Change::DeleteKey(sv(STRAY)), vec![]),
                    st(issue_put(false), vec![2]),
                    st(Change::DeleteKey(sv(KEY)), vec![3]),
                    st(Change::DeleteSecret(sv(SECRET_ARN)), vec![4]),
                ],
            },
            6,
        ),
        (
            "the longest branch wins, not the last step",
            Plan {
                steps: vec![
                    st(Change::DeleteKey(sv(KEY)), vec![]),
                    st(Change::DeleteKey(sv(STRAY)), vec![0]),
                    st(Change::DeleteUser, vec![1]),
                    st(Change::UpdatePath(sv("/x/")), vec![]),
                ],
            },
            3,
        ),
    ];
    for (name, p, want) in cases {
        assert_eq!(p.depth(), want, "case {name:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Update: converged and single drifts
// ---------------------------------------------------------------------------------------

#[test]
fn converged_state_plans_nothing() {
    let cases = vec![
        Case::new("everything as wanted"),
        Case::new("group name differs only in case")
            .user(|u| u.groups = vec![sv("Devs")]),
        Case::new("inline document differs only in key order and whitespace").user(|u| {
            let doc: Value = serde_json::from_str(
                r#"{ "Statement" : [ { "Resource": "*",
                       "Action":"s3:GetObject", "Effect" :"Allow" } ],
                     "Version": "2012-10-17" }"#,
            )
            .unwrap();
            u.inline.insert(sv("s3-read"), doc);
        }),
        Case::new("inline document given as a JSON string in the template").props(json!({
            "InlinePolicies": {"s3-read":
                "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Resource\": \"*\", \"Effect\": \"Allow\", \"Action\": \"s3:GetObject\"}]\n}"}
        })),
        Case::new("serial equal to the secret's"),
        Case::new("no SecretKmsKeyId, secret reports the default key's alias ARN").secret(|s| {
            s.kms_key_id = Some(sv(
                "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager",
            ))
        }),
        Case::new("SecretKmsKeyId as observed")
            .props(json!({"SecretKmsKeyId": "alias/app"}))
            .secret(|s| s.kms_key_id = Some(sv("alias/app"))),
        Case::new("inactive key wanted and inactive")
            .props(json!({"KeyStatus": "Inactive"}))
            .user(|u| u.keys = vec![key(KEY, false)]),
        Case::new("keys disabled and already gone")
            .props(json!({"DisableAccessKeys": "true"}))
            .user(|u| {
                u.keys.clear();
                u.tags.retain(|(k, _)| k != TAG_SECRET_NAME);
            })
            .no_secret(),
        Case::new("no boundary, no policies, no groups, no template tags")
            .props(json!({
                "PermissionsBoundary": null, "ManagedPolicyArns": null,
                "InlinePolicies": null, "Groups": null, "Tags": null
            }))
            .user(|u| {
                u.boundary = None;
                u.managed.clear();
                u.inline.clear();
                u.groups.clear();
                u.tags.retain(|(k, _)| k != "team");
            })
            .secret(|s| s.tags.retain(|(k, _)| k != "team")),
    ];
    for mut c in cases {
        // Converged means deployed with exactly these properties.
        let record = deployed_of(&c.props);
        if let Some(u) = c.user.as_mut() {
            set_tag(&mut u.tags, TAG_DEPLOYED, &record);
        }
        let p = c.run();
        assert!(p.is_empty(), "case {:?}: {p:#?}", c.name);
        assert_eq!(p.depth(), 0, "case {:?}", c.name);
    }
}

#[test]
fn each_single_drift_plans_exactly_its_one_change() {
    let policy_b = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
    });
    let cases = vec![
        Case::new("path moved by hand")
            .user(|u| u.path = sv("/old/"))
            .expect(vec![Change::UpdatePath(sv("/svc/"))]),
        Case::new("boundary removed by hand")
            .user(|u| u.boundary = None)
            .expect(vec![Change::PutBoundary(sv(BOUNDARY))]),
        Case::new("boundary replaced by hand")
            .user(|u| u.boundary = Some(sv(OTHER_POLICY)))
            .expect(vec![Change::PutBoundary(sv(BOUNDARY))]),
        Case::new("boundary removed from the template")
            .props(json!({"PermissionsBoundary": null}))
            .expect(vec![Change::DeleteBoundary]),
        Case::new("tag value changed by hand")
            .user(|u| set_tag(&mut u.tags, "team", "other"))
            .expect(vec![Change::TagUser(vec![t("team", "core")])]),
        Case::new("template tag removed from the user by hand")
            .user(|u| u.tags.retain(|(k, _)| k != "team"))
            .expect(vec![Change::TagUser(vec![t("team", "core")])]),
        Case::new("secret-name tag removed from the user by hand")
            .user(|u| u.tags.retain(|(k, _)| k != TAG_SECRET_NAME))
            .expect(vec![Change::TagUser(vec![t(TAG_SECRET_NAME, SECRET)])]),
        Case::new("extra tag added to the user by hand")
            .user(|u| u.tags.push(t("cost-center", "42")))
            .expect(vec![Change::UntagUser(vec![sv("cost-center")])]),
        Case::new("managed policy detached by hand")
            .user(|u| {
                u.managed.remove(APP);
            })
            .expect(vec![Change::AttachPolicy(sv(APP))]),
        Case::new("managed policy attached by hand")
            .user(|u| {
                u.managed.insert(sv(OTHER_POLICY));
            })
            .expect(vec![Change::DetachPolicy(sv(OTHER_POLICY))]),
        Case::new("inline document changed by hand")
            .user(|u| {
                u.inline.insert(sv("s3-read"), policy_b.clone());
            })
            .expect(vec![Change::PutInlinePolicy {
                name: sv("s3-read"),
                document: doc_string(&s3_doc()),
            }]),
        Case::new("inline policy deleted by hand")
            .user(|u| u.inline.clear())
            .expect(vec![Change::PutInlinePolicy {
                name: sv("s3-read"),
                document: doc_string(&s3_doc()),
            }]),
        Case::new("inline policy added by hand")
            .user(|u| {
                u.inline.insert(sv("extra"), policy_b.clone());
            })
            .expect(vec![Change::DeleteInlinePolicy(sv("extra"))]),
        Case::new("group left by hand")
            .user(|u| u.groups.clear())
            .expect(vec![Change::AddToGroup(sv("devs"))]),
        Case::new("group joined by hand")
            .user(|u| u.groups.push(sv("Ops")))
            .expect(vec![Change::RemoveFromGroup(sv("Ops"))]),
        Case::new("key status set to Inactive in the template")
            .props(json!({"KeyStatus": "Inactive"}))
            .expect(vec![Change::SetKeyStatus {
                key_id: sv(KEY),
                status: KeyStatus::Inactive,
            }]),
        Case::new("key deactivated by hand")
            .user(|u| u.keys = vec![key(KEY, false)])
            .expect(vec![Change::SetKeyStatus {
                key_id: sv(KEY),
                status: KeyStatus::Active,
            }]),
        Case::new("stray key made by hand, no rotation")
            .user(|u| u.keys.push(key(STRAY, true)))
            .expect(vec![Change::DeleteKey(sv(STRAY))]),
        Case::new("KMS key set in the template")
            .props(json!({"SecretKmsKeyId": "alias/app"}))
            .expect(vec![Change::SetSecretKms {
                secret_id: sv(SECRET_ARN),
                kms_key_id: sv("alias/app"),
            }]),
        Case::new("KMS key changed in the template")
            .props(json!({"SecretKmsKeyId": "alias/app"}))
            .secret(|s| s.kms_key_id = Some(sv("alias/old")))
            .expect(vec![Change::SetSecretKms {
                secret_id: sv(SECRET_ARN),
                kms_key_id: sv("alias/app"),
            }]),
        Case::new("KMS key removed from the template: back to the default key")
            .secret(|s| s.kms_key_id = Some(sv("alias/old")))
            .expect(vec![Change::SetSecretKms {
                secret_id: sv(SECRET_ARN),
                kms_key_id: sv(DEFAULT_KMS),
            }]),
        Case::new("template tag removed from the secret by hand")
            .secret(|s| s.tags.retain(|(k, _)| k != "team"))
            .expect(vec![tag_secret(vec![t("team", "core")])]),
        Case::new("extra tag added to the secret by hand")
            .secret(|s| s.tags.push(t("rotation", "manual")))
            .expect(vec![Change::UntagSecret {
                secret_id: sv(SECRET_ARN),
                keys: vec![sv("rotation")],
            }]),
    ];
    for c in cases {
        let p = c.run();
        assert!(
            p.steps.iter().all(|s| s.after.is_empty()),
            "case {:?}: a single drift waits for nothing: {p:#?}",
            c.name
        );
    }
}

#[test]
fn removals_run_before_the_additions_they_make_room_for() {
    let other_doc = json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
    });
    let cases: Vec<(Case, Change, Change)> = vec![
        (
            Case::new("managed policy swapped")
                .props(json!({"ManagedPolicyArns": [RO, OTHER_POLICY]}))
                .expect(vec![
                    Change::DetachPolicy(sv(APP)),
                    Change::AttachPolicy(sv(OTHER_POLICY)),
                ]),
            Change::DetachPolicy(sv(APP)),
            Change::AttachPolicy(sv(OTHER_POLICY)),
        ),
        (
            Case::new("inline policy renamed")
                .props(json!({"InlinePolicies": {"sqs-send": other_doc}}))
                .expect(vec![
                    Change::DeleteInlinePolicy(sv("s3-read")),
                    Change::PutInlinePolicy {
                        name: sv("sqs-send"),
                        document: doc_string(&other_doc),
                    },
                ]),
            Change::DeleteInlinePolicy(sv("s3-read")),
            Change::PutInlinePolicy {
                name: sv("sqs-send"),
                document: doc_string(&other_doc),
            },
        ),
        (
            Case::new("group swapped")
                .props(json!({"Groups": ["ops"]}))
                .expect(vec![
                    Change::RemoveFromGroup(sv("devs")),
                    Change::AddToGroup(sv("ops")),
                ]),
            Change::RemoveFromGroup(sv("devs")),
            Change::AddToGroup(sv("ops")),
        ),
        (
            Case::new("user tag key changed case by hand")
                .user(|u| {
                    u.tags.retain(|(k, _)| k != "team");
                    u.tags.push(t("Team", "core"));
                })
                .expect(vec![
                    Change::UntagUser(vec![sv("Team")]),
                    Change::TagUser(vec![t("team", "core")]),
                ]),
            Change::UntagUser(vec![sv("Team")]),
            Change::TagUser(vec![t("team", "core")]),
        ),
        (
            Case::new("template tag renamed")
                .props(json!({"Tags": [{"Key": "squad", "Value": "core"}]}))
                .expect(vec![
                    Change::UntagUser(vec![sv("team")]),
                    Change::TagUser(vec![t("squad", "core")]),
                    Change::UntagSecret {
                        secret_id: sv(SECRET_ARN),
                        keys: vec![sv("team")],
                    },
                    tag_secret(vec![t("squad", "core")]),
                ]),
            Change::UntagUser(vec![sv("team")]),
            Change::TagUser(vec![t("squad", "core")]),
        ),
        (
            Case::new("template tag renamed (secret side)")
                .props(json!({"Tags": [{"Key": "squad", "Value": "core"}]}))
                .expect(vec![
                    Change::UntagUser(vec![sv("team")]),
                    Change::TagUser(vec![t("squad", "core")]),
                    Change::UntagSecret {
                        secret_id: sv(SECRET_ARN),
                        keys: vec![sv("team")],
                    },
                    tag_secret(vec![t("squad", "core")]),
                ]),
            Change::UntagSecret {
                secret_id: sv(SECRET_ARN),
                keys: vec![sv("team")],
            },
            tag_secret(vec![t("squad", "core")]),
        ),
    ];
    for (c, removal, addition) in cases {
        let p = c.run();
        assert_deps(c.name, &p, &removal, &[]);
        assert_deps(c.name, &p, &addition, &[&removal]);
    }
}

// ---------------------------------------------------------------------------------------
// Key flows
// ---------------------------------------------------------------------------------------

fn rotate() -> Change {
    Change::RotateKey {
        secret_id: sv(SECRET_ARN),
        status: KeyStatus::Active,
    }
}

#[test]
fn raising_the_serial_rotates_then_records_the_serial() {
    let c = Case::new("serial 1 -> 2")
        .props(json!({"KeySerial": "2"}))
        .expect(vec![rotate(), tag_secret(vec![t(TAG_KEY_SERIAL, "2")])]);
    let p = c.run();
    assert_deps(c.name, &p, &rotate(), &[]);
    assert_deps(
        c.name,
        &p,
        &tag_secret(vec![t(TAG_KEY_SERIAL, "2")]),
        &[&rotate()],
    );
    // The rotation's own sequential calls, then the serial tag.
    assert_eq!(p.depth(), 7);
}

#[test]
fn a_serial_not_above_the_secrets_does_not_rotate() {
    let cases = vec![
        Case::new("serial lower than the secret's")
            .secret(|s| set_tag(&mut s.tags, TAG_KEY_SERIAL, "3")),
        Case::new("serial 0, secret without a serial tag")
            .props(json!({"KeySerial": "0"}))
            .secret(|s| s.tags.retain(|(k, _)| k != TAG_KEY_SERIAL)),
        Case::new("secret's serial tag unreadable, serial 0")
            .props(json!({"KeySerial": "0"}))
            .secret(|s| set_tag(&mut s.tags, TAG_KEY_SERIAL, "three")),
    ];
    for c in cases {
        let p = c
            .result()
            .unwrap_or_else(|e| panic!("case {:?}: {e}", c.name));
        assert_well_formed(c.name, &p);
        // The serial tag itself may be brought in line; the key must not be touched.
        let touched: Vec<&Change> = p
            .changes()
            .filter(|c| {
                !matches!(
                    c,
                    Change::TagSecret { .. } | Change::UntagSecret { .. } | Change::TagUser(_)
                )
            })
            .collect();
        assert!(touched.is_empty(), "case {:?}: {p:#?}", c.name);
    }
    // The control: a serial above the secret's does rotate.
    let p = Case::new("control")
        .props(json!({"KeySerial": "4"}))
        .secret(|s| set_tag(&mut s.tags, TAG_KEY_SERIAL, "3"))
        .result()
        .unwrap();
    assert!(p.changes().any(|c| *c == rotate()));
}

#[test]
fn a_rotation_makes_room_itself_so_no_key_is_deleted_beside_it() {
    // Whatever the second key is (a grace key, a stray, a crashed rotation's), the
    // rotation removes the one that is not current before it creates; a DeleteKey
    // planned beside it would race it.
    for (name, f) in [
        (
            "stray key",
            (|s: &mut ObservedSecret| s.previous_key_id = None) as fn(&mut ObservedSecret),
        ),
        ("grace key", |s: &mut ObservedSecret| {
            s.previous_key_id = Some(sv(STRAY))
        }),
        ("crashed rotation's key", |s: &mut ObservedSecret| {
            s.pending_key_id = Some(sv(STRAY))
        }),
    ] {
        let c = Case::new("rotation with a second key")
            .props(json!({"KeySerial": "2"}))
            .user(|u| u.keys.push(key(STRAY, false)))
            .secret(f)
            .expect(vec![rotate(), tag_secret(vec![t(TAG_KEY_SERIAL, "2")])]);
        let p = c.run();
        assert!(
            !p.changes().any(|c| matches!(c, Change::DeleteKey(_))),
            "{name}: {p:#?}"
        );
    }
}

#[test]
fn the_grace_key_and_a_rotation_in_flight_are_kept_and_anything_else_goes() {
    let cases = vec![
        Case::new("grace key, inactive: converged")
            .user(|u| u.keys.push(key(STRAY, false)))
            .secret(|s| s.previous_key_id = Some(sv(STRAY)))
            .expect(vec![]),
        Case::new("grace key reactivated by hand: deactivated again")
            .user(|u| u.keys.push(key(STRAY, true)))
            .secret(|s| s.previous_key_id = Some(sv(STRAY)))
            .expect(vec![Change::SetKeyStatus {
                key_id: sv(STRAY),
                status: KeyStatus::Inactive,
            }]),
        // The grace period runs from the current key's creation (the rotation).
        Case::new("grace key active within its grace period: kept working")
            .user(|u| {
                u.keys[0].created = Some(1_000);
                u.keys.push(key(STRAY, true));
            })
            .secret(|s| s.previous_key_id = Some(sv(STRAY)))
            .grace(3600, 1_000 + 3599)
            .expect(vec![]),
        Case::new("grace key active once its grace period is over: deactivated")
            .user(|u| {
                u.keys[0].created = Some(1_000);
                u.keys.push(key(STRAY, true));
            })
            .secret(|s| s.previous_key_id = Some(sv(STRAY)))
            .grace(3600, 1_000 + 3600)
            .expect(vec![Change::SetKeyStatus {
                key_id: sv(STRAY),
                status: KeyStatus::Inactive,
            }]),
        Case::new("grace key active, current key's creation unknown: deactivated")
            .user(|u| u.keys.push(key(STRAY, true)))
            .secret(|s| s.previous_key_id = Some(sv(STRAY)))
            .grace(3600, 0)
            .expect(vec![Change::SetKeyStatus {
                key_id: sv(STRAY),
                status: KeyStatus::Inactive,
            }]),
        Case::new("grace key active within its grace period, keys meant inactive: deactivated")
            .props(json!({"KeyStatus": "Inactive"}))
            .user(|u| {
                u.keys[0].created = Some(1_000);
                u.keys[0].active = false;
                u.keys.push(key(STRAY, true));
            })
            .secret(|s| s.previous_key_id = Some(sv(STRAY)))
            .grace(3600, 1_000)
            .expect(vec![Change::SetKeyStatus {
                key_id: sv(STRAY),
                status: KeyStatus::Inactive,
            }]),
        // A leaked key: PreviousKeyGraceHours 0 ends the grace period in this Update,
        // whatever the deployment's default, and the secret records it for the sweep.
        Case::new("grace key within the default grace, PreviousKeyGraceHours 0: deactivated now")
            .props(json!({"PreviousKeyGraceHours": 0}))
            .user(|u| {
                u.keys[0].created = Some(1_000);
                u.keys.push(key(STRAY, true));
            })
            .secret(|s| s.previous_key_id = Some(sv(STRAY)))
            .grace(24 * 3600, 1_000)
            .expect(vec![
                Change::SetKeyStatus {
                    key_id: sv(STRAY),
                    status: KeyStatus::Inactive,
                },
                Change::RecordKeyIds {
                    secret_id: sv(SECRET_ARN),
                    key_versions: vec![],
                    grace_hours: Some(0),
                },
            ]),
        Case::new("a longer PreviousKeyGraceHours keeps the grace key working past the default")
            .props(json!({"PreviousKeyGraceHours": 48}))
            .user(|u| {
                u.keys[0].created = Some(1_000);
                u.keys.push(key(STRAY, true));
            })
            .secret(|s| {
                s.previous_key_id = Some(sv(STRAY));
                s.grace_hours = Some(48);
            })
            .grace(24 * 3600, 1_000 + 30 * 3600)
            .expect(vec![]),
        Case::new("PreviousKeyGraceHours removed: the recorded grace is removed too")
            .secret(|s| s.grace_hours = Some(48))
            .expect(vec![Change::RecordKeyIds {
                secret_id: sv(SECRET_ARN),
                key_versions: vec![],
                grace_hours: None,
            }]),
        Case::new("key of a rotation in flight: left to the rotation")
            .user(|u| u.keys.push(key(STRAY, true)))
            .secret(|s| s.pending_key_id = Some(sv(STRAY)))
            .expect(vec![]),
        Case::new("a key no version holds: deleted")
            .user(|u| u.keys.push(key(STRAY, true)))
            .secret(|s| s.previous_key_id = Some(sv(GONE)))
            .expect(vec![Change::DeleteKey(sv(STRAY))]),
        Case::new("previous version holds the current key: nothing special")
            .secret(|s| s.previous_key_id = Some(sv(KEY)))
            .expect(vec![]),
    ];
    for c in cases {
        c.run();
    }
}

#[test]
fn scheduled_rotation_follows_rotation_days_and_names_this_function() {
    let on = |days: i64, f: &str| crate::state::ObservedRotation {
        function_arn: f.into(),
        days,
    };
    let configure = |days| Change::ConfigureRotation {
        secret_id: sv(SECRET_ARN),
        days,
    };
    let cases = vec![
        Case::new("turned on")
            .props(json!({"RotationDays": "30"}))
            .expect(vec![configure(30)]),
        Case::new("already on: converged")
            .props(json!({"RotationDays": "30"}))
            .secret(|s| s.rotation = Some(on(30, FUNCTION)))
            .expect(vec![]),
        Case::new("other period")
            .props(json!({"RotationDays": "90"}))
            .secret(|s| s.rotation = Some(on(30, FUNCTION)))
            .expect(vec![configure(90)]),
        Case::new("another function rotates it")
            .props(json!({"RotationDays": "30"}))
            .secret(|s| {
                s.rotation = Some(on(30, "arn:aws:lambda:us-east-1:123456789012:function:old"))
            })
            .expect(vec![configure(30)]),
        Case::new("turned off")
            .secret(|s| s.rotation = Some(on(30, FUNCTION)))
            .expect(vec![Change::CancelRotation {
                secret_id: sv(SECRET_ARN),
            }]),
    ];
    for c in cases {
        c.run();
    }
    // A new secret is scheduled once it exists, by name.
    let c = Case::new("new secret with a schedule")
        .props(json!({"RotationDays": "7"}))
        .no_secret()
        .user(|u| u.keys.clear());
    let p = c.result().unwrap();
    let sched = Change::ConfigureRotation {
        secret_id: sv(SECRET),
        days: 7,
    };
    let issued = p
        .changes()
        .find(|c| matches!(c, Change::IssueKey { .. }))
        .cloned()
        .unwrap();
    assert_deps(c.name, &p, &sched, &[&issued]);
}

#[test]
fn keys_the_secret_does_not_hold_are_replaced_by_a_new_stored_key() {
    let cases: Vec<(Case, Vec<Change>)> = vec![
        (
            Case::new("secret holds a key no longer on the user")
                .user(|u| u.keys.clear())
                .secret(|s| s.access_key_id = Some(sv(GONE)))
                .expect(vec![issue_put(false)]),
            vec![],
        ),
        (
            Case::new("secret holds a deleted key, user has another")
                .user(|u| u.keys = vec![key(STRAY, true)])
                .secret(|s| s.access_key_id = Some(sv(GONE)))
                .expect(vec![Change::DeleteKey(sv(STRAY)), issue_put(false)]),
            vec![Change::DeleteKey(sv(STRAY))],
        ),
        (
            Case::new("secret holds no key at all")
                .user(|u| u.keys.clear())
                .secret(|s| s.access_key_id = None)
                .expect(vec![issue_put(false)]),
            vec![],
        ),
        (
            Case::new("secret missing while the user has a key")
                .no_secret()
                .expect(vec![
                    Change::DeleteKey(sv(KEY)),
                    issue_create(SECRET, secret_tags("1")),
                ]),
            vec![Change::DeleteKey(sv(KEY))],
        ),
        (
            Case::new("secret pending deletion is restored")
                .secret(|s| s.pending_deletion = true)
                .expect(vec![Change::DeleteKey(sv(KEY)), issue_put(true)]),
            vec![Change::DeleteKey(sv(KEY))],
        ),
        (
            Case::new("secret pending deletion, user without keys")
                .user(|u| u.keys.clear())
                .secret(|s| s.pending_deletion = true)
                .expect(vec![issue_put(true)]),
            vec![],
        ),
        (
            // Same owner, another user (UserName changed with a fixed SecretName): the
            // key it holds is not this user's current key.
            Case::new("our secret written for another user")
                .user(|u| u.keys.clear())
                .secret(|s| set_tag(&mut s.tags, TAG_USER_NAME, "old-user"))
                .expect(vec![
                    issue_put(false),
                    tag_secret(vec![t(TAG_USER_NAME, USER)]),
                ]),
            vec![],
        ),
        (
            // The key is only "current" if the secret was written for this user.
            Case::new("secret's user tag names another user, key still on this user")
                .secret(|s| set_tag(&mut s.tags, TAG_USER_NAME, "old-user"))
                .expect(vec![
                    Change::DeleteKey(sv(KEY)),
                    issue_put(false),
                    tag_secret(vec![t(TAG_USER_NAME, USER)]),
                ]),
            vec![Change::DeleteKey(sv(KEY))],
        ),
    ];
    for (c, before_issue) in cases {
        let p = c.run();
        let issue = p
            .changes()
            .find(|c| matches!(c, Change::IssueKey { .. }))
            .unwrap()
            .clone();
        let before: Vec<&Change> = before_issue.iter().collect();
        assert_deps(c.name, &p, &issue, &before);
        for b in &before_issue {
            assert_deps(c.name, &p, b, &[]);
        }
        for st in &p.steps {
            if matches!(st.change, Change::TagSecret { .. }) {
                assert_deps(c.name, &p, &st.change, &[&issue]);
            }
        }
    }
}

#[test]
fn disabling_keys_deletes_every_key_then_only_our_secrets_for_this_user() {
    let untag = Change::UntagUser(vec![sv(TAG_SECRET_NAME)]);
    let old = owned_secret("old/name", USER, Some(KEY));
    let cases: Vec<(Case, Option<Change>)> = vec![
        (
            Case::new("one key, our secret")
                .props(json!({"DisableAccessKeys": "true"}))
                .expect(vec![
                    Change::DeleteKey(sv(KEY)),
                    Change::DeleteSecret(sv(SECRET_ARN)),
                    untag.clone(),
                ]),
            Some(Change::DeleteSecret(sv(SECRET_ARN))),
        ),
        (
            Case::new("two keys, our secret")
                .props(json!({"DisableAccessKeys": "true"}))
                .user(|u| u.keys.push(key(STRAY, false)))
                .expect(vec![
                    Change::DeleteKey(sv(KEY)),
                    Change::DeleteKey(sv(STRAY)),
                    Change::DeleteSecret(sv(SECRET_ARN)),
                    untag.clone(),
                ]),
            Some(Change::DeleteSecret(sv(SECRET_ARN))),
        ),
        (
            Case::new("our secret, but written for another user")
                .props(json!({"DisableAccessKeys": "true"}))
                .secret(|s| set_tag(&mut s.tags, TAG_USER_NAME, "someone-else"))
                .expect(vec![Change::DeleteKey(sv(KEY)), untag.clone()]),
            None,
        ),
        (
            Case::new("secret of another stack is left alone (and is no error)")
                .props(json!({"DisableAccessKeys": "true"}))
                .secret(|s| set_tag(&mut s.tags, TAG_STACK, OTHER_STACK))
                .expect(vec![Change::DeleteKey(sv(KEY)), untag.clone()]),
            None,
        ),
        (
            Case::new("secret without any tag is left alone")
                .props(json!({"DisableAccessKeys": "true"}))
                .secret(|s| s.tags.clear())
                .expect(vec![Change::DeleteKey(sv(KEY)), untag.clone()]),
            None,
        ),
        (
            Case::new("the user's tag names a previous secret of ours")
                .props(json!({"DisableAccessKeys": "true"}))
                .user(|u| set_tag(&mut u.tags, TAG_SECRET_NAME, "old/name"))
                .no_secret()
                .previous(old.clone())
                .expect(vec![
                    Change::DeleteKey(sv(KEY)),
                    Change::DeleteSecret(old.arn.clone()),
                    untag.clone(),
                ]),
            Some(Change::DeleteSecret(old.arn.clone())),
        ),
        (
            Case::new("a previous secret written for another user is left alone")
                .props(json!({"DisableAccessKeys": "true"}))
                .user(|u| set_tag(&mut u.tags, TAG_SECRET_NAME, "old/name"))
                .no_secret()
                .previous(owned_secret("old/name", "someone-else", Some(KEY)))
                .expect(vec![Change::DeleteKey(sv(KEY)), untag.clone()]),
            None,
        ),
    ];
    for (c, delete_secret) in cases {
        let p = c.run();
        let keys: Vec<Change> = p
            .changes()
            .filter(|c| matches!(c, Change::DeleteKey(_)))
            .cloned()
            .collect();
        for k in &keys {
            assert_deps(c.name, &p, k, &[]);
        }
        if let Some(d) = delete_secret {
            let before: Vec<&Change> = keys.iter().collect();
            assert_deps(c.name, &p, &d, &before);
        }
    }
}

#[test]
fn changing_secret_name_moves_the_key_then_removes_the_old_secret() {
    let new_name = json!({"SecretName": NEW_SECRET});
    let retag_user = Change::TagUser(vec![t(TAG_SECRET_NAME, NEW_SECRET)]);
    let issue = issue_create(NEW_SECRET, secret_tags("1"));

    let c = Case::new("SecretName changed")
        .props(new_name.clone())
        .no_secret()
        .previous(observed_secret())
        .expect(vec![
            retag_user.clone(),
            issue.clone(),
            Change::DeleteKey(sv(KEY)),
            Change::DeleteSecret(sv(SECRET_ARN)),
        ]);
    let p = c.run();
    assert_deps(c.name, &p, &issue, &[]);
    assert_deps(c.name, &p, &Change::DeleteKey(sv(KEY)), &[&issue]);
    assert_deps(
        c.name,
        &p,
        &Change::DeleteSecret(sv(SECRET_ARN)),
        &[&Change::DeleteKey(sv(KEY))],
    );

    let c = Case::new("SecretName changed with a stray key")
        .props(new_name.clone())
        .user(|u| u.keys.push(key(STRAY, true)))
        .no_secret()
        .previous(observed_secret())
        .expect(vec![
            retag_user.clone(),
            Change::DeleteKey(sv(STRAY)),
            issue.clone(),
            Change::DeleteKey(sv(KEY)),
            Change::DeleteSecret(sv(SECRET_ARN)),
        ]);
    let p = c.run();
    assert_deps(c.name, &p, &issue, &[&Change::DeleteKey(sv(STRAY))]);
    assert_deps(c.name, &p, &Change::DeleteKey(sv(KEY)), &[&issue]);
    assert_deps(
        c.name,
        &p,
        &Change::DeleteSecret(sv(SECRET_ARN)),
        &[&Change::DeleteKey(sv(KEY))],
    );

    // A previous secret that is not ours (or not for this user) is never deleted, and
    // its key gets no grace period.
    for (name, prev) in [
        (
            "previous secret of another stack",
            secret_with(|s| set_tag(&mut s.tags, TAG_STACK, OTHER_STACK)),
        ),
        (
            "previous secret written for another user",
            secret_with(|s| set_tag(&mut s.tags, TAG_USER_NAME, "someone-else")),
        ),
    ] {
        let c = Case {
            name,
            ..Case::new("")
                .props(new_name.clone())
                .no_secret()
                .previous(prev)
                .expect(vec![
                    retag_user.clone(),
                    Change::DeleteKey(sv(KEY)),
                    issue.clone(),
                ])
        };
        let p = c.run();
        assert_deps(c.name, &p, &issue, &[&Change::DeleteKey(sv(KEY))]);
    }
}

// ---------------------------------------------------------------------------------------
// Secret metadata
// ---------------------------------------------------------------------------------------

#[test]
fn secret_metadata_converges_after_any_new_value() {
    // Without a new key: user and secret retagged, independently.
    let c = Case::new("template tag value changed")
        .props(json!({"Tags": [{"Key": "team", "Value": "platform"}]}))
        .expect(vec![
            Change::TagUser(vec![t("team", "platform")]),
            tag_secret(vec![t("team", "platform")]),
        ]);
    let p = c.run();
    assert!(p.steps.iter().all(|s| s.after.is_empty()), "{p:#?}");

    let c = Case::new("template tag removed")
        .props(json!({"Tags": null}))
        .expect(vec![
            Change::UntagUser(vec![sv("team")]),
            Change::UntagSecret {
                secret_id: sv(SECRET_ARN),
                keys: vec![sv("team")],
            },
        ]);
    c.run();

    // With a rotation: every secret metadata change waits for the new value.
    let c = Case::new("tag change, KMS change and rotation together")
        .props(json!({
            "Tags": [{"Key": "team", "Value": "platform"}],
            "KeySerial": "2",
            "SecretKmsKeyId": "alias/app"
        }))
        .secret(|s| s.tags.push(t("stale", "yes")))
        .expect(vec![
            Change::TagUser(vec![t("team", "platform")]),
            rotate(),
            Change::UntagSecret {
                secret_id: sv(SECRET_ARN),
                keys: vec![sv("stale")],
            },
            tag_secret(vec![t("team", "platform"), t(TAG_KEY_SERIAL, "2")]),
            Change::SetSecretKms {
                secret_id: sv(SECRET_ARN),
                kms_key_id: sv("alias/app"),
            },
        ]);
    let p = c.run();
    let untag = Change::UntagSecret {
        secret_id: sv(SECRET_ARN),
        keys: vec![sv("stale")],
    };
    assert_deps(c.name, &p, &untag, &[&rotate()]);
    assert_deps(
        c.name,
        &p,
        &tag_secret(vec![t("team", "platform"), t(TAG_KEY_SERIAL, "2")]),
        &[&rotate(), &untag],
    );
    assert_deps(
        c.name,
        &p,
        &Change::SetSecretKms {
            secret_id: sv(SECRET_ARN),
            kms_key_id: sv("alias/app"),
        },
        &[&rotate()],
    );
    assert_deps(
        c.name,
        &p,
        &Change::TagUser(vec![t("team", "platform")]),
        &[],
    );

    // Restoring a secret pending deletion: tagging it must wait for the restore.
    let c = Case::new("pending deletion and a tag change")
        .props(json!({"Tags": [{"Key": "team", "Value": "platform"}]}))
        .user(|u| u.keys.clear())
        .secret(|s| s.pending_deletion = true)
        .expect(vec![
            Change::TagUser(vec![t("team", "platform")]),
            issue_put(true),
            tag_secret(vec![t("team", "platform")]),
        ]);
    let p = c.run();
    assert_deps(
        c.name,
        &p,
        &tag_secret(vec![t("team", "platform")]),
        &[&issue_put(true)],
    );
}

/// DescribeSecret omits KmsKeyId for a secret on the AWS managed key, so a template that
/// names that key explicitly is converged when the secret reports none.
#[test]
fn explicit_default_kms_key_converges() {
    for observed in [
        None,
        Some(sv(DEFAULT_KMS)),
        Some(sv(
            "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager",
        )),
    ] {
        let c = Case::new("SecretKmsKeyId: alias/aws/secretsmanager")
            .props(json!({"SecretKmsKeyId": DEFAULT_KMS}))
            .secret(|s| s.kms_key_id = observed.clone());
        let p = c.run();
        assert!(p.is_empty(), "observed {observed:?}: {p:#?}");
    }
}

/// Secrets Manager allows 50 tags per secret, and the secret carries four tags of its
/// own (stack, logical id, user name, key serial); validation reserves only three.
#[test]
fn secret_tags_fit_the_secrets_manager_limit() {
    // The most template tags validation accepts, whatever constant it uses.
    let spec = (0..=50usize)
        .rev()
        .find_map(|n| {
            let tags: Vec<Value> = (0..n)
                .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
                .collect();
            crate::spec::parse(&props(json!({ "Tags": tags })), None).ok()
        })
        .expect("some number of tags is accepted");
    assert!(desired_user_tags(&spec, &owner(), None).len() <= 50);
    let p = plan(&spec, &owner(), None, Secrets::default()).unwrap();
    let Some(Change::IssueKey {
        store: Store::Create { tags, .. },
        ..
    }) = p.changes().find(|c| matches!(c, Change::IssueKey { .. }))
    else {
        panic!("no IssueKey with Store::Create: {p:#?}");
    };
    assert!(
        tags.len() <= 50,
        "the new secret would carry {} tags",
        tags.len()
    );
}

// ---------------------------------------------------------------------------------------
// Ownership
// ---------------------------------------------------------------------------------------

#[test]
fn refuses_to_plan_for_a_user_or_secret_it_does_not_own() {
    let user_not_owned = vec![
        Case::new("user tagged for another stack")
            .user(|u| set_tag(&mut u.tags, TAG_STACK, OTHER_STACK)),
        Case::new("user tagged for another logical id in this stack")
            .user(|u| set_tag(&mut u.tags, TAG_LOGICAL, "OtherUser")),
        Case::new("user without any ownership tag")
            .user(|u| u.tags.retain(|(k, _)| !k.starts_with("planton:"))),
        Case::new("user with only the stack tag")
            .user(|u| u.tags.retain(|(k, _)| k != TAG_LOGICAL)),
        Case::new("user without tags, keys disabled")
            .props(json!({"DisableAccessKeys": "true"}))
            .user(|u| u.tags.clear()),
        Case::new("user and secret both foreign")
            .user(|u| u.tags.clear())
            .secret(|s| s.tags.clear()),
    ];
    for c in user_not_owned {
        match c.result() {
            Err(NotOwned::User { user }) => assert_eq!(user, USER, "case {:?}", c.name),
            other => panic!("case {:?}: want UserNotOwned, got {other:?}", c.name),
        }
    }

    let secret_not_owned = vec![
        Case::new("secret tagged for another stack")
            .secret(|s| set_tag(&mut s.tags, TAG_STACK, OTHER_STACK)),
        Case::new("secret tagged for another logical id")
            .secret(|s| set_tag(&mut s.tags, TAG_LOGICAL, "OtherUser")),
        Case::new("secret without tags").secret(|s| s.tags.clear()),
        Case::new("foreign secret on Create")
            .no_user()
            .secret(|s| s.tags.clear()),
        Case::new("foreign secret pending deletion").secret(|s| {
            s.tags.clear();
            s.pending_deletion = true;
        }),
    ];
    for c in secret_not_owned {
        match c.result() {
            Err(NotOwned::Secret { name }) => assert_eq!(name, SECRET, "case {:?}", c.name),
            other => panic!("case {:?}: want SecretNotOwned, got {other:?}", c.name),
        }
    }
}

#[test]
fn ownership_tags_are_matched_case_insensitively() {
    // IAM tag keys are case-insensitive: the user is ours; the keys' case is repaired.
    let c = Case::new("ownership tag keys in another case")
        .user(|u| {
            u.tags = vec![
                t("team", "core"),
                t("Planton:Stack-Id", STACK),
                t(TAG_LOGICAL, LOGICAL),
                t(TAG_SECRET_NAME, SECRET),
            ]
        })
        .expect(vec![
            Change::UntagUser(vec![sv("Planton:Stack-Id")]),
            Change::TagUser(vec![t(TAG_STACK, STACK)]),
        ]);
    let p = c.run();
    assert_deps(
        c.name,
        &p,
        &Change::TagUser(vec![t(TAG_STACK, STACK)]),
        &[&Change::UntagUser(vec![sv("Planton:Stack-Id")])],
    );
}

// ---------------------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------------------

fn full_user() -> ObservedUser {
    user_with(|u| {
        u.keys = vec![key(KEY, true), key(STRAY, false)];
        u.inline = BTreeMap::from([(sv("a"), Value::Null), (sv("b"), Value::Null)]);
        u.managed = [sv(RO)].into_iter().collect();
        u.groups = vec![sv("devs"), sv("ops")];
        u.extras = Extras {
            login_profile: true,
            mfa_devices: vec![sv("arn:aws:iam::123456789012:mfa/svc-app")],
            signing_certificates: vec![sv("CERT1")],
            ssh_public_keys: vec![sv("APKASSH1")],
            service_credentials: vec![sv("ACCASVC1")],
        };
    })
}

#[test]
fn delete_removes_everything_blocking_delete_user_then_the_user_and_our_secret() {
    let other_user_secret = owned_secret("planton/iam-user/someone-else", "someone-else", None);
    let foreign = secret_with(|s| {
        s.arn = sv("arn:aws:secretsmanager:us-east-1:123456789012:secret:foreign-Q1w2E3");
        set_tag(&mut s.tags, TAG_STACK, OTHER_STACK);
    });
    let secrets = vec![observed_secret(), other_user_secret, foreign];
    let p = plan_delete(&owner(), USER, Some(&full_user()), &secrets, None);
    let name = "full user";
    assert_well_formed(name, &p);
    let removals = vec![
        Change::DeleteKey(sv(KEY)),
        Change::DeleteKey(sv(STRAY)),
        Change::DeleteLoginProfile,
        Change::DeactivateMfa(sv("arn:aws:iam::123456789012:mfa/svc-app")),
        Change::DeleteSigningCertificate(sv("CERT1")),
        Change::DeleteSshPublicKey(sv("APKASSH1")),
        Change::DeleteServiceCredential(sv("ACCASVC1")),
        Change::DeleteInlinePolicy(sv("a")),
        Change::DeleteInlinePolicy(sv("b")),
        Change::DetachPolicy(sv(RO)),
        Change::RemoveFromGroup(sv("devs")),
        Change::RemoveFromGroup(sv("ops")),
    ];
    let mut all = removals.clone();
    all.push(Change::DeleteUser);
    all.push(Change::DeleteSecret(sv(SECRET_ARN)));
    assert_changes(name, &p, &all);
    for r in &removals {
        assert_deps(name, &p, r, &[]);
    }
    let before_user: Vec<&Change> = removals.iter().collect();
    assert_deps(name, &p, &Change::DeleteUser, &before_user);
    assert_deps(
        name,
        &p,
        &Change::DeleteSecret(sv(SECRET_ARN)),
        &[&Change::DeleteKey(sv(KEY)), &Change::DeleteKey(sv(STRAY))],
    );
    // Removal (1), then DeleteUser and DeleteSecret side by side (1).
    assert_eq!(p.depth(), 2);
}

#[test]
fn delete_touches_only_what_this_resource_owns() {
    let other_user_secret = owned_secret("planton/iam-user/someone-else", "someone-else", None);
    let foreign = secret_with(|s| set_tag(&mut s.tags, TAG_STACK, OTHER_STACK));
    let untagged = secret_with(|s| s.tags.clear());
    let not_owned_user = user_with(|u| set_tag(&mut u.tags, TAG_STACK, OTHER_STACK));
    let bare_user = user_with(|u| {
        u.keys.clear();
        u.inline.clear();
        u.managed.clear();
        u.groups.clear();
    });
    type DeleteCase = (
        &'static str,
        Option<ObservedUser>,
        Vec<ObservedSecret>,
        Vec<Change>,
    );
    let cases: Vec<DeleteCase> = vec![
        (
            "user not owned: only our secret for it goes",
            Some(not_owned_user.clone()),
            vec![observed_secret()],
            vec![Change::DeleteSecret(sv(SECRET_ARN))],
        ),
        (
            "user not owned and no secret of ours: nothing",
            Some(not_owned_user),
            vec![foreign.clone()],
            vec![],
        ),
        (
            "user without ownership tags: nothing",
            Some(user_with(|u| u.tags.clear())),
            vec![],
            vec![],
        ),
        (
            "user gone: only our secrets",
            None,
            vec![observed_secret(), other_user_secret.clone()],
            vec![Change::DeleteSecret(sv(SECRET_ARN))],
        ),
        ("user gone, nothing left", None, vec![], vec![]),
        (
            "the same secret observed twice is deleted once",
            None,
            vec![observed_secret(), observed_secret()],
            vec![Change::DeleteSecret(sv(SECRET_ARN))],
        ),
        (
            "secrets of another stack, another user or without tags are untouched",
            None,
            vec![foreign, other_user_secret, untagged],
            vec![],
        ),
        (
            "owned user with nothing attached: DeleteUser alone",
            Some(bare_user),
            vec![],
            vec![Change::DeleteUser],
        ),
        (
            "pending-deletion secret of ours is still removed",
            None,
            vec![secret_with(|s| s.pending_deletion = true)],
            vec![Change::DeleteSecret(sv(SECRET_ARN))],
        ),
    ];
    for (name, user, secrets, expect) in cases {
        let p = plan_delete(&owner(), USER, user.as_ref(), &secrets, None);
        assert_well_formed(name, &p);
        assert_changes(name, &p, &expect);
        assert!(
            p.steps.iter().all(|s| s.after.is_empty()),
            "case {name:?}: nothing to wait for: {p:#?}"
        );
    }
}

#[test]
fn delete_secret_of_an_owned_user_waits_for_key_deletion_but_not_for_delete_user() {
    let p = plan_delete(
        &owner(),
        USER,
        Some(&observed_user()),
        &[observed_secret()],
        None,
    );
    let name = "owned user with one key";
    let del_secret = step(name, &p, &Change::DeleteSecret(sv(SECRET_ARN)));
    let del_key = step(name, &p, &Change::DeleteKey(sv(KEY)));
    let del_user = step(name, &p, &Change::DeleteUser);
    assert!(waits_for(&p, del_secret, del_key));
    assert!(!waits_for(&p, del_secret, del_user));
    assert!(waits_for(&p, del_user, del_key));
}

#[test]
fn the_deployed_record_follows_the_template_not_the_drift() {
    let base = parse_spec(&base_props());
    let record = |p: &Plan| -> Vec<String> {
        p.changes()
            .filter_map(|c| match c {
                Change::CreateUser { tags, .. } | Change::TagUser(tags) => Some(tags),
                _ => None,
            })
            .flatten()
            .filter(|(k, _)| k == TAG_DEPLOYED)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let sec = observed_secret();
    let secrets = |s| Secrets {
        desired: Some(s),
        previous: None,
        rotation_function: None,
        grace: Grace::default(),
        adoption: None,
    };

    let created = plan(&base, &owner(), None, Secrets::default()).unwrap();
    assert_eq!(record(&created), vec![deployed_of(&base_props())]);

    let converged = plan(&base, &owner(), Some(&observed_user()), secrets(&sec)).unwrap();
    assert!(converged.is_empty(), "{converged:#?}");

    let changed_props = props(json!({"Path": "/other/"}));
    let changed = parse_spec(&changed_props);
    let p = plan(&changed, &owner(), Some(&observed_user()), secrets(&sec)).unwrap();
    assert_eq!(record(&p), vec![deployed_of(&changed_props)]);
    assert_ne!(deployed_of(&changed_props), deployed_of(&base_props()));

    // A policy attached by hand: the template did not change, so neither does the record.
    let drifted = user_with(|u| {
        u.managed.insert(sv("arn:aws:iam::aws:policy/Extra"));
    });
    let p = plan(&base, &owner(), Some(&drifted), secrets(&sec)).unwrap();
    assert_eq!(p.changes().count(), 1, "{p:#?}");
    assert!(record(&p).is_empty());
}

/// The template's role may write a user's policies only while the user carries the
/// required boundary (its iam:PermissionsBoundary condition): an Update that puts the
/// boundary on and changes policies puts it on first, and a Delete of a user made before
/// the boundary was required puts it on before it removes the policies.
#[test]
fn a_boundary_being_put_on_comes_before_every_policy_write() {
    let case =
        Case::new("boundary missing, and a policy added, one removed, an inline one changed")
            .user(|u| {
                u.boundary = None;
                u.managed.insert(sv(OTHER_POLICY));
            })
            .props(
                json!({"InlinePolicies": {"s3-read": {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}}}),
            );
    let p = case.result().unwrap();
    assert_well_formed(case.name, &p);
    let put = Change::PutBoundary(sv(BOUNDARY));
    let policy_writes: Vec<&Change> = p
        .steps
        .iter()
        .map(|s| &s.change)
        .filter(|c| {
            matches!(
                c,
                Change::AttachPolicy(_)
                    | Change::DetachPolicy(_)
                    | Change::PutInlinePolicy { .. }
                    | Change::DeleteInlinePolicy(_)
            )
        })
        .collect();
    assert!(policy_writes.len() >= 2, "{:?}", p.steps);
    let put_at = step(case.name, &p, &put);
    for c in policy_writes {
        assert!(
            waits_for(&p, step(case.name, &p, c), put_at),
            "{c:?} waits for {put:?}"
        );
    }

    let p = plan_delete(&owner(), USER, Some(&full_user()), &[], Some(OTHER_POLICY));
    assert_well_formed("delete", &p);
    let put = Change::PutBoundary(sv(OTHER_POLICY));
    for c in [
        Change::DeleteInlinePolicy(sv("a")),
        Change::DeleteInlinePolicy(sv("b")),
        Change::DetachPolicy(sv(RO)),
    ] {
        assert_deps("delete", &p, &c, &[&put]);
    }
    // A user already carrying it needs no step.
    let p = plan_delete(&owner(), USER, Some(&full_user()), &[], Some(BOUNDARY));
    assert!(!p
        .steps
        .iter()
        .any(|s| matches!(s.change, Change::PutBoundary(_))));
}

#[test]
fn a_secret_without_its_key_record_gets_one_unless_a_new_value_writes_it() {
    const V: &str = "11111111-1111-1111-1111-111111111111";
    let unrecorded = |s: &mut ObservedSecret| {
        s.description = "Access key of IAM user u".into();
        s.key_versions = [(V.to_string(), KEY.to_string())].into();
        s.key_ids_recorded = false;
    };
    let u = observed_user();
    let spec = parse_spec(&base_props());
    let sec = secret_with(unrecorded);
    let p = plan(
        &spec,
        &owner(),
        Some(&u),
        Secrets {
            desired: Some(&sec),
            ..Secrets::default()
        },
    )
    .unwrap();
    let recorded: Vec<&Change> = p
        .steps
        .iter()
        .map(|s| &s.change)
        .filter(|c| matches!(c, Change::RecordKeyIds { .. }))
        .collect();
    assert_eq!(recorded.len(), 1, "{:?}", p.steps);
    assert_eq!(
        recorded[0],
        &Change::RecordKeyIds {
            secret_id: SECRET_ARN.into(),
            key_versions: vec![(V.into(), KEY.into())],
            grace_hours: None,
        }
    );
    // Recorded already: nothing to write.
    let sec = secret_with(|s| {
        unrecorded(s);
        s.key_ids_recorded = true;
    });
    let p = plan(
        &spec,
        &owner(),
        Some(&u),
        Secrets {
            desired: Some(&sec),
            ..Secrets::default()
        },
    )
    .unwrap();
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s.change, Change::RecordKeyIds { .. })),
        "{:?}",
        p.steps
    );
}
