//! The harness every end-to-end test shares: one strict emulator per run (moto in
//! server mode, patched to refuse what AWS refuses), the two profiles a scenario runs
//! under (straight to the emulator, or through a fault-injecting proxy of the test's
//! own), a local listener standing in for the presigned ResponseURL, and helpers that
//! drive the real handler with CloudFormation-shaped events.
//!
//! Nothing here is process-wide but the emulator and the environment it is announced
//! in (set once, when it starts): each test builds its own apps, listeners and proxies,
//! and a profile's user names carry the profile's tag, so every test can run alongside
//! every other.

use crate::support::fault_proxy::{FaultConfig, FaultProxy};
use crate::support::{Captured, CfnListener, Emulator};
use planton_iam_user::app::App;
use planton_iam_user::entry as handler;
use planton_iam_user::settings::Settings;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const CREATE: &str = include_str!("../../events/create.json");
pub const UPDATE: &str = include_str!("../../events/update.json");
pub const DELETE: &str = include_str!("../../events/delete.json");

pub const STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/test-stack/11111111-2222-3333-4444-555555555555";
pub const OTHER_STACK: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/other-stack/99999999-2222-3333-4444-555555555555";

static EMULATOR: OnceLock<Emulator> = OnceLock::new();

/// The strict emulator, started on first use and shared by every test in this run. Its
/// standard SDK configuration (endpoint, credentials, region) is put in the environment
/// once, here, before any test reads it: the direct profile's app reads it as `main`
/// does, and nothing changes it afterwards. The emulator exits by itself when this
/// process ends (its stdin closes), so no run leaves a server behind.
pub fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(|| {
        let emu = Emulator::start(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        for (k, v) in emu.env() {
            std::env::set_var(k, v);
        }
        std::env::remove_var("AWS_PROFILE");
        emu
    })
}

pub fn emulator_url() -> &'static str {
    &emulator().url
}

/// The two ways a scenario reaches AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Straight to the emulator, with the app exactly as `main` builds it.
    Direct,
    /// Through a fault-injecting proxy of the test's own: [`Profile::faults`].
    Faulty,
}

impl Profile {
    /// What the faulty profile's proxy injects: 30% of IAM calls throttled, 5% of all
    /// calls answered HTTP 500, 20 ms added to every call. Every scenario must still end
    /// in the right state with one answer per event.
    pub fn faults() -> FaultConfig {
        FaultConfig {
            latency: Duration::from_millis(20),
            iam_throttle_rate: 0.3,
            error_500_rate: 0.05,
            ..FaultConfig::default()
        }
    }

    /// The tag that keeps this profile's names apart from the other's.
    pub fn tag(self) -> &'static str {
        match self {
            Profile::Direct => "direct",
            Profile::Faulty => "faulty",
        }
    }
}

/// One test's way to AWS: its profile and, for the faulty one, its own proxy (so its
/// faults and statistics are nobody else's).
pub struct Harness {
    pub profile: Profile,
    proxy: Option<FaultProxy>,
}

impl Harness {
    /// `Direct`: no proxy. `Faulty`: a new proxy injecting [`Profile::faults`].
    pub fn new(profile: Profile) -> Harness {
        match profile {
            Profile::Direct => Harness {
                profile,
                proxy: None,
            },
            Profile::Faulty => Harness::with_faults(Profile::faults()),
        }
    }

    /// The faulty profile with a proxy of its own injecting `faults`, which the test may
    /// change at any time through [`Harness::proxy`].
    pub fn with_faults(faults: FaultConfig) -> Harness {
        let proxy = FaultProxy::start(emulator_url());
        proxy.set(faults);
        Harness {
            profile: Profile::Faulty,
            proxy: Some(proxy),
        }
    }

    /// This test's fault proxy; panics under the direct profile, which has none.
    #[track_caller]
    pub fn proxy(&self) -> &FaultProxy {
        self.proxy
            .as_ref()
            .expect("the direct profile has no fault proxy")
    }

