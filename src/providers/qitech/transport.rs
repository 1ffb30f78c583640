//! One signed HTTP exchange with QI Tech: sign, send the exact bytes signed, read (and, with
//! QI's public key, verify) the answer, and time it for the `attempts` table.

use super::signing::{AnswerError, RequestSigner, read_answer};
use crate::providers::http::{classify_transport, retry_after};
use crate::providers::{CallKind, CallReport, Classified};
use p521::ecdsa::VerifyingKey;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends signed requests to one QI base URL.
pub struct QiTransport {
    http: reqwest::Client,
    /// `scheme://host[:port]` of the base URL.
    origin: String,
    /// The base URL's path without a trailing `/` (`""`, or e.g. the sandbox's `/qitech`): it is
    /// part of the path QI's signature covers.
    base_path: String,
    signer: Arc<RequestSigner>,
    qi_key: Option<Arc<VerifyingKey>>,
}

/// A QI answer that arrived and could be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON QI sent (v1: the claims of `encoded_body`); `Null` for an empty or non-JSON body.
    pub json: Value,
    /// `Retry-After`, when given.
    pub retry_after: Option<Duration>,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// QI's error `code`, when the body is the error envelope.
    pub fn code(&self) -> Option<&str> {
        self.json.get("code").and_then(Value::as_str)
    }

    /// QI's English `description` of an error (no personal data: it names keys and statuses).
    pub fn description(&self) -> &str {
        self.json
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// One exchange: when it started, how long it took, and the answer or what the transport did.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// Unix ms.
    pub started_at_ms: i64,
    /// Milliseconds, signing included.
    pub duration_ms: i64,
    /// The answer, or the classification of its absence (connection refused: transient; lost
    /// or untrustworthy: unknown).
    pub answer: Result<Answer, Classified>,
    /// The HTTP status, also when the answer could not be trusted.
    pub http_status: Option<u16>,
}

impl Exchange {
    /// The record of this exchange as `classified`.
    pub fn report(&self, kind: CallKind, classified: Classified) -> CallReport {
        let provider_code = self
            .answer
            .as_ref()
            .ok()
            .and_then(Answer::code)
            .map(str::to_string);
        CallReport {
            kind,
            classified,
            started_at_ms: self.started_at_ms,
            duration_ms: self.duration_ms,
            http_status: self.http_status,
            provider_code,
        }
    }
}

/// The base URL cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("base_url {0:?} is not an http(s) URL")]
pub struct BadBaseUrl(String);

impl QiTransport {
    /// A transport to `base_url` (e.g. `https://api-auth.qitech.app` or the sandbox's
    /// `http://127.0.0.1:7070/qitech`).
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        signer: RequestSigner,
        qi_key: Option<VerifyingKey>,
    ) -> Result<QiTransport, BadBaseUrl> {
        let url = reqwest::Url::parse(base_url).map_err(|_| BadBaseUrl(base_url.into()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(BadBaseUrl(base_url.into()));
        }
        let origin = url.origin().ascii_serialization();
        let base_path = url.path().trim_end_matches('/').to_string();
        Ok(QiTransport {
            http,
            origin,
            base_path,
            signer: Arc::new(signer),
            qi_key: qi_key.map(Arc::new),
        })
    }

    /// Signs and sends `method path` (relative to the base URL) with `body` (serialised JSON),
    /// and reads the answer.
    pub async fn call(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Exchange {
        let started_at_ms = chrono::Utc::now().timestamp_millis();
        let clock = Instant::now();
        let full_path = format!("{}{path}", self.base_path);
        let elapsed =
            |clock: Instant| i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);

        // A P-521 signature takes over a millisecond of CPU: keep it off the async threads.
        let signer = Arc::clone(&self.signer);
        let (sign_method, sign_path) = (method.as_str().to_string(), full_path.clone());
        let signed = tokio::task::spawn_blocking(move || {
            signer.sign(
                &sign_method,
                &sign_path,
                body.as_deref(),
                chrono::Utc::now(),
            )
        })
        .await
        .expect("signing does not panic");

        let mut request = self
            .http
            .request(method.clone(), format!("{}{full_path}", self.origin));
        for (name, value) in signed.headers {
            request = request.header(name, value);
        }
        if let Some(bytes) = signed.body {
            request = request.body(bytes);
        }
        let (status, headers, bytes) = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                match response.bytes().await {
                    Ok(bytes) => (status, headers, bytes),
                    Err(e) => {
                        return Exchange {
                            started_at_ms,
                            duration_ms: elapsed(clock),
                            answer: Err(classify_transport(&e)),
                            http_status: Some(status),
                        };
                    }
                }
            }
            Err(e) => {
                return Exchange {
                    started_at_ms,
                    duration_ms: elapsed(clock),
                    answer: Err(classify_transport(&e)),
                    http_status: None,
                };
            }
        };
        let read = self.read(&headers, bytes).await;
        let answer = read
            .map(|json| Answer {
                status,
                json,
                retry_after: retry_after(&headers),
            })
            .map_err(|e| Classified::Unknown {
                code: "unverified_answer".into(),
                message: format!("HTTP {status}: {e}; the request may have been carried out"),
            });
        Exchange {
            started_at_ms,
            duration_ms: elapsed(clock),
            answer,
            http_status: Some(status),
        }
    }

    async fn read<B: AsRef<[u8]> + Send + 'static>(
        &self,
        headers: &reqwest::header::HeaderMap,
        bytes: B,
    ) -> Result<Value, AnswerError> {
        let variant = self.signer.variant();
        let Some(key) = &self.qi_key else {
            return read_answer(
                variant,
                None,
                self.signer.api_key(),
                headers,
                bytes.as_ref(),
            );
        };
        // Verifying is as costly as signing: off the async threads too.
        let (key, signer, headers) = (Arc::clone(key), Arc::clone(&self.signer), headers.clone());
        tokio::task::spawn_blocking(move || {
            read_answer(
                variant,
                Some(&key),
                signer.api_key(),
                &headers,
                bytes.as_ref(),
            )
        })
        .await
        .expect("verifying does not panic")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::qitech::jws;
    use crate::providers::qitech::signing::Variant;
    use crate::sandbox::qitech::DEV_CLIENT_PRIVATE_KEY_PEM;

    fn transport(base_url: &str) -> Result<QiTransport, BadBaseUrl> {
        let key = jws::private_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM).unwrap();
        QiTransport::new(
            reqwest::Client::new(),
            base_url,
            RequestSigner::new("k".into(), key, Variant::V2),
            None,
        )
    }

    #[test]
    fn the_base_path_is_kept_for_signing_without_a_trailing_slash() {
        let t = transport("http://127.0.0.1:7070/qitech/").unwrap();
        assert_eq!(t.origin, "http://127.0.0.1:7070");
        assert_eq!(t.base_path, "/qitech");
        let root = transport("https://api-auth.qitech.app").unwrap();
        assert_eq!(root.base_path, "");
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        assert!(transport("ftp://x").is_err());
        assert!(transport("not a url").is_err());
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_with_no_status() {
        // Arrange: a port that was just free, so nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let t = transport(&format!("http://{addr}")).unwrap();

        // Act
        let exchange = t.call(Method::GET, "/prepaid/card/x", None).await;

        // Assert
        assert!(
            matches!(exchange.answer, Err(Classified::Transient { .. })),
            "{exchange:?}"
        );
        assert_eq!(exchange.http_status, None);
    }
}
