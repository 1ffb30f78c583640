//! Webhook and callback delivery: one task per delivery, retried on any non-2xx answer (or no
//! answer) along the provider's schedule scaled by `time_scale`, with the webhook faults applied.
//!
//! Faults, rolled once per delivery on the provider's seeded RNG, in this order:
//! 1. drop: never sent;
//! 2. reorder: held back until the next delivery of the same provider has made its first
//!    attempt (or [`REORDER_MAX_HOLD`] passed), so the receiver sees the two swapped;
//! 3. delay: the first attempt waits `webhook_delay_ms` more;
//! 4. duplicate: once the first attempt is made, an identical copy is delivered (with its own
//!    retries), as an at-least-once provider does.
//!
//! The signer is called on every attempt, so a timestamped signature is fresh each time.

use super::faults::FaultBoard;
use super::stats::{Stats, names};
use axum::body::Bytes;
use axum::http::{HeaderName, HeaderValue};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// The longest a reordered delivery waits for a successor.
pub const REORDER_MAX_HOLD: Duration = Duration::from_secs(5);

/// Timeout of one delivery attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// Computes the headers that sign a body (called per attempt).
pub type Signer = Arc<dyn Fn(&[u8]) -> Vec<(HeaderName, HeaderValue)> + Send + Sync>;

/// One webhook or callback to deliver.
#[derive(Clone)]
pub struct Delivery {
    pub url: String,
    pub body: Bytes,
    pub sign: Signer,
    /// Waits before the 2nd, 3rd, ... attempts, unscaled; its length is the number of retries.
    pub schedule: Vec<Duration>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("url", &self.url)
            // Not the body: an Alchemy Pay callback carries the card's number and cvc.
            .field("body_len", &self.body.len())
            .field("schedule", &self.schedule)
            .finish()
    }
}

impl Delivery {
    /// A delivery with no signature headers.
    pub fn unsigned(
        url: impl Into<String>,
        body: impl Into<Bytes>,
        schedule: Vec<Duration>,
    ) -> Self {
        Delivery {
            url: url.into(),
            body: body.into(),
            sign: Arc::new(|_| Vec::new()),
            schedule,
        }
    }
}

/// `n` retries, `every` apart.
pub fn every(every: Duration, n: usize) -> Vec<Duration> {
    vec![every; n]
}

struct Shared {
    http: reqwest::Client,
    stats: Arc<Stats>,
    faults: Arc<FaultBoard>,
    time_scale: f64,
    held: Mutex<HashMap<String, oneshot::Sender<()>>>,
    shutdown: watch::Receiver<bool>,
}

/// Sends deliveries in the background.
#[derive(Clone)]
pub struct WebhookDispatcher {
    shared: Arc<Shared>,
}

impl fmt::Debug for WebhookDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookDispatcher")
            .field("time_scale", &self.shared.time_scale)
            .finish()
    }
}

impl WebhookDispatcher {
    /// A dispatcher counting into `stats`, reading faults from `faults`, stopping on `shutdown`.
    pub fn new(
        stats: Arc<Stats>,
        faults: Arc<FaultBoard>,
        time_scale: f64,
        shutdown: watch::Receiver<bool>,
    ) -> WebhookDispatcher {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .build()
            .expect("a plain reqwest client builds");
        WebhookDispatcher {
            shared: Arc::new(Shared {
                http,
                stats,
                faults,
                time_scale,
                held: Mutex::new(HashMap::new()),
                shutdown,
            }),
        }
    }