    /// `base` with this profile's tag (`lc-minimal` -> `lc-minimal-faulty`): the two
    /// profiles share one emulator, so each scenario's names must be its own. IAM
    /// allows 64 characters in a user name; the tag takes 7 of them.
    pub fn name(&self, base: &str) -> String {
        let name = format!("{base}-{}", self.profile.tag());
        assert!(name.len() <= 64, "{name} is longer than IAM allows");
        name
    }

    /// The app this test's function runs as. Direct: exactly as `main` builds it, from
    /// the environment. Faulty: the same policy, pointed at this test's proxy.
    pub async fn app(&self) -> App {
        match &self.proxy {
            None => app().await,
            Some(proxy) => App::from_config(
                &sdk_config_with_endpoint_url(&proxy.url()).await,
                settings(),
            )
            .expect("app"),
        }
    }

    pub async fn cfn(&self, logical_id: &str) -> Cfn {
        self.cfn_with_stack(STACK, logical_id).await
    }

    /// A driver on `stack_id`, or under the faulty profile on the same stack name with
    /// `-faulty` added: both profiles run the same scenarios at once, and CloudFormation
    /// (the emulator's model) keeps one state per stack and logical id.
    pub async fn cfn_with_stack(&self, stack_id: &str, logical_id: &str) -> Cfn {
        Cfn::with_app(self.app().await, &self.stack(stack_id), logical_id).await
    }

    /// `stack_id` as this profile's scenarios use it.
    pub fn stack(&self, stack_id: &str) -> String {
        match self.profile {
            Profile::Direct => stack_id.to_string(),
            Profile::Faulty => {
                let (head, rest) = stack_id.split_once(":stack/").expect("a stack ARN");
                let (name, id) = rest.split_once('/').expect("a stack ARN");
                format!("{head}:stack/{name}-faulty/{id}")
            }
        }
    }
}

/// The standard SDK configuration exactly as the function loads it
/// (`aws::clients::loader`: its retry and timeout policy), pointed at `url` instead of
/// `AWS_ENDPOINT_URL`. Credentials and region come from the environment set at the
/// emulator's start.
pub async fn sdk_config_with_endpoint_url(url: &str) -> aws_config::SdkConfig {
    emulator();
    planton_iam_user::aws::clients::loader()
        .endpoint_url(url)
        .load()
        .await
}

/// The app exactly as `main` builds it, from the environment (which points straight at
/// the emulator), with the default settings.
pub async fn app() -> App {
    emulator();
    let mut app = App::from_env().await.expect("app");
    app.settings = settings();
    app
}

/// The default settings (requests verified against CloudFormation, here the emulator's
/// model, which [`Cfn::send_with`] sets around every genuine request), plus what a local
/// run needs: the answer goes to the test's listener on loopback
/// (PLANTON_RESPONSE_URL_PREFIXES).
pub fn settings() -> Settings {
    Settings {
        response_url_prefixes: vec![planton_iam_user::settings::UrlPrefix::parse(
            "http://127.0.0.1:",
        )
        .unwrap()],
        ..Settings::default()
    }
}

