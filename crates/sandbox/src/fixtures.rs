//! Typed fixtures: the provider-side state (programs, accounts, wallets, persons, card segments,
//! products, cardholders) that requests refer to and that makes each documented error reachable.
//!
//! The built-in set is `fixtures.toml`, compiled in; `SandboxConfig::fixtures` names a file that
//! replaces it. Unknown keys are ignored so that a provider module can grow its own section
//! without breaking older files.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The built-in fixtures, matching the example CSVs and the built-in profiles.
pub const DEFAULT_FIXTURES: &str = include_str!("fixtures.toml");

/// All providers' fixtures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Fixtures {
    pub qitech: QitechFixtures,
    pub alchemypay: AlchemyPayFixtures,
    pub uqpay: UqpayFixtures,
}

/// QI Tech (prepaid and postpaid share one host and one client key list).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct QitechFixtures {
    /// `API-CLIENT-KEY` values accepted.
    pub api_client_keys: Vec<String>,
    pub programs: Vec<QitechProgram>,
    pub accounts: Vec<QitechAccount>,
    pub wallets: Vec<QitechWallet>,
    pub persons: Vec<QitechPerson>,
}

/// A prepaid card program.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QitechProgram {
    pub program_key: String,
    /// `natural` and/or `legal`: the owner types the program issues to (else CARD000007).
    pub person_types: Vec<String>,
    /// Whether virtual cards may be issued (else CARD000032).
    pub virtual_allowed: bool,
}

/// A prepaid account and its owner.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QitechAccount {
    pub account_key: String,
    pub owner_person_type: String,
    /// `active`, or anything else for a holder in a bad status (CARD000008).
    pub holder_status: String,
    pub owner_person_key: String,
    /// The owner's person record does not exist (CARD000010).
    #[serde(default)]
    pub owner_person_missing: bool,
}

/// A postpaid wallet; limits are decimal BRL strings as in the API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QitechWallet {
    pub wallet_key: String,
    pub postpaid_credit_limit: String,
    #[serde(default)]
    pub ccb_limit: Option<String>,
}

/// A person usable as `person_key`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QitechPerson {
    pub person_key: String,
    pub person_type: String,
}

/// Alchemy Pay VCC.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlchemyPayFixtures {
    /// `ach-access-key` values known to the sandbox (their secrets are in the config).
    pub access_keys: Vec<String>,
    /// Merchant balance in USD cents; a deposit above it answers 300004.
    pub merchant_balance_cents: i64,
    /// Card segment ids (`vid`); unknown -> 200002.
    pub segments: Vec<String>,
}

/// UQPAY issuing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct UqpayFixtures {
    /// `x-client-id` values known to the sandbox (their API keys are in the config).
    pub client_ids: Vec<String>,
    /// Issuing balance in USD cents, from which SINGLE-mode cards are pre-funded.
    pub issuing_balance_cents: i64,
    pub products: Vec<UqpayProduct>,
    pub cardholders: Vec<UqpayCardholder>,
}

/// A card product.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UqpayProduct {
    pub product_id: String,
    pub card_bin: String,
    pub mode_type: String,
    pub card_form: Vec<String>,
    pub card_currency: Vec<String>,
    pub product_status: String,
    #[serde(default = "default_card_scheme")]
    pub card_scheme: String,
    /// Cards the BIN's pre-allocated pool can still issue (`None` = unlimited); at 0 a create
    /// answers `insufficient_sub_bin`.
    #[serde(default)]
    pub card_pool: Option<u32>,
}

fn default_card_scheme() -> String {
    "VISA".to_string()
}

/// A cardholder; only `SUCCESS` ones can be issued cards.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UqpayCardholder {
    pub cardholder_id: String,
    pub cardholder_status: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// Fixtures that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FixturesError {
    #[error("cannot read fixtures {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid fixtures {origin}: {source}")]
    Parse {
        origin: String,
        source: Box<toml::de::Error>,
    },
}

impl Fixtures {
    /// The built-in fixtures.
    pub fn builtin() -> Fixtures {
        Fixtures::parse(DEFAULT_FIXTURES, "built-in fixtures.toml")
            .expect("the built-in fixtures.toml parses (pinned by a unit test)")
    }

    /// Reads `path`, or the built-in set when `None`.
    pub fn load(path: Option<&Path>) -> Result<Fixtures, FixturesError> {
        let Some(path) = path else {
            return Ok(Fixtures::builtin());
        };
        let text = std::fs::read_to_string(path).map_err(|source| FixturesError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Fixtures::parse(&text, &path.display().to_string())
    }

    /// Parses fixtures from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Fixtures, FixturesError> {
        toml::from_str(text).map_err(|source| FixturesError::Parse {
            origin: origin.to_string(),
            source: Box::new(source),
        })
    }

    /// The UQPAY product with this id.
    pub fn uqpay_product(&self, product_id: &str) -> Option<&UqpayProduct> {
        self.uqpay
            .products
            .iter()
            .find(|p| p.product_id == product_id)
    }

    /// The UQPAY cardholder with this id.
    pub fn uqpay_cardholder(&self, cardholder_id: &str) -> Option<&UqpayCardholder> {
        self.uqpay
            .cardholders
            .iter()
            .find(|c| c.cardholder_id == cardholder_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_fixtures_parse_with_every_section_populated() {
        let f = Fixtures::parse(DEFAULT_FIXTURES, "built-in").unwrap();
        assert_eq!(f.qitech.programs.len(), 3);
        assert!(f.qitech.accounts.iter().any(|a| a.owner_person_missing));
        assert_eq!(f.alchemypay.segments, vec!["USD", "vab_069af8a792ad"]);
        assert_eq!(
            f.uqpay_product("0c5b7f2e-8a41-4d3b-9e6c-2f1a8b7c6d5e")
                .unwrap()
                .card_bin,
            "527735"
        );
        assert_eq!(
            f.uqpay_cardholder("6e4c9d5f-2a7b-4fbe-9ac8-3b5a4f6e7d8c")
                .unwrap()
                .cardholder_status,
            "PENDING"
        );
    }
}
