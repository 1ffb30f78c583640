//! A recording HTTP server on 127.0.0.1:0 standing in for cardbatch: it keeps every webhook or
//! callback it gets, can answer 500 a given number of times, and plays Alchemy Pay's merchant
//! side of reverse validation on `GET /check?orderNo=` (or cardbatch's
//! `/alchemypay/create-check`).

use super::alchemypay::alchemy_sign;
use super::sandbox::WAIT;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The paths reverse validation is served on: the tests' own, and cardbatch's route.
const CHECK_PATHS: [&str; 2] = ["/check", "/alchemypay/create-check"];

fn is_check(path_and_query: &str) -> bool {
    CHECK_PATHS.iter().any(|p| path_and_query.starts_with(p))
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The status the receiver answered.
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How the receiver answers Alchemy Pay's reverse validation `GET /check?orderNo=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckMode {
    /// 200 `{"success":true}` signed with the merchant's secret.
    Accept,
    /// 200 `{"success":false}`, signed: "I did not send this order".
    Refuse,
    /// 200 `{"success":true}` with a signature made with the wrong secret.
    BadSignature,
    /// 500.
    Down,
}

struct Inner {
    received: Mutex<Vec<Received>>,
    fail_next: AtomicUsize,
    /// How many deliveries [`Receiver::next`] has handed out.
    taken: AtomicUsize,
    notify: Notify,
    check_mode: Mutex<CheckMode>,
    merchant_key: String,
    merchant_secret: String,
}

/// A recording receiver on 127.0.0.1:0.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    inner: Arc<Inner>,
}

impl Receiver {
    /// Starts a receiver; `merchant_key`/`merchant_secret` sign reverse-validation answers.
    pub async fn start_with(merchant_key: &str, merchant_secret: &str) -> Receiver {
        let inner = Arc::new(Inner {
            received: Mutex::new(Vec::new()),
            fail_next: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            notify: Notify::new(),
            check_mode: Mutex::new(CheckMode::Accept),
            merchant_key: merchant_key.to_string(),
            merchant_secret: merchant_secret.to_string(),
        });
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&inner));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { base, inner }
    }

    /// A receiver whose reverse-validation answers are signed with the development
    /// Alchemy Pay credentials.
    pub async fn start() -> Receiver {
        Receiver::start_with("ach-sandbox-app-key", "ach-sandbox-secret-key").await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The next `n` requests (other than reverse validation) are answered 500.
    pub fn fail_next(&self, n: usize) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn set_check_mode(&self, mode: CheckMode) {
        *self.inner.check_mode.lock().unwrap() = mode;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Requests received on paths starting with `prefix`.
    pub fn received_on(&self, prefix: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path_and_query.starts_with(prefix))
            .collect()
    }

    /// Waits until at least `n` requests arrived on paths starting with `prefix`.
    pub async fn wait_for(&self, prefix: &str, n: usize) -> Vec<Received> {
        self.wait_until(|| {
            let got = self.received_on(prefix);
            (got.len() >= n).then_some(got)
        })
        .await
        .unwrap_or_else(|| panic!("timed out waiting for {n} requests on {prefix}"))
    }

    /// The next delivery (anything but reverse validation) in arrival order, each handed out
    /// once.
    pub async fn next(&self) -> Received {
        let taken = self.inner.taken.fetch_add(1, Ordering::SeqCst);
        self.wait_until(|| {
            self.received()
                .into_iter()
                .filter(|r| !is_check(&r.path_and_query))
                .nth(taken)
        })
        .await
        .unwrap_or_else(|| panic!("timed out waiting for delivery #{}", taken + 1))
    }

    /// Re-evaluates `found` on every arrival until it gives something or [`WAIT`] passes.
    async fn wait_until<T>(&self, mut found: impl FnMut() -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            // Registered before the check, so an arrival in between still wakes us.
            let notified = self.inner.notify.notified();
            if let Some(t) = found() {
                return Some(t);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

async fn record(
    State(inner): State<Arc<Inner>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (answered, response) = if is_check(&path_and_query) {
        check_answer(&inner, &path_and_query)
    } else {
        let failing = inner
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            (
                500,
                (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response(),
            )
        } else {
            (200, (StatusCode::OK, "ok").into_response())
        }
    };
    inner.received.lock().unwrap().push(Received {
        path_and_query,
        headers,
        body,
        answered,
    });
    inner.notify.notify_waiters();
    response
}

fn check_answer(inner: &Inner, path_and_query: &str) -> (u16, Response) {
    let mode = *inner.check_mode.lock().unwrap();
    if mode == CheckMode::Down {
        return (500, StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    let body = if mode == CheckMode::Refuse {
        r#"{"success":false}"#
    } else {
        r#"{"success":true}"#
    };
    let secret = if mode == CheckMode::BadSignature {
        "not-the-merchant-secret"
    } else {
        inner.merchant_secret.as_str()
    };
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let sign = alchemy_sign(secret, &ts, "GET", path_and_query, body);
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "ach-access-key",
        HeaderValue::from_str(&inner.merchant_key).unwrap(),
    );
    h.insert("ach-access-timestamp", HeaderValue::from_str(&ts).unwrap());
    h.insert("ach-access-sign", HeaderValue::from_str(&sign).unwrap());
    (200, response)
}