/// Test-side clients for arranging and inspecting state: straight to the emulator,
/// never through a fault proxy.
pub async fn aws() -> (aws_sdk_iam::Client, aws_sdk_secretsmanager::Client) {
    let direct = emulator_url();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(direct)
        .load()
        .await;
    (
        aws_sdk_iam::Client::new(&conf),
        aws_sdk_secretsmanager::Client::new(&conf),
    )
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// The function's own ARN, as Lambda tells it in every invocation's context.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user";

/// An invocation context as Lambda gives it: the function's ARN, no known deadline.
pub fn context() -> lambda_runtime::Context {
    let mut ctx = lambda_runtime::Context::default();
    ctx.invoked_function_arn = FUNCTION_ARN.to_string();
    ctx
}

/// A default invocation context whose Lambda deadline is `secs` from now.
pub fn deadline_in(secs: u64) -> lambda_runtime::Context {
    let mut ctx = lambda_runtime::Context::default();
    ctx.deadline = (std::time::SystemTime::now() + std::time::Duration::from_secs(secs))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    ctx
}

/// The benchmark's shape of user (examples/bench.rs builds the same): 6 AWS managed
/// policies, 3 inline policies and 2 groups, so a Create has 12 calls after CreateUser.
pub fn wide_user(name: &str, groups: [&str; 2]) -> Value {
    let managed: Vec<String> = [
        "AmazonS3ReadOnlyAccess",
        "AmazonSQSReadOnlyAccess",
        "AmazonSNSReadOnlyAccess",
        "AmazonDynamoDBReadOnlyAccess",
        "AmazonEC2ReadOnlyAccess",
        "CloudWatchReadOnlyAccess",
    ]
    .iter()
    .map(|p| format!("arn:aws:iam::aws:policy/{p}"))
    .collect();
    let doc = |a: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": a, "Resource": "*"}]});
    json!({
        "UserName": name,
        "ManagedPolicyArns": managed,
        "InlinePolicies": {"logs": doc("logs:PutLogEvents"), "sqs": doc("sqs:SendMessage"), "sns": doc("sns:Publish")},
        "Groups": groups,
    })
}

/// One CloudFormation-shaped request builder and driver.
pub struct Cfn {
    pub app: App,
    pub listener: CfnListener,
    pub stack_id: String,
    pub logical_id: String,
    /// Every response body this driver received, for the leak checks.
    pub bodies: Mutex<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub raw: String,
    pub json: Value,
    /// What the invocation returned after answering (checked to be `Ok` by `send_with`).
    #[allow(dead_code)]
    pub lambda_result: Result<Value, String>,
}

impl Response {
    pub fn status(&self) -> &str {
        self.json["Status"].as_str().unwrap_or("")
    }
    pub fn reason(&self) -> &str {
        self.json["Reason"].as_str().unwrap_or("")
    }
    pub fn physical_id(&self) -> &str {
        self.json["PhysicalResourceId"].as_str().unwrap_or("")
    }
    pub fn data(&self, k: &str) -> Option<&str> {
        self.json["Data"][k].as_str()
    }
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert_eq!(
            self.status(),
            "SUCCESS",
            "expected SUCCESS, got {}",
            self.raw
        );
        self
    }
    #[track_caller]
    pub fn assert_failed(&self, needles: &[&str]) -> &Self {
        assert_eq!(self.status(), "FAILED", "expected FAILED, got {}", self.raw);
        for n in needles {
            assert!(
                self.reason().contains(n),
                "Reason should mention {n:?}: {}",
                self.reason()
            );
        }
        self
    }
}

impl Cfn {
    /// A driver under the direct profile, for the tests that only run straight to the
    /// emulator.
    pub async fn new(logical_id: &str) -> Self {
        Cfn::with_app(app().await, STACK, logical_id).await
    }

    pub async fn with_app(app: App, stack_id: &str, logical_id: &str) -> Self {
        Cfn {
            app,
            listener: CfnListener::start().await,
            stack_id: stack_id.to_string(),
            logical_id: logical_id.to_string(),
            bodies: Mutex::new(Vec::new()),
        }
    }

    pub fn event(
        &self,
        request_type: &str,
        physical_id: Option<&str>,
        props: Value,
        old_props: Option<Value>,
    ) -> Value {
        let mut e = json!({
            "RequestType": request_type,
            "RequestId": format!("req-{}", NEXT.fetch_add(1, Ordering::SeqCst)),
            "ResponseURL": "placeholder",
            "StackId": self.stack_id,
            "LogicalResourceId": self.logical_id,
            "ResourceType": "Custom::PlantonIamUser",
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:planton-iam-user",
            "ResourceProperties": props,
        });
        if let Some(p) = physical_id {
            e["PhysicalResourceId"] = json!(p);
        }
        if let Some(o) = old_props {
            e["OldResourceProperties"] = o;
        }
        e
    }

    pub async fn create(&self, props: Value) -> Response {
        self.send(self.event("Create", None, props, None)).await
    }

    pub async fn update(&self, physical_id: &str, props: Value, old: Value) -> Response {
        self.send(self.event("Update", Some(physical_id), props, Some(old)))
            .await
    }

    pub async fn delete(&self, physical_id: &str, props: Value) -> Response {
        self.send(self.event("Delete", Some(physical_id), props, None))
            .await
    }

