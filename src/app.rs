//! What lives for the whole process, built once in `main` and shared by every
//! invocation: the SDK clients, the responder, the settings, the call log.

use crate::aws::calls::CallLog;
use crate::aws::Clients;
use crate::custom_resource::respond::Responder;
use crate::settings::Settings;

#[derive(Clone, Debug)]
pub struct App {
    pub clients: Clients,
    pub responder: Responder,
    pub settings: Settings,
    pub calls: CallLog,
}

impl App {
    /// The SDK reads region, credentials and endpoint (`AWS_ENDPOINT_URL`) from the
    /// standard configuration; the function's own settings come from `PLANTON_*`.
    pub async fn from_env() -> Result<App, std::io::Error> {
        let calls = CallLog::default();
        let clients = Clients::from_env(&calls).await;
        Ok(App {
            clients,
            responder: Responder::new()?,
            settings: Settings::from_env(),
            calls,
        })
    }

    /// From a loaded SDK configuration (tests and tools point it at an emulator).
    pub fn from_config(
        config: &aws_config::SdkConfig,
        settings: Settings,
    ) -> Result<App, std::io::Error> {
        let calls = CallLog::default();
        Ok(App {
            clients: Clients::from_config(config, &calls),
            responder: Responder::new()?,
            settings,
            calls,
        })
    }
}
