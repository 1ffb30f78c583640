//! Fault settings per provider and the seeded random rolls that decide when one fires.
//!
//! Each provider has its own RNG, seeded from the config seed and the provider's name, so the
//! faults of one provider do not shift when another provider gets more traffic. Under
//! concurrency the order in which requests draw from the RNG can vary, so a repeated run gives
//! the same fault *rates* and, for sequential clients, the same fault *sequence*.

use cardbatch_types::ProviderKind;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Mutex, RwLock};

/// What can go wrong with one provider. Probabilities are within `0..=1`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// A create answers the provider's transient error (QI CARD000009 / CIN000072 / CIN000067,
    /// Alchemy 100000 / 500000 / 600002, UQPAY 500) instead of creating a card.
    pub transient_error_rate: f64,
    /// The card is created, then the connection is closed without a byte of answer.
    pub lost_response_rate: f64,
    /// Added to every request, in milliseconds (not scaled by `time_scale`).
    pub latency_ms: u64,
    /// A uniformly random extra latency in `0..=latency_jitter_ms`.
    pub latency_jitter_ms: u64,
    /// Token bucket per credential: sustained requests per second (`None` = no limit).
    pub rate_limit_per_sec: Option<f64>,
    /// Token bucket size; defaults to one second's worth of requests.
    pub rate_limit_burst: Option<u32>,
    /// Fixed per-minute window per credential, as UQPAY documents it; takes precedence over the
    /// token bucket when both are set.
    pub rate_limit_per_minute: Option<u32>,
    /// A webhook is delivered twice.
    pub webhook_duplicate_rate: f64,
    /// A webhook is held back until the next one of the same provider has been delivered.
    pub webhook_reorder_rate: f64,
    /// A webhook is delayed by `webhook_delay_ms` before its first attempt.
    pub webhook_delay_rate: f64,
    /// The delay applied by `webhook_delay_rate`, in milliseconds (not scaled).
    pub webhook_delay_ms: u64,
    /// A webhook is never sent.
    pub webhook_drop_rate: f64,
    /// A request is answered 429 (the provider's rate-limit body, `Retry-After: 0`) whatever the
    /// rate limiters say: a fixed share of 429s, independent of how fast the client goes.
    pub rate_limited_rate: f64,
}

impl FaultConfig {
    /// Checks every probability is within `0..=1` and every rate is positive.
    pub fn validate(&self) -> Result<(), String> {
        let probabilities = [
            ("transient_error_rate", self.transient_error_rate),
            ("lost_response_rate", self.lost_response_rate),
            ("webhook_duplicate_rate", self.webhook_duplicate_rate),
            ("webhook_reorder_rate", self.webhook_reorder_rate),
            ("webhook_delay_rate", self.webhook_delay_rate),
            ("webhook_drop_rate", self.webhook_drop_rate),
            ("rate_limited_rate", self.rate_limited_rate),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be within 0..=1, got {p}"));
            }
        }
        if self.transient_error_rate + self.lost_response_rate > 1.0 {
            return Err("transient_error_rate + lost_response_rate must not exceed 1".into());
        }
        if let Some(r) = self.rate_limit_per_sec
            && !(r.is_finite() && r > 0.0)
        {
            return Err(format!("rate_limit_per_sec must be positive, got {r}"));
        }
        if self.rate_limit_per_minute == Some(0) || self.rate_limit_burst == Some(0) {
            return Err("rate limits must be positive".into());
        }
        Ok(())
    }
}

/// What a create request should suffer, decided by one roll so that the two faults are
/// mutually exclusive and each happens at exactly its configured rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateFault {
    /// Process normally.
    None,
    /// Answer the provider's transient error; no card is created.
    Transient,
    /// Create the card, then drop the connection with no answer.
    LostResponse,
}

/// A seeded RNG behind a lock.
#[derive(Debug)]
pub struct FaultRng {
    rng: Mutex<StdRng>,
}