    /// Sends one event through the real handler and returns the one answer it PUT.
    /// Fails the test unless exactly one PUT arrived, with an empty Content-Type and a
    /// body of at most 4096 bytes echoing the request's ids.
    pub async fn send(&self, event: Value) -> Response {
        self.send_with(event, context()).await
    }

    /// Sends a raw event text exactly as Lambda would deliver it (it may not even parse
    /// into a `serde_json::Value`). Every occurrence of `RESPONSE_URL` in the text is
    /// replaced by a fresh local ResponseURL. Returns the invocation's result and the
    /// answers PUT for it (none when the event had no usable ResponseURL).
    pub async fn send_raw(&self, text: &str) -> (Result<Value, String>, Vec<Captured>) {
        let id = format!("r{}", NEXT.fetch_add(1, Ordering::SeqCst));
        let text = text.replace("RESPONSE_URL", &self.listener.url(&id));
        if let Ok(event) = serde_json::from_str::<Value>(&text) {
            crate::support::cloudformation_is_waiting_for(emulator_url(), &event).await;
        }
        let raw = serde_json::value::RawValue::from_string(text).expect("the event is JSON");
        let result = handler::handle(&self.app, lambda_runtime::LambdaEvent::new(raw, context()))
            .await
            .map_err(|e| e.to_string());
        let puts = self.listener.requests_for(&id);
        for p in &puts {
            self.bodies
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&p.body).into_owned());
        }
        (result, puts)
    }

    /// [`Cfn::send`] with a chosen invocation context (a deadline). CloudFormation is
    /// shown waiting for this request first, as it is for every genuine one.
    pub async fn send_with(&self, event: Value, ctx: lambda_runtime::Context) -> Response {
        crate::support::cloudformation_is_waiting_for(emulator_url(), &event).await;
        self.send_unannounced(event, ctx).await
    }

    /// Sends `event` without telling CloudFormation (the emulator's model) anything: a
    /// forged request, or one whose stack state the test set itself.
    pub async fn send_unannounced(
        &self,
        mut event: Value,
        ctx: lambda_runtime::Context,
    ) -> Response {
        let id = format!("r{}", NEXT.fetch_add(1, Ordering::SeqCst));
        event["ResponseURL"] = json!(self.listener.url(&id));
        let result = handler::handle_value(&self.app, event.clone(), ctx)
            .await
            .map_err(|e| e.to_string());
        let puts = self.listener.requests_for(&id);
        assert_eq!(
            puts.len(),
            1,
            "exactly one answer per event, got {}",
            puts.len()
        );
        let put = &puts[0];
        assert_eq!(put.method, "PUT");
        assert_eq!(
            put.header("content-type"),
            Some(""),
            "Content-Type must be present and empty: {:?}",
            put.headers
        );
        assert_eq!(
            put.header("content-length")
                .and_then(|v| v.parse::<usize>().ok()),
            Some(put.body.len())
        );
        assert!(put.body.len() <= 4096, "body is {} bytes", put.body.len());
        let raw = String::from_utf8(put.body.clone()).expect("utf-8 body");
        let json: Value = serde_json::from_str(&raw).expect("JSON body");
        for k in ["RequestId", "StackId", "LogicalResourceId"] {
            // Echoed verbatim; a field missing from the event is echoed empty.
            assert_eq!(
                json[k].as_str(),
                Some(event[k].as_str().unwrap_or("")),
                "{k}"
            );
        }
        assert!(
            !json["PhysicalResourceId"].as_str().unwrap_or("").is_empty(),
            "PhysicalResourceId must never be empty: {raw}"
        );
        assert!(!raw.contains("SecretAccessKey"), "{raw}");
        assert!(
            result.is_ok(),
            "after answering, the invocation succeeds: {result:?}"
        );
        self.bodies.lock().unwrap().push(raw.clone());
        Response {
            raw,
            json,
            lambda_result: result,
        }
    }

    /// Whether any answer body so far carried `needle`; for key material that no longer
    /// exists in the emulator (a rotated-away key), which the sweep below cannot find.
    pub fn any_answer_contains(&self, needle: &str) -> bool {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.contains(needle))
    }

    /// No answer body ever carried a secret access key or an access key id that exists
    /// in the emulator now.
    pub async fn assert_no_key_material_leaked(&self) {
        use futures::StreamExt;
        let (iam, sm) = aws().await;
        // Every other test shares the emulator and deletes its users and secrets while
        // this one looks, so everything listed may be gone a moment later:
        // a vanished user or secret simply has no key material left to look for. The
        // emulator holds every test's users, so they are read LOOKUPS at a time.
        const LOOKUPS: usize = 16;
        let mut arns = Vec::new();
        let mut secrets = sm.list_secrets().max_results(100).into_paginator().send();
        while let Some(page) = secrets.next().await {
            for s in page.unwrap().secret_list() {
                arns.push(s.arn().unwrap().to_string());
            }
        }
        let mut user_names = Vec::new();
        let mut users = iam.list_users().into_paginator().send();
        while let Some(page) = users.next().await {
            for u in page.unwrap().users() {
                user_names.push(u.user_name().to_string());
            }
        }
        let in_secrets = futures::stream::iter(arns)
            .map(|arn| {
                let sm = sm.clone();
                async move {
                    let Ok(v) = sm.get_secret_value().secret_id(arn).send().await else {
                        return Vec::new();
                    };
                    let Some(j) = v
                        .secret_string()
                        .and_then(|t| serde_json::from_str::<Value>(t).ok())
                    else {
                        return Vec::new();
                    };
                    ["SecretAccessKey", "AccessKeyId"]
                        .iter()
                        .filter_map(|k| j[k].as_str().map(str::to_string))
                        .collect()
                }
            })
            .buffer_unordered(LOOKUPS);
        let on_users = futures::stream::iter(user_names)
            .map(|user| {
                let iam = iam.clone();
                async move {
                    let keys = match iam.list_access_keys().user_name(&user).send().await {
                        Ok(keys) => keys,
                        Err(e)
                            if e.as_service_error()
                                .is_some_and(|e| e.is_no_such_entity_exception()) =>
                        {
                            return Vec::new()
                        }
                        Err(e) => panic!("listing keys of {user}: {e:?}"),
                    };
                    keys.access_key_metadata()
                        .iter()
                        .filter_map(|k| k.access_key_id().map(str::to_string))
                        .collect::<Vec<String>>()
                }
            })
            .buffer_unordered(LOOKUPS);
        let needles: Vec<String> = in_secrets
            .chain(on_users)
            .collect::<Vec<Vec<String>>>()
            .await
            .concat();
        assert!(
            !needles.is_empty(),
            "the leak check found no key material to look for"
        );
        for body in self.bodies.lock().unwrap().iter() {
            for n in &needles {
                assert!(
                    !body.contains(n.as_str()),
                    "key material in a response body: {body}"
                );
            }
        }
    }
}

