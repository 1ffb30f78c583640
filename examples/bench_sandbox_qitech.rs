//! Create calls per second the QI Tech sandbox sustains with auth on (ES512 verification of
//! every request, ES512 signing of every answer), over real HTTP on loopback.
//!
//! `cargo run --release --example bench_sandbox_qitech -- [REQUESTS] [CONCURRENCY]`
//!
//! Requests are signed before the clock starts (with the dev client key the sandbox accepts by
//! default), so the number measures the sandbox, not the client's signing; both share the
//! machine's cores, as they would in a local test run.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use cardbatch::sandbox::qitech::{
    DEV_CLIENT_PRIVATE_KEY_PEM, Signed, sign_v1, sign_v2, signing_key_from_pem,
};
use cardbatch::sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

const API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";
const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";

#[derive(Clone, Copy, Debug)]
enum Case {
    PrepaidV1,
    PrepaidV2,
    PostpaidV2,
}

impl Case {
    fn path(self) -> String {
        match self {
            Case::PrepaidV1 | Case::PrepaidV2 => "/qitech/prepaid/card".into(),
            Case::PostpaidV2 => format!("/qitech/wallet/{WALLET}/payment_instrument"),
        }
    }

    fn body(self, i: usize) -> Value {
        match self {
            Case::PrepaidV1 | Case::PrepaidV2 => json!({
                "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
                "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
                "type": "virtual",
                "card_name": format!("bench{i}"),
                "printed_name": "Aurora Catarina",
                "cvv_rotation_interval_hours": 72
            }),
            Case::PostpaidV2 => json!({
                "request_control_key": uuid::Uuid::new_v4().to_string(),
                "person_key": "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8",
                "payment_instrument_type": "postpaid_card",
                "postpaid_card_data": {
                    "card_type": "virtual", "card_name": format!("bench{i}"),
                    "printed_name": "JOAO SILVA", "cvv_rotation_interval_hours": 24
                }
            }),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let requests: usize = args
        .next()
        .map_or(Ok(2_000), |a| a.parse())
        .context("REQUESTS")?;
    let concurrency: usize = args
        .next()
        .map_or(Ok(16), |a| a.parse())
        .context("CONCURRENCY")?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sandbox = Sandbox::start(SandboxConfig::default(), listener)?;
    let base = sandbox.base_url();
    let key = signing_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;

    println!(
        "QI Tech sandbox, {requests} creates per case, {concurrency} concurrent clients, auth on"
    );
    for case in [Case::PrepaidV1, Case::PrepaidV2, Case::PostpaidV2] {
        let now = chrono::Utc::now();
        let signed: Vec<Signed> = (0..requests)
            .map(|i| {
                let body = case.body(i);
                match case {
                    Case::PrepaidV1 => {
                        sign_v1(&key, API_KEY, "POST", &case.path(), Some(&body), now)
                    }
                    _ => sign_v2(&key, API_KEY, "POST", &case.path(), Some(&body), now),
                }
            })
            .collect();
        let queue = Arc::new(std::sync::Mutex::new(signed));
        let url = format!("{base}{}", case.path());

        let started = Instant::now();
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (queue, http, url) = (Arc::clone(&queue), http.clone(), url.clone());
                tokio::spawn(async move {
                    let mut created = 0usize;
                    loop {
                        let Some(req) = queue.lock().expect("queue lock").pop() else {
                            return created;
                        };
                        let mut builder = http.post(&url).body(req.body);
                        for (name, value) in req.headers {
                            builder = builder.header(name, value);
                        }
                        let response = builder.send().await.expect("the sandbox answers");
                        let status = response.status();
                        let _ = response.bytes().await;
                        if status == 201 {
                            created += 1;
                        }
                    }
                })
            })
            .collect();
        let mut created = 0;
        for worker in workers {
            created += worker.await?;
        }
        let elapsed = started.elapsed();
        println!(
            "{case:?}: {created}/{requests} created in {:.2} s = {:.0} creates/s",
            elapsed.as_secs_f64(),
            created as f64 / elapsed.as_secs_f64()
        );
    }
    sandbox.shutdown().await;
    Ok(())
}
