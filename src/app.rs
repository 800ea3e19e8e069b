//! What lives for the whole process, built once in `main` and shared by every
//! invocation: the SDK clients, the responder, the settings, the call log.

use crate::aws::calls::CallLog;
use crate::aws::clients::{cloudformation, load_config};
use crate::aws::gate::Gate;
use crate::aws::Clients;
use crate::custom_resource::respond::Responder;
use crate::settings::Settings;

#[derive(Clone, Debug)]
pub struct App {
    pub clients: Clients,
    /// Only custom-resource requests use it, to check themselves against the stack.
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub responder: Responder,
    pub settings: Settings,
    pub calls: CallLog,
    /// The region the SDK configuration names: the function's own.
    pub region: Option<String>,
    /// The bound on AWS calls in flight, shared by every client; its limit is set from
    /// the settings at each invocation.
    pub gate: Gate,
}

impl App {
    /// The SDK reads region, credentials and endpoint (`AWS_ENDPOINT_URL`) from the
    /// standard configuration; the function's own settings come from `PLANTON_*`.
    pub async fn from_env() -> Result<App, std::io::Error> {
        let phase = |name: &str, since: std::time::Instant| {
            tracing::debug!(
                phase = name,
                us = since.elapsed().as_micros() as u64,
                "startup"
            );
            std::time::Instant::now()
        };
        let t = std::time::Instant::now();
        let config = load_config().await;
        let t = phase("sdk_config", t);
        let settings = Settings::from_env();
        let t = phase("settings", t);
        let app = App::from_config(&config, settings);
        phase("clients", t);
        app
    }

    /// From a loaded SDK configuration (tests and tools point it at an emulator).
    pub fn from_config(
        config: &aws_config::SdkConfig,
        settings: Settings,
    ) -> Result<App, std::io::Error> {
        let calls = CallLog::default();
        let gate = Gate::new(settings.max_in_flight);
        let config = gate.around(config);
        Ok(App {
            clients: Clients::from_config(&config, &calls),
            cloudformation: cloudformation(&config, &calls),
            responder: Responder::new()?,
            settings,
            calls,
            region: config.region().map(|r| r.to_string()),
            gate,
        })
    }
}