/// The state of one user as the tests inspect it.
#[derive(Debug, Clone, Default)]
pub struct UserState {
    pub exists: bool,
    pub path: String,
    pub arn: String,
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
    pub managed: Vec<String>,
    pub inline: Vec<(String, Value)>,
    pub groups: Vec<String>,
    pub keys: Vec<(String, String)>,
}

impl UserState {
    pub fn tag(&self, k: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.as_str())
    }
}

pub async fn user_state(name: &str) -> UserState {
    let (iam, _) = aws().await;
    let user = match iam.get_user().user_name(name).send().await {
        Ok(u) => u.user.unwrap(),
        Err(_) => return UserState::default(),
    };
    let managed = iam
        .list_attached_user_policies()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let inline_names = iam
        .list_user_policies()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let mut inline = Vec::new();
    for n in inline_names.policy_names() {
        let p = iam
            .get_user_policy()
            .user_name(name)
            .policy_name(n)
            .send()
            .await
            .unwrap();
        inline.push((
            n.clone(),
            planton_iam_user::aws::observe::parse_document(p.policy_document()),
        ));
    }
    let groups = iam
        .list_groups_for_user()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let keys = iam.list_access_keys().user_name(name).send().await.unwrap();
    let mut managed: Vec<String> = managed
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    managed.sort();
    inline.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tags: Vec<(String, String)> = user
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    tags.sort();
    UserState {
        exists: true,
        path: user.path().to_string(),
        arn: user.arn().to_string(),
        boundary: user
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
        tags,
        managed,
        inline,
        groups: groups
            .groups()
            .iter()
            .map(|g| g.group_name().to_string())
            .collect(),
        keys: keys
            .access_key_metadata()
            .iter()
            .map(|k| {
                (
                    k.access_key_id().unwrap_or("").to_string(),
                    k.status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                )
            })
            .collect(),
    }
}

