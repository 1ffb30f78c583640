//! What a client needs to talk to a sandbox it did not configure: the development credentials
//! per provider, under the names cardbatch's profiles use, and a guide `cardbatch sandbox`
//! prints at start (base URLs, credentials, where callbacks go, the admin routes).

use crate::config::{
    DEV_ALCHEMYPAY_ACCESS_KEY, DEV_ALCHEMYPAY_SECRET_KEY, DEV_QITECH_API_KEY, DEV_UQPAY_API_KEY,
    DEV_UQPAY_CLIENT_ID, DEV_UQPAY_WEBHOOK_SECRET, SandboxConfig,
};
use crate::qitech::options::{CLIENT_PUBLIC_KEY_PEM, SANDBOX_PRIVATE_KEY_PEM};
use crate::qitech::{DEV_CLIENT_PRIVATE_KEY_PEM, DEV_SERVER_PUBLIC_KEY_PEM};
use crate::server::{ALCHEMYPAY_MOUNT, QITECH_MOUNT, UQPAY_MOUNT, UQPAY_SIMULATOR_MOUNT};
use cardbatch_types::ProviderKind;
use std::fmt::Write;
use std::net::SocketAddr;

/// The credentials the sandbox accepts for `kind` when its config names none, as
/// `(name, value)` with cardbatch's credential names. QI Tech's `private_key` is the client's
/// PEM and `qitech_public_key` the sandbox's (it verifies answers and webhooks).
pub fn dev_credentials(kind: ProviderKind) -> Vec<(&'static str, &'static str)> {
    match kind {
        ProviderKind::Uqpay => vec![
            ("client_id", DEV_UQPAY_CLIENT_ID),
            ("api_key", DEV_UQPAY_API_KEY),
            ("webhook_secret", DEV_UQPAY_WEBHOOK_SECRET),
        ],
        ProviderKind::AlchemypayVcc => vec![
            ("access_key", DEV_ALCHEMYPAY_ACCESS_KEY),
            ("secret_key", DEV_ALCHEMYPAY_SECRET_KEY),
        ],
        ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => vec![
            ("api_key", DEV_QITECH_API_KEY),
            ("private_key", DEV_CLIENT_PRIVATE_KEY_PEM),
            ("qitech_public_key", DEV_SERVER_PUBLIC_KEY_PEM),
        ],
    }
}

/// Where the PEMs are, since a guide does not print key blocks.
const KEYS_FILE: &str = "crates/sandbox/src/qitech/dev_keys.rs";

/// A human-readable guide to a sandbox listening on `addr` with `config`: each provider's base
/// URL, the credentials it accepts (the development ones, or a note that the config replaced
/// them), where its callbacks go, and the admin routes.
pub fn guide(config: &SandboxConfig, addr: SocketAddr) -> String {
    let base = format!("http://{addr}");
    let mut out = format!("cardbatch sandbox on {base} (development credentials: not secrets)\n");
    for kind in ProviderKind::ALL {
        let settings = config.provider(kind);
        let path = match kind {
            ProviderKind::Uqpay => UQPAY_MOUNT,
            ProviderKind::AlchemypayVcc => ALCHEMYPAY_MOUNT,
            ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => QITECH_MOUNT,
        };
        let _ = writeln!(out, "\n  {kind}\n    base_url = {base}{path}");
        // Configured credentials come on top of the fixtures' development client, unless they
        // give that client another secret.
        let configured = config
            .providers
            .get(kind.as_str())
            .map(|s| &s.credentials)
            .filter(|c| !c.is_empty());
        let dev_secret_replaced = configured.is_some_and(|c| {
            c.contains_key(DEV_UQPAY_CLIENT_ID) || c.contains_key(DEV_ALCHEMYPAY_ACCESS_KEY)
        });
        for (name, value) in dev_credentials(kind) {
            let shown = credential_line(config, kind, name, value, dev_secret_replaced, &base);
            let _ = writeln!(out, "    {name} = {shown}");
        }
        if configured.is_some() {
            let _ = writeln!(
                out,
                "    also accepted: the credentials in providers.{kind}.credentials"
            );
        }
        let callbacks = match kind {
            ProviderKind::AlchemypayVcc => {
                let check = settings
                    .options
                    .get("check_url")
                    .map_or("none (skipped)".to_string(), |url| url.clone());
                format!("each request's callbackUrl; reverse validation -> {check}")
            }
            _ => settings
                .webhook_url
                .clone()
                .unwrap_or_else(|| "none (no webhook is sent)".to_string()),
        };
        let _ = writeln!(out, "    callbacks -> {callbacks}");
    }
    let _ = writeln!(
        out,
        "\n  each provider also answers at its own paths from the root, as on its own host \
         ({base}/prepaid/card, /wallet/..., /open/api/card/..., /api/v1/...), for clients \
         that take only a host; UQPAY also at {base}{UQPAY_SIMULATOR_MOUNT} for SDKs that \
         enable their simulator only on a sandbox URL"
    );
    let _ = write!(
        out,
        "\n  admin: GET|PUT|PATCH {base}/_sandbox/faults, GET {base}/_sandbox/ledger[?provider=], \
         GET {base}/_sandbox/stats\n"
    );
    out
}