impl FaultRng {
    /// An RNG for `provider`, derived from the run's seed.
    pub fn new(seed: u64, provider: &str) -> FaultRng {
        // FNV-1a of the provider name, mixed into the seed: stable across Rust versions,
        // unlike `DefaultHasher`.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in provider.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        FaultRng {
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ h)),
        }
    }

    /// `true` with probability `p`.
    pub fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.uniform() < p
    }

    /// A uniform draw in `[0, 1)`.
    pub fn uniform(&self) -> f64 {
        self.rng.lock().expect("fault rng lock").random::<f64>()
    }

    /// A uniform integer in `0..=max`.
    pub fn up_to(&self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        self.rng
            .lock()
            .expect("fault rng lock")
            .random_range(0..=max)
    }

    /// One roll deciding a create's fault.
    pub fn create_fault(&self, faults: &FaultConfig) -> CreateFault {
        if faults.transient_error_rate <= 0.0 && faults.lost_response_rate <= 0.0 {
            return CreateFault::None;
        }
        let u = self.uniform();
        if u < faults.transient_error_rate {
            CreateFault::Transient
        } else if u < faults.transient_error_rate + faults.lost_response_rate {
            CreateFault::LostResponse
        } else {
            CreateFault::None
        }
    }
}

/// The live fault settings of every provider and their RNGs.
#[derive(Debug)]
pub struct FaultBoard {
    configs: RwLock<BTreeMap<String, FaultConfig>>,
    rngs: BTreeMap<String, FaultRng>,
}

impl FaultBoard {
    /// One RNG per provider, seeded from `seed`; `initial` are the configured faults.
    pub fn new(seed: u64, initial: BTreeMap<String, FaultConfig>) -> FaultBoard {
        let rngs = ProviderKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), FaultRng::new(seed, k.as_str())))
            .collect();
        FaultBoard {
            configs: RwLock::new(initial),
            rngs,
        }
    }

    /// The current faults of `provider` (defaults when none are set).
    pub fn get(&self, provider: &str) -> FaultConfig {
        self.configs
            .read()
            .expect("faults lock")
            .get(provider)
            .cloned()
            .unwrap_or_default()
    }

    /// Every provider's faults, including the defaults of those never configured.
    pub fn all(&self) -> BTreeMap<String, FaultConfig> {
        let configs = self.configs.read().expect("faults lock");
        ProviderKind::ALL
            .iter()
            .map(|k| {
                let name = k.as_str().to_string();
                let faults = configs.get(&name).cloned().unwrap_or_default();
                (name, faults)
            })
            .collect()
    }

    /// Replaces the faults of one provider.
    pub fn set(&self, provider: &str, faults: FaultConfig) {
        self.configs
            .write()
            .expect("faults lock")
            .insert(provider.to_string(), faults);
    }

    /// The RNG of `provider`. Unknown names share the RNG of the first provider, which only
    /// matters for a provider module that forgot to use its `ProviderKind` name.
    pub fn rng(&self, provider: &str) -> &FaultRng {
        self.rngs
            .get(provider)
            .unwrap_or_else(|| self.rngs.values().next().expect("one rng per provider"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_rolls() {
        let a = FaultRng::new(7, "uqpay");
        let b = FaultRng::new(7, "uqpay");
        let ra: Vec<bool> = (0..64).map(|_| a.roll(0.5)).collect();
        let rb: Vec<bool> = (0..64).map(|_| b.roll(0.5)).collect();
        assert_eq!(ra, rb);
        let c = FaultRng::new(7, "alchemypay_vcc");
        let rc: Vec<bool> = (0..64).map(|_| c.roll(0.5)).collect();
        assert_ne!(ra, rc, "providers draw from different streams");
    }

    #[test]
    fn a_probability_outside_zero_to_one_is_refused() {
        let f = FaultConfig {
            webhook_drop_rate: 1.5,
            ..FaultConfig::default()
        };
        assert!(f.validate().unwrap_err().contains("webhook_drop_rate"));
    }
}
