//! The provider sandbox on loopback, and the development credentials it accepts.

use cardbatch::domain::ProviderKind;
use cardbatch::sandbox::config::{
    DEV_ALCHEMYPAY_ACCESS_KEY, DEV_ALCHEMYPAY_SECRET_KEY, DEV_UQPAY_API_KEY, DEV_UQPAY_CLIENT_ID,
};
use cardbatch::sandbox::qitech::DEV_CLIENT_PRIVATE_KEY_PEM;
use cardbatch::sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use tokio::net::TcpListener;

/// The API key of the built-in QI Tech fixtures.
pub const QI_API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";

/// Starts a sandbox with `config` on an ephemeral loopback port.
pub async fn start_sandbox(config: SandboxConfig) -> RunningSandbox {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Sandbox::start(config, listener).expect("sandbox starts")
}

/// The credentials the sandbox accepts for `kind`, as (name, value) pairs.
pub fn dev_credentials(kind: ProviderKind) -> Vec<(&'static str, &'static str)> {
    match kind {
        ProviderKind::Uqpay => vec![
            ("client_id", DEV_UQPAY_CLIENT_ID),
            ("api_key", DEV_UQPAY_API_KEY),
        ],
        ProviderKind::AlchemypayVcc => vec![
            ("access_key", DEV_ALCHEMYPAY_ACCESS_KEY),
            ("secret_key", DEV_ALCHEMYPAY_SECRET_KEY),
        ],
        ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => vec![
            ("api_key", QI_API_KEY),
            ("private_key", DEV_CLIENT_PRIVATE_KEY_PEM),
        ],
    }
}