    /// Queues a delivery for `provider`; returns at once.
    pub fn send(&self, provider: &str, delivery: Delivery) {
        let s = &self.shared;
        let faults = s.faults.get(provider);
        let rng = s.faults.rng(provider);
        if rng.roll(faults.webhook_drop_rate) {
            s.stats.incr(provider, names::WEBHOOKS_DROPPED);
            return;
        }
        let reorder = rng.roll(faults.webhook_reorder_rate);
        let delay = rng.roll(faults.webhook_delay_rate);
        let duplicate = rng.roll(faults.webhook_duplicate_rate);

        let (release, hold) = {
            let mut held = s.held.lock().expect("held lock");
            let release = held.remove(provider);
            let hold = if reorder && release.is_none() {
                let (tx, rx) = oneshot::channel();
                held.insert(provider.to_string(), tx);
                Some(rx)
            } else {
                None
            };
            (release, hold)
        };
        if hold.is_some() {
            s.stats.incr(provider, names::WEBHOOKS_REORDERED);
        }
        if delay {
            s.stats.incr(provider, names::WEBHOOKS_DELAYED);
        }
        if duplicate {
            s.stats.incr(provider, names::WEBHOOKS_DUPLICATED);
        }
        let shared = Arc::clone(&self.shared);
        let provider = provider.to_string();
        let delay = delay.then(|| Duration::from_millis(faults.webhook_delay_ms));
        tokio::spawn(async move {
            let mut shutdown = shared.shutdown.clone();
            if let Some(hold) = hold {
                tokio::select! {
                    _ = hold => {}
                    _ = tokio::time::sleep(REORDER_MAX_HOLD) => {}
                    _ = until_stopped(&mut shutdown) => return,
                }
            }
            if let Some(delay) = delay
                && !sleep_unless_shutdown(delay, &mut shutdown).await
            {
                return;
            }
            let mut after_first: Vec<oneshot::Sender<()>> = release.into_iter().collect();
            let copy = if duplicate {
                let (tx, rx) = oneshot::channel();
                after_first.push(tx);
                Some((delivery.clone(), rx))
            } else {
                None
            };
            let original = run(Arc::clone(&shared), provider.clone(), delivery, after_first);
            match copy {
                Some((copy, first_made)) => {
                    let original = tokio::spawn(original);
                    // The copy starts once the original made its first attempt, so a receiver
                    // sees the same event twice, in that order.
                    let _ = first_made.await;
                    run(shared, provider, copy, Vec::new()).await;
                    let _ = original.await;
                }
                None => original.await,
            }
        });
    }
}

/// Attempts until a 2xx, the schedule runs out, or shutdown. `after_first` are fired once the
/// first attempt is made (they let a held-back delivery or a duplicate go).
async fn run(
    shared: Arc<Shared>,
    provider: String,
    delivery: Delivery,
    mut after_first: Vec<oneshot::Sender<()>>,
) {
    let mut shutdown = shared.shutdown.clone();
    let mut attempt = 0usize;
    loop {
        let ok = attempt_once(&shared, &provider, &delivery, attempt).await;
        for notify in after_first.drain(..) {
            let _ = notify.send(());
        }
        if ok {
            shared.stats.incr(&provider, names::WEBHOOKS_DELIVERED);
            return;
        }
        let Some(wait) = delivery.schedule.get(attempt) else {
            // Given up, as the provider would: the sandbox goes on (a receiver that is not
            // running, such as cardbatch at its default address, only costs these retries).
            tracing::warn!(
                provider,
                url = %delivery.url,
                attempts = attempt + 1,
                "webhook given up: no 2xx answer"
            );
            shared.stats.incr(&provider, names::WEBHOOKS_FAILED);
            return;
        };
        let wait = wait.mul_f64(shared.time_scale);
        if !sleep_unless_shutdown(wait, &mut shutdown).await {
            return;
        }
        attempt += 1;
    }
}

async fn attempt_once(
    shared: &Shared,
    provider: &str,
    delivery: &Delivery,
    attempt: usize,
) -> bool {
    shared.stats.incr(provider, names::WEBHOOKS_SENT);
    if attempt > 0 {
        shared.stats.incr(provider, names::WEBHOOKS_RETRIED);
    }
    let mut request = shared
        .http
        .post(&delivery.url)
        .header("content-type", "application/json")
        .body(delivery.body.clone());
    for (name, value) in (delivery.sign)(&delivery.body) {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) => response.status().is_success(),
        Err(e) => {
            tracing::debug!(provider, url = %delivery.url, error = %e, "webhook attempt failed");
            false
        }
    }
}

/// Sleeps `d`; `false` when the sandbox shut down first.
pub(crate) async fn sleep_unless_shutdown(
    d: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    if *shutdown.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = until_stopped(shutdown) => false,
    }
}

/// Resolves once `shutdown` holds `true` (or its sender is gone).
pub(crate) async fn until_stopped(shutdown: &mut watch::Receiver<bool>) {
    // The guard returned by `wait_for` is not `Send`; dropping it here keeps callers' futures
    // `Send`.
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}
