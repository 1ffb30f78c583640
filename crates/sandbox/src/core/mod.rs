//! The machinery every simulated provider shares: the [`Core`] each provider router receives,
//! with faults and their seeded rolls, the ledger, stats, webhook delivery, lost responses, rate
//! limits and a clock tests can move forward.

mod clock;
mod faults;
mod ledger;
mod lost;
mod rate_limit;
mod stats;
mod test_card;
mod webhooks;

pub use clock::Clock;
pub use faults::{CreateFault, FaultBoard, FaultConfig, FaultRng};
pub use ledger::{Ledger, LedgerEntry, LedgerSnapshot, ORDER_REFERENCES, ReferenceCount};
pub use lost::{ConnectionKill, LostResponse};
pub use rate_limit::{RateLimits, retry_after_secs};
pub use stats::{Stats, StatsSnapshot, names};
pub use test_card::{TestCardData, luhn_check_digit};
pub(crate) use webhooks::until_stopped;
pub use webhooks::{ATTEMPT_TIMEOUT, Delivery, REORDER_MAX_HOLD, Signer, WebhookDispatcher, every};

use super::config::{ProviderSettings, SandboxConfig};
use super::fixtures::Fixtures;
use cardbatch_types::ProviderKind;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The state shared by every provider router. Provider names are
/// [`ProviderKind::as_str`] (`uqpay`, `alchemypay_vcc`, `qitech_prepaid`, `qitech_postpaid`).
#[derive(Debug)]
pub struct Core {
    pub config: SandboxConfig,
    pub fixtures: Fixtures,
    pub ledger: Ledger,
    pub stats: Arc<Stats>,
    pub webhooks: WebhookDispatcher,
    pub clock: Clock,
    /// Live faults; prefer [`Core::faults`] and [`Core::set_faults`].
    pub fault_board: Arc<FaultBoard>,
    rate_limits: RateLimits,
    settings: BTreeMap<ProviderKind, ProviderSettings>,
    shutdown: watch::Sender<bool>,
}

impl Core {
    /// Builds the core. Must be called inside a Tokio runtime (webhooks spawn tasks).
    pub fn new(config: SandboxConfig, fixtures: Fixtures) -> Arc<Core> {
        let settings: BTreeMap<ProviderKind, ProviderSettings> = ProviderKind::ALL
            .iter()
            .map(|&k| (k, config.provider(k)))
            .collect();
        let initial_faults = settings
            .iter()
            .map(|(k, s)| (k.as_str().to_string(), s.faults.clone()))
            .collect();
        let fault_board = Arc::new(FaultBoard::new(config.seed, initial_faults));
        let stats = Arc::new(Stats::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let webhooks = WebhookDispatcher::new(
            Arc::clone(&stats),
            Arc::clone(&fault_board),
            config.time_scale,
            shutdown_rx,
        );
        Arc::new(Core {
            config,
            fixtures,
            ledger: Ledger::default(),
            stats,
            webhooks,
            clock: Clock::default(),
            fault_board,
            rate_limits: RateLimits::default(),
            settings,
            shutdown,
        })
    }

    /// The settings of one provider (development credentials filled in).
    pub fn settings(&self, provider: ProviderKind) -> &ProviderSettings {
        &self.settings[&provider]
    }

    /// A snapshot of `provider`'s current faults.
    pub fn faults(&self, provider: &str) -> FaultConfig {
        self.fault_board.get(provider)
    }

    /// Replaces `provider`'s faults at run time.
    pub fn set_faults(&self, provider: &str, faults: FaultConfig) {
        self.fault_board.set(provider, faults);
    }

    /// `true` with probability `p`, on `provider`'s seeded RNG.
    pub fn roll(&self, provider: &str, p: f64) -> bool {
        self.fault_board.rng(provider).roll(p)
    }

    /// Decides the fault of one create call and counts it in the stats
    /// (`faults_transient` / `faults_lost_response`).
    pub fn create_fault(&self, provider: &str) -> CreateFault {
        let faults = self.faults(provider);
        let fault = self.fault_board.rng(provider).create_fault(&faults);
        match fault {
            CreateFault::None => {}
            CreateFault::Transient => self.stats.incr(provider, names::FAULTS_TRANSIENT),
            CreateFault::LostResponse => self.stats.incr(provider, names::FAULTS_LOST_RESPONSE),
        }
        fault
    }

    /// Takes a rate-limit permit for `credential`; `Err(retry_after)` is a 429 (counted as
    /// `rate_limited`).
    pub fn rate_limit(&self, provider: &str, credential: &str) -> Result<(), Duration> {
        let faults = self.faults(provider);
        let mut result = self
            .rate_limits
            .check(provider, credential, &faults, self.clock.now_ms());
        if result.is_ok() && self.roll(provider, faults.rate_limited_rate) {
            result = Err(Duration::ZERO);
        }
        if result.is_err() {
            self.stats.incr(provider, names::RATE_LIMITED);
        }
        result
    }

    /// Sleeps the configured latency of `provider` (fixed plus seeded jitter).
    pub async fn latency(&self, provider: &str) {
        let faults = self.faults(provider);
        let jitter = self
            .fault_board
            .rng(provider)
            .up_to(faults.latency_jitter_ms);
        let total = faults.latency_ms + jitter;
        if total > 0 {
            tokio::time::sleep(Duration::from_millis(total)).await;
        }
    }

    /// A delay multiplied by `time_scale`.
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.config.time_scale)
    }

    /// Runs `fut` after `delay` (scaled by `time_scale`), unless the sandbox shuts down first.
    pub fn after<F>(&self, delay: Duration, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let delay = self.scaled(delay);
        let mut shutdown = self.shutdown.subscribe();
        tokio::spawn(async move {
            if webhooks::sleep_unless_shutdown(delay, &mut shutdown).await {
                fut.await;
            }
        });
    }

    /// Records a created card in the ledger (sandbox clock time) and counts `cards_created`.
    pub fn record_card(
        &self,
        provider: &str,
        card_id: &str,
        status: &str,
        references: BTreeMap<String, String>,
    ) {
        let created_at = self.clock.now().to_rfc3339();
        self.ledger
            .record(provider, card_id, status, &created_at, references);
        self.stats.incr(provider, names::CARDS_CREATED);
    }

    /// Resolves when the sandbox is shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops lifecycle timers and webhook deliveries.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }
}