/// The secret's JSON value, or None when the secret does not exist.
pub async fn secret_value(name: &str) -> Option<Value> {
    let (_, sm) = aws().await;
    let v = sm.get_secret_value().secret_id(name).send().await.ok()?;
    serde_json::from_str(v.secret_string()?).ok()
}

/// The access key id the secret's AWSCURRENT value holds.
pub async fn current_key_id(secret: &str) -> String {
    let v = secret_value(secret)
        .await
        .expect("the secret holds a value");
    v["AccessKeyId"]
        .as_str()
        .expect("an AccessKeyId")
        .to_string()
}

/// The secret's description: its sentence and the key ids the function records there.
pub async fn secret_description(name: &str) -> String {
    let (_, sm) = aws().await;
    let d = sm.describe_secret().secret_id(name).send().await.unwrap();
    d.description().unwrap_or_default().to_string()
}

pub async fn secret_exists(name: &str) -> bool {
    let (_, sm) = aws().await;
    sm.describe_secret().secret_id(name).send().await.is_ok()
}

pub async fn create_group(name: &str) {
    let (iam, _) = aws().await;
    let _ = iam.create_group().group_name(name).send().await;
}

/// A customer managed policy, created once; returns its ARN.
pub async fn customer_policy(name: &str) -> String {
    let (iam, _) = aws().await;
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;
    match iam
        .create_policy()
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
    {
        Ok(o) => o.policy.unwrap().arn.unwrap(),
        Err(_) => format!("arn:aws:iam::123456789012:policy/{name}"),
    }
}

pub fn iso(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap()
}

/// Sets a key's CreateDate and/or last use through the emulator's test-only endpoint
/// (`last_used`: `Some(None)` = never used).
pub async fn seed_key_dates(
    key_id: &str,
    created: Option<std::time::SystemTime>,
    last_used: Option<Option<std::time::SystemTime>>,
) {
    let mut body = json!({"access_key_id": key_id});
    if let Some(c) = created {
        body["create_date"] = json!(iso(c));
    }
    if let Some(u) = last_used {
        body["last_used_date"] = json!(u.map(iso));
    }
    let path = "/moto-api/planton/access-key-dates";
    if let Err(answer) = crate::support::post_test_endpoint(emulator_url(), path, &body).await {
        panic!("seeding {key_id}: {answer}");
    }
    // IAM hands out the same credential report for four hours: the audit that follows
    // must see these dates, as it would in AWS once a report made after them is out.
    fresh_credential_report(None).await;
}

/// The shared account used by every test that does not name its own.
pub const ACCOUNT: &str = "123456789012";

/// Discards the credential report of `account` (default: the shared one), so the next
/// GenerateCredentialReport makes a new one from the state as it is now. Tests share
/// the account, and IAM reuses a report for four hours: a test that changes keys and
/// then audits would otherwise read a report made before its change.
pub async fn fresh_credential_report(account: Option<&str>) {
    let body = json!({"account_id": account.unwrap_or(ACCOUNT), "discard": true});
    let path = "/moto-api/planton/credential-report";
    if let Err(answer) = crate::support::post_test_endpoint(emulator_url(), path, &body).await {
        panic!("discarding the credential report: {answer}");
    }
}

/// Every event the function put for `user`, in order, as the emulator's EventBridge
/// received them (its test-only record of PutEvents).
pub async fn events_for(user: &str) -> Vec<Value> {
    let body = crate::support::post_test_endpoint(
        emulator_url(),
        "/moto-api/planton/events",
        &json!({"Source": "planton.iam-user"}),
    )
    .await
    .expect("the emulator records events");
    let all: Value = serde_json::from_str(&body).unwrap();
    all["Events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["Detail"]["user"] == user)
        .cloned()
        .collect()
}
