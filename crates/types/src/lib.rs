//! Types cardbatch and its provider sandbox share: only the provider kind. Everything else the
//! sandbox knows about a provider it implements on its own (DESIGN.md: the sandbox is an
//! independent implementation of each provider's wire protocol).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The four card providers cardbatch can issue through. The string form is the one used in
/// `cardbatch.toml` (`provider = "uqpay"`), in the database and in CSV file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// QI Tech prepaid card, `POST /prepaid/card`.
    QitechPrepaid,
    /// QI Tech postpaid card (payment instrument), `POST /wallet/{wallet_key}/payment_instrument`.
    QitechPostpaid,
    /// Alchemy Pay virtual card, `POST /open/api/card/create`.
    AlchemypayVcc,
    /// UQPAY issuing, `POST /api/v1/issuing/cards`.
    Uqpay,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::QitechPrepaid,
        ProviderKind::QitechPostpaid,
        ProviderKind::AlchemypayVcc,
        ProviderKind::Uqpay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::QitechPrepaid => "qitech_prepaid",
            ProviderKind::QitechPostpaid => "qitech_postpaid",
            ProviderKind::AlchemypayVcc => "alchemypay_vcc",
            ProviderKind::Uqpay => "uqpay",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown provider `{s}`; expected one of qitech_prepaid, qitech_postpaid, alchemypay_vcc, uqpay"
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_string_form() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.as_str().parse::<ProviderKind>(), Ok(kind));
        }
    }

    #[test]
    fn an_unknown_provider_name_is_rejected_with_the_choices() {
        let err = "visa".parse::<ProviderKind>().unwrap_err();
        assert!(err.contains("uqpay"), "{err}");
    }
}
