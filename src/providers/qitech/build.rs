//! Building a QI Tech client from its profile: the API key, the client's private key (PEM text
//! in the `private_key` credential, or a file named by the `private_key_file` option), QI's
//! public key to verify answers (option `qitech_public_key_file` or credential
//! `qitech_public_key`; without it answers are read unverified) and the signing variant (option
//! `signing = "v1" | "v2"`, default v2).

use super::jws;
use super::postpaid::QiPostpaid;
use super::prepaid::QiPrepaid;
use super::signing::{RequestSigner, Variant};
use super::transport::QiTransport;
use crate::config::Profile;
use crate::providers::build::{BuildError, ProviderEnv};
use crate::providers::{Credentials, Provider};
use p521::ecdsa::VerifyingKey;
use std::sync::Arc;

/// Profile option: the signing variant.
pub const OPTION_SIGNING: &str = "signing";
/// Profile option: a file holding the client's private key (PEM).
pub const OPTION_PRIVATE_KEY_FILE: &str = "private_key_file";
/// Profile option: a file holding QI's public key (PEM), to verify answers.
pub const OPTION_QITECH_PUBLIC_KEY_FILE: &str = "qitech_public_key_file";

/// The QI Tech prepaid client of profile `name`.
pub fn build_prepaid(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
    env: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    let transport = transport(name, profile, credentials, &env.http)?;
    Ok(Arc::new(QiPrepaid::new(transport)))
}

/// The QI Tech postpaid client of profile `name`.
pub fn build_postpaid(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
    env: &ProviderEnv,
) -> Result<Arc<dyn Provider>, BuildError> {
    let transport = transport(name, profile, credentials, &env.http)?;
    Ok(Arc::new(QiPostpaid::new(transport)))
}

/// The signed transport both products share, built from the profile.
pub fn transport(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
    http: &reqwest::Client,
) -> Result<QiTransport, BuildError> {
    let invalid = |problem: String| BuildError::Invalid {
        profile: name.to_string(),
        problem,
    };
    let option = |key: &str| profile.options.get(key).map(String::as_str);
    let variant =
        Variant::parse(option(OPTION_SIGNING)).map_err(|e| invalid(format!("options.{e}")))?;
    let api_key = credentials.get(name, "api_key")?.trim().to_string();

    let private_pem = match option(OPTION_PRIVATE_KEY_FILE) {
        Some(path) => read_pem(path)
            .map_err(|e| invalid(format!("options.{OPTION_PRIVATE_KEY_FILE}: {e}")))?,
        None => credentials.get(name, "private_key")?.to_string(),
    };
    let key = jws::private_key_from_pem(&private_pem)
        .map_err(|e| invalid(format!("the QI Tech private key: {e}")))?;

    let qi_key = qi_public_key(name, profile, credentials)?;
    let signer = RequestSigner::new(api_key, key, variant);
    QiTransport::new(http.clone(), &profile.base_url, signer, qi_key)
        .map_err(|e| invalid(e.to_string()))
}

fn qi_public_key(
    name: &str,
    profile: &Profile,
    credentials: &Credentials,
) -> Result<Option<VerifyingKey>, BuildError> {
    let invalid = |problem: String| BuildError::Invalid {
        profile: name.to_string(),
        problem,
    };
    let pem = match profile.options.get(OPTION_QITECH_PUBLIC_KEY_FILE) {
        Some(path) => Some(
            read_pem(path)
                .map_err(|e| invalid(format!("options.{OPTION_QITECH_PUBLIC_KEY_FILE}: {e}")))?,
        ),
        // An optional credential: absent means answers are not verified.
        None => credentials
            .get(name, "qitech_public_key")
            .ok()
            .map(str::to_string),
    };
    pem.map(|pem| {
        jws::public_key_from_pem(&pem).map_err(|e| invalid(format!("QI Tech's public key: {e}")))
    })
    .transpose()
}

fn read_pem(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ProviderKind;
    use crate::sandbox::qitech::{DEV_CLIENT_PRIVATE_KEY_PEM, DEV_CLIENT_PUBLIC_KEY_PEM};

    fn profile() -> Profile {
        Profile::sandbox(ProviderKind::QitechPrepaid, "127.0.0.1:1")
    }

    fn creds() -> Credentials {
        Credentials::from_pairs([
            ("api_key", "k"),
            ("private_key", DEV_CLIENT_PRIVATE_KEY_PEM),
        ])
    }

    #[test]
    fn the_sandbox_profile_builds_with_key_text_from_the_credentials() {
        transport("qi", &profile(), &creds(), &reqwest::Client::new()).unwrap();
    }

    #[test]
    fn keys_are_read_from_the_files_the_options_name() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private.pem");
        let public = dir.path().join("qi.pem");
        std::fs::write(&private, DEV_CLIENT_PRIVATE_KEY_PEM).unwrap();
        std::fs::write(&public, DEV_CLIENT_PUBLIC_KEY_PEM).unwrap();
        let mut p = profile();
        let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
        p.options
            .insert(OPTION_PRIVATE_KEY_FILE.into(), path(&private));
        p.options
            .insert(OPTION_QITECH_PUBLIC_KEY_FILE.into(), path(&public));

        // Act
        let built = transport(
            "qi",
            &p,
            &Credentials::from_pairs([("api_key", "k")]),
            &reqwest::Client::new(),
        );

        // Assert
        assert!(built.is_ok(), "{:?}", built.err());
    }

    #[test]
    fn a_missing_key_file_or_a_bad_variant_names_the_option() {
        let mut p = profile();
        p.options.insert(
            OPTION_PRIVATE_KEY_FILE.into(),
            "/nonexistent/key.pem".into(),
        );
        let missing = transport("qi", &p, &creds(), &reqwest::Client::new())
            .err()
            .unwrap();
        let mut p = profile();
        p.options.insert(OPTION_SIGNING.into(), "v9".into());
        let variant = transport("qi", &p, &creds(), &reqwest::Client::new())
            .err()
            .unwrap();

        assert!(
            missing.to_string().contains("private_key_file"),
            "{missing}"
        );
        assert!(variant.to_string().contains("signing"), "{variant}");
    }

    #[test]
    fn a_missing_private_key_credential_is_named() {
        let only_api_key = Credentials::from_pairs([("api_key", "k")]);
        let err = transport("qi", &profile(), &only_api_key, &reqwest::Client::new())
            .err()
            .unwrap();
        assert!(err.to_string().contains("private_key"), "{err}");
    }
}
