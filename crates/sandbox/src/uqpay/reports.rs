//! Issuing reports: `POST /v1/issuing/reports` (`{report_type: SETTLEMENT | LEDGER, start_time,
//! end_time}`, with `x-idempotency-key`) answers `{report_id}`; `GET /v1/issuing/reports/{id}`
//! downloads the file.
//!
//! Sandbox choices where the spec is silent [inferred]: the file is CSV (`text/csv`), made when
//! it is downloaded, over the report's window: `LEDGER` lists the issuing balance's movements
//! (funding, recharges, withdrawals, refunds), `SETTLEMENT` card transactions, of which there
//! are none here (a header only). Times are RFC 3339; a window that ends before it starts, or
//! another type, is `invalid_request`. Reports of another client are not found.

use super::Uqpay;
use super::idempotency::{fingerprint, keyed_write};
use super::lookup::read_with;
use super::wire::{ApiError, missing_text, parse_body, text};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The report types UQPAY accepts.
const REPORT_TYPES: [&str; 2] = ["SETTLEMENT", "LEDGER"];

/// One requested report.
#[derive(Debug, Clone)]
struct Report {
    client_id: String,
    report_type: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// The reports made, by id.
#[derive(Debug, Default)]
pub struct ReportStore {
    reports: Mutex<HashMap<String, Report>>,
}

/// `POST /v1/issuing/reports`.
pub async fn create_report(
    State(uqpay): State<Arc<Uqpay>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    keyed_write(&uqpay, &headers, fingerprint(&body), |client| {
        let request = parse_body(&body)?;
        let field = |name: &str| text(&request, name);
        let missing = missing_text(&request, &["report_type", "start_time", "end_time"]);
        if !missing.is_empty() {
            return Err(ApiError::missing(missing));
        }
        let report_type = field("report_type").unwrap_or_default();
        if !REPORT_TYPES.contains(&report_type) {
            return Err(ApiError::invalid(
                "invalid_request",
                format!("report_type must be SETTLEMENT or LEDGER, not {report_type}"),
            ));
        }
        let time = |name: &str| {
            DateTime::parse_from_rfc3339(field(name).unwrap_or_default())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::invalid("invalid_request", format!("{name} is not an RFC 3339 time"))
                })
        };
        let (start, end) = (time("start_time")?, time("end_time")?);
        if end < start {
            return Err(ApiError::invalid(
                "invalid_request",
                "end_time is before start_time",
            ));
        }
        let report_id = uuid::Uuid::new_v4().to_string();
        uqpay.reports.reports.lock().expect("reports lock").insert(
            report_id.clone(),
            Report {
                client_id: client.to_string(),
                report_type: report_type.to_string(),
                start,
                end,
            },
        );
        Ok(json!({ "report_id": report_id }))
    })
    .await
}

/// `GET /v1/issuing/reports/{id}`: the file.
pub async fn download_report(
    State(uqpay): State<Arc<Uqpay>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let csv = read_with(&uqpay, &headers, |client| {
        let report = uqpay
            .reports
            .reports
            .lock()
            .expect("reports lock")
            .get(&id)
            .filter(|r| r.client_id == client)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(
                    StatusCode::NOT_FOUND,
                    "report_not_found",
                    "Report does not exist",
                )
            })?;
        Ok(match report.report_type.as_str() {
            "LEDGER" => uqpay.funds.ledger_csv(report.start, report.end),
            _ => "transaction_id,card_id,transaction_type,amount,currency,settlement_time\n"
                .to_string(),
        })
    })
    .await?;
    let mut response = (StatusCode::OK, csv).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}