/// How one credential is shown: its value, where its PEM is, or that the config replaced it.
fn credential_line(
    config: &SandboxConfig,
    kind: ProviderKind,
    name: &str,
    value: &str,
    dev_secret_replaced: bool,
    base: &str,
) -> String {
    let qi_option = |key: &str| {
        [ProviderKind::QitechPrepaid, ProviderKind::QitechPostpaid]
            .iter()
            .any(|k| config.provider(*k).options.contains_key(key))
    };
    match (kind, name) {
        (ProviderKind::Uqpay, "api_key") | (ProviderKind::AlchemypayVcc, "secret_key")
            if dev_secret_replaced =>
        {
            format!("as configured (providers.{kind}.credentials)")
        }
        (ProviderKind::Uqpay, "webhook_secret")
            if config.provider(kind).webhook_secret.as_deref() != Some(value) =>
        {
            format!("as configured (providers.{kind}.webhook_secret)")
        }
        (_, "private_key") if qi_option(CLIENT_PUBLIC_KEY_PEM) => {
            format!("the private half of the configured {CLIENT_PUBLIC_KEY_PEM}")
        }
        (_, "private_key") => format!("the PEM DEV_CLIENT_PRIVATE_KEY_PEM in {KEYS_FILE}"),
        (_, "qitech_public_key") if qi_option(SANDBOX_PRIVATE_KEY_PEM) => {
            format!("GET {base}/qitech/_sandbox/public_key (from the configured key)")
        }
        (_, "qitech_public_key") => format!(
            "the PEM DEV_SERVER_PUBLIC_KEY_PEM in {KEYS_FILE}, also at GET {base}/qitech/_sandbox/public_key"
        ),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderSettings;

    fn addr() -> SocketAddr {
        "127.0.0.1:7070".parse().unwrap()
    }

    #[test]
    fn the_guide_lists_each_base_url_credential_callback_and_admin_route() {
        let text = guide(&SandboxConfig::standalone(), addr());

        for expected in [
            "http://127.0.0.1:7070/uqpay/api",
            "http://127.0.0.1:7070/alchemypay",
            "http://127.0.0.1:7070/qitech",
            "client_id = uqpay-sandbox-client",
            "api_key = uqpay-sandbox-api-key",
            "webhook_secret = uqpay-sandbox-webhook-secret",
            "access_key = ach-sandbox-app-key",
            "secret_key = ach-sandbox-secret-key",
            "api_key = 20d6a816-9d21-4e29-bbe5-2ffb3baacfe9",
            "private_key = the PEM DEV_CLIENT_PRIVATE_KEY_PEM",
            "qitech_public_key = the PEM DEV_SERVER_PUBLIC_KEY_PEM",
            "callbacks -> http://127.0.0.1:8080/webhooks/uqpay",
            "callbacks -> http://127.0.0.1:8080/webhooks/qitech",
            "reverse validation -> http://127.0.0.1:8080/alchemypay/create-check",
            "/_sandbox/faults",
            "/_sandbox/ledger",
            "/_sandbox/stats",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
        assert!(!text.contains("BEGIN"), "no key block is printed");
    }

    #[test]
    fn configured_credentials_and_keys_are_not_shown_as_the_development_ones() {
        let mut uqpay = ProviderSettings::default();
        uqpay.credentials.insert("mine".into(), "secret".into());
        let mut alchemy = ProviderSettings::default();
        alchemy
            .credentials
            .insert(DEV_ALCHEMYPAY_ACCESS_KEY.into(), "another secret".into());
        let mut qi = ProviderSettings::default();
        qi.options
            .insert(SANDBOX_PRIVATE_KEY_PEM.into(), "(a pem)".into());
        let config = SandboxConfig::default()
            .with_provider(ProviderKind::Uqpay, uqpay)
            .with_provider(ProviderKind::AlchemypayVcc, alchemy)
            .with_provider(ProviderKind::QitechPrepaid, qi);

        let text = guide(&config, addr());

        // The fixtures' UQPAY client keeps its development key beside the configured one.
        assert!(text.contains("api_key = uqpay-sandbox-api-key"));
        assert!(text.contains("also accepted: the credentials in providers.uqpay.credentials"));
        assert!(text.contains("secret_key = as configured (providers.alchemypay_vcc.credentials)"));
        assert!(!text.contains("ach-sandbox-secret-key"));
        assert!(text.contains("(from the configured key)"));
        assert!(text.contains("callbacks -> none (no webhook is sent)"));
        assert!(text.contains("reverse validation -> none (skipped)"));
    }
}
