//! Shared by the end-to-end tests: cardbatch against the sandbox over loopback.
//!
//! A test starts the sandbox (with faults) on 127.0.0.1:0, cardbatch's own server (Alchemy Pay
//! reverse validation) on 127.0.0.1:0, a store on its own database, submits a generated CSV
//! through the real ingest path, runs the worker runtime with the real clients and the
//! [`IssueHandler`] until every order has settled, and reads the sandbox's ledger.
#![allow(dead_code)]

pub mod process;

use crate::common::TestDb;
use cardbatch::config::{Profile, WorkerConfig};
use cardbatch::domain::{Cpf, OrderState, ProviderKind};
use cardbatch::ingest::{SubmitOptions, SubmitOutcome, submit};
use cardbatch::providers::alchemypay::CheckKeys;
use cardbatch::providers::{Credentials, ProviderEnv};
use cardbatch::sandbox::config::{
    DEV_ALCHEMYPAY_ACCESS_KEY, DEV_ALCHEMYPAY_SECRET_KEY, DEV_UQPAY_API_KEY, DEV_UQPAY_CLIENT_ID,
};
use cardbatch::sandbox::qitech::DEV_CLIENT_PRIVATE_KEY_PEM;
use cardbatch::sandbox::{FaultConfig, ProviderSettings, RunningSandbox, Sandbox, SandboxConfig};
use cardbatch::store::{OrderRow, Store};
use cardbatch::worker::{IssueHandler, RunReport, Runtime};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;
use uuid::Uuid;

/// The API key of the built-in QI Tech fixtures.
pub const QI_API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";
/// How long a batch may take to settle before the test fails (generous: 2 cores, debug build).
pub const SETTLE: Duration = Duration::from_secs(180);

/// The states an order is still moving in.
pub const MOVING: [OrderState; 4] = [
    OrderState::Queued,
    OrderState::InFlight,
    OrderState::RetryWait,
    OrderState::InDoubt,
];

/// The fault mix of the issue's acceptance test: 10% transient errors, 5% lost responses and 5%
/// of requests answered 429; [`limited_faults`] adds 429s from a sandbox limit below the
/// profile's rate.
pub fn batch_faults() -> FaultConfig {
    FaultConfig {
        transient_error_rate: 0.10,
        lost_response_rate: 0.05,
        rate_limited_rate: 0.05,
        ..FaultConfig::default()
    }
}

/// [`batch_faults`] plus a sandbox rate limit of `per_sec` with a fifth of a second's burst: a
/// profile pushing harder than that meets 429s until its lane slows down.
pub fn limited_faults(per_sec: f64) -> FaultConfig {
    FaultConfig {
        rate_limit_per_sec: Some(per_sec),
        rate_limit_burst: Some(((per_sec / 5.0) as u32).max(1)),
        ..batch_faults()
    }
}

/// The credentials the sandbox accepts for `kind`.
pub fn dev_credentials(kind: ProviderKind) -> Vec<(&'static str, &'static str)> {
    match kind {
        ProviderKind::Uqpay => vec![
            ("client_id", DEV_UQPAY_CLIENT_ID),
            ("api_key", DEV_UQPAY_API_KEY),
        ],
        ProviderKind::AlchemypayVcc => vec![
            ("access_key", DEV_ALCHEMYPAY_ACCESS_KEY),
            ("secret_key", DEV_ALCHEMYPAY_SECRET_KEY),
        ],
        ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid => vec![
            ("api_key", QI_API_KEY),
            ("private_key", DEV_CLIENT_PRIVATE_KEY_PEM),
        ],
    }
}

/// The ledger reference that carries the order's idempotency key, per provider.
pub fn ledger_key(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Uqpay => "idempotency_key",
        ProviderKind::QitechPrepaid => "card_name",
        ProviderKind::QitechPostpaid => "request_control_key",
        ProviderKind::AlchemypayVcc => "orderNo",
    }
}

/// A profile for `kind` on the test's sandbox: quick retries, enough attempts to ride out the
/// fault mix, `concurrency` calls at once at `rate` per second.
pub fn profile(
    kind: ProviderKind,
    sandbox: &RunningSandbox,
    rate: f64,
    concurrency: u32,
) -> Profile {
    let mut p = Profile::sandbox(kind, &sandbox.addr().to_string());
    p.rate_limit_per_sec = rate;
    p.concurrency = concurrency;
    p.max_attempts = 40;
    p.backoff_base_ms = 5;
    p.backoff_cap_ms = 200;
    p
}

/// Worker settings for tests: small claims, quick polls.
pub fn worker_config() -> WorkerConfig {
    WorkerConfig {
        lease_secs: 30,
        claim_batch: 16,
        idle_poll_ms: 10,
        shutdown_grace_secs: 10,
    }
}

/// A running end-to-end setup for one provider.
pub struct E2e {
    pub kind: ProviderKind,
    pub db: TestDb,
    pub store: Store,
    pub sandbox: RunningSandbox,
    /// cardbatch's server (reverse validation), e.g. `http://127.0.0.1:port`.
    pub server_url: String,
    pub profile: Profile,
    pub dir: tempfile::TempDir,
}

impl E2e {
    /// Starts the sandbox with `faults` for `kind`, cardbatch's server, and a store on `db`.
    pub async fn start(kind: ProviderKind, db: TestDb, faults: FaultConfig, rate: f64) -> E2e {
        Self::start_with(kind, db, faults, rate, &[]).await
    }

    /// [`E2e::start`] with sandbox provider `options` (e.g. QI's `conflict_reveals_keys`).
    pub async fn start_with(
        kind: ProviderKind,
        db: TestDb,
        faults: FaultConfig,
        rate: f64,
        options: &[(&str, &str)],
    ) -> E2e {
        let store = db.store().await;
        store.migrate().await.expect("migrate");
        // cardbatch's server first: the sandbox's Alchemy Pay calls it back before creating.
        let mut keys = CheckKeys::new();
        if kind == ProviderKind::AlchemypayVcc {
            keys.add_profile(
                kind.as_str(),
                &Credentials::from_pairs(dev_credentials(kind)),
            )
            .unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server_url = format!("http://{}", listener.local_addr().unwrap());
        let app = cardbatch::server::app(store.clone(), keys);
        tokio::spawn(cardbatch::server::serve(
            listener,
            app,
            std::future::pending(),
        ));

        let mut settings = ProviderSettings {
            faults,
            ..ProviderSettings::default()
        };
        for (k, v) in options {
            settings.options.insert(k.to_string(), v.to_string());
        }
        if kind == ProviderKind::AlchemypayVcc {
            settings.options.insert(
                "check_url".into(),
                format!("{server_url}/alchemypay/create-check"),
            );
        }
        let config = SandboxConfig {
            seed: 7,
            ..SandboxConfig::default()
        }
        .with_provider(kind, settings);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sandbox = Sandbox::start(config, listener).expect("sandbox starts");
        let profile = profile(kind, &sandbox, rate, 8);
        E2e {
            kind,
            db,
            store,
            sandbox,
            server_url,
            profile,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The profile name (the provider's name).
    pub fn name(&self) -> &'static str {
        self.kind.as_str()
    }

    /// The issuing handler with the real client of this profile.
    pub fn handler(&self) -> IssueHandler {
        let env = ProviderEnv {
            http: cardbatch::providers::http::client(),
            store: self.store.clone(),
            public_url: self.server_url.clone(),
        };
        let kind = self.kind;
        IssueHandler::from_profiles(&self.profiles(), &env, |_, _| {
            Ok(Credentials::from_pairs(dev_credentials(kind)))
        })
        .expect("the client builds")
    }

    pub fn profiles(&self) -> BTreeMap<String, Profile> {
        BTreeMap::from([(self.name().to_string(), self.profile.clone())])
    }

    /// Submits `csv` through the real ingest path; returns the batch id.
    pub async fn submit_csv(&self, csv: &str) -> Uuid {
        let path = self.dir.path().join(format!("{}.csv", Uuid::new_v4()));
        std::fs::write(&path, csv).unwrap();
        let report = submit(
            &self.store,
            self.name(),
            &self.profile,
            &path,
            std::fs::File::open(&path).unwrap(),
            SubmitOptions::default(),
        )
        .await
        .expect("the file is submitted");
        assert_eq!(
            report.outcome,
            SubmitOutcome::Queued,
            "errors: {:?}",
            report.errors
        );
        report.batch_id
    }

    /// Runs the workers until no order is moving any more (or [`SETTLE`] passes).
    pub async fn run_until_settled(&self, handler: IssueHandler) -> RunReport {
        let store = self.store.clone();
        Runtime::new(
            self.store.clone(),
            self.profiles(),
            std::sync::Arc::new(handler),
            worker_config(),
        )
        .run(wait_settled(store))
        .await
        .expect("the runtime stops cleanly")
    }

    /// Orders of `batch` in line order.
    pub async fn orders(&self, batch: Uuid) -> Vec<OrderRow> {
        self.store.order_list(batch, None).await.unwrap()
    }

    /// Cards the sandbox created for `key` (the order's idempotency key).
    pub fn cards_for(&self, key: &str) -> u64 {
        self.sandbox
            .ledger()
            .count_for(self.kind.as_str(), ledger_key(self.kind), key)
    }

    /// A sandbox counter of this provider (`faults_transient`, `rate_limited`, ...).
    pub fn stat(&self, name: &str) -> u64 {
        self.sandbox.stats().get(self.kind.as_str(), name)
    }

    /// Checks the ledger against the store: every card of this provider carries the key of
    /// exactly one order, no key has two cards, and the orders with a card are exactly
    /// `expected` (order ids). Returns the number of cards.
    pub async fn assert_one_card_per_order(&self, expected: &[i64]) -> usize {
        assert_one_card_per_order(&self.sandbox, &self.store, self.kind, expected).await
    }
}

/// See [`E2e::assert_one_card_per_order`].
pub async fn assert_one_card_per_order(
    sandbox: &RunningSandbox,
    store: &Store,
    kind: ProviderKind,
    expected: &[i64],
) -> usize {
    let snapshot = sandbox.ledger().snapshot(Some(kind.as_str()));
    // Other references (a cardholder, metadata) legitimately repeat; the key must not.
    let duplicates: Vec<_> = snapshot
        .duplicates
        .iter()
        .filter(|d| d.name == ledger_key(kind))
        .collect();
    assert!(duplicates.is_empty(), "duplicate cards: {duplicates:?}");
    let mut carded = Vec::new();
    for card in &snapshot.cards {
        let key = card
            .references
            .get(ledger_key(kind))
            .unwrap_or_else(|| panic!("card {} has no {}", card.card_id, ledger_key(kind)));
        let (id, _) = store
            .order_find_by_key(kind, key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("card {} belongs to no order", card.card_id));
        carded.push(id);
    }
    carded.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(carded, want, "the orders with a card");
    snapshot.cards.len()
}

/// Resolves once no order of any batch is moving; panics after [`SETTLE`].
pub async fn wait_settled(store: Store) {
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let counts = store.order_count_by_state().await.unwrap();
        if MOVING.iter().all(|s| !counts.contains_key(s)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "orders still moving after {SETTLE:?}: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A CSV of `n` valid orders for `kind` with refs `{prefix}-{i}`; the rows whose index is in
/// `bad` get a value the provider refuses for good (unknown program / product / segment, a
/// limit above the wallet's).
pub fn csv(kind: ProviderKind, prefix: &str, n: usize, bad: &[usize]) -> String {
    let mut out = String::new();
    match kind {
        ProviderKind::QitechPrepaid => {
            out.push_str("order_ref,program_key,printed_name\n");
            for i in 0..n {
                let program = if bad.contains(&i) {
                    "0f0f0f0f-0000-4000-8000-000000000000"
                } else {
                    "7d405c31-ec9a-46c1-8ac8-54bab209bf41"
                };
                out.push_str(&format!("{prefix}-{i},{program},Ana Silva\n"));
            }
        }
        ProviderKind::QitechPostpaid => {
            out.push_str("order_ref,wallet_key,owner_person_type,owner_name,owner_document_number,owner_birthdate,owner_email,owner_phone_country_code,owner_phone_area_code,owner_phone_number,owner_street,owner_number,owner_neighborhood,owner_postal_code,owner_city,owner_state,limit_amount,card_type,card_name,printed_name,cvv_rotation_interval_hours\n");
            for i in 0..n {
                let wallet = if bad.contains(&i) {
                    // The small wallet: a limit above 1,000.00 is CIN000073.
                    "4a0b8d3f-2c5e-4f90-8b7d-6e3f9c8a2b41"
                } else {
                    "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30"
                };
                let base: [u8; 9] = [
                    1,
                    2,
                    3,
                    4,
                    5,
                    6,
                    (i / 100 % 10) as u8,
                    (i / 10 % 10) as u8,
                    (i % 10) as u8,
                ];
                let cpf = Cpf::from_base(base);
                out.push_str(&format!(
                    "{prefix}-{i},{wallet},natural,Ana Silva,{},1990-01-0{},ana{i}@example.com,55,11,99999{:04},Rua das Flores,{},Centro,01310100,São Paulo,SP,2000.00,virtual,Cartao {i},Ana Silva,24\n",
                    cpf.as_str(),
                    i % 9 + 1,
                    i,
                    i + 1
                ));
            }
        }
        ProviderKind::AlchemypayVcc => {
            out.push_str("order_ref,first_name,last_name,deposit,currency,vid\n");
            for i in 0..n {
                let vid = if bad.contains(&i) {
                    "vab_unknown"
                } else {
                    "USD"
                };
                out.push_str(&format!("{prefix}-{i},Ana,Silva,25.00,USD,{vid}\n"));
            }
        }
        ProviderKind::Uqpay => {
            out.push_str("order_ref,cardholder_id,card_product_id,card_currency,card_limit\n");
            for i in 0..n {
                let product = if bad.contains(&i) {
                    "0f0f0f0f-0000-4000-8000-000000000000"
                } else {
                    "467e993f-317a-49fc-9ea0-bf49de7d1f76"
                };
                out.push_str(&format!(
                    "{prefix}-{i},25ea804d-7fd5-43d5-8792-0fc0214cdb2f,{product},USD,100.00\n"
                ));
            }
        }
    }
    out
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The issue's acceptance scenario for `kind`: 200 orders through the real ingest path, 10%
/// transient errors, 5% lost responses and 429s from a sandbox limit below the profile's rate;
/// every order ends accepted, with exactly one card each.
pub async fn a_faulty_batch_ends_with_exactly_one_card_per_order(kind: ProviderKind, db: TestDb) {
    a_faulty_batch_ends_with_exactly_one_card_per_order_with(kind, db, &[]).await;
}

/// [`a_faulty_batch_ends_with_exactly_one_card_per_order`] with sandbox provider options.
pub async fn a_faulty_batch_ends_with_exactly_one_card_per_order_with(
    kind: ProviderKind,
    db: TestDb,
    options: &[(&str, &str)],
) {
    // Arrange: the sandbox allows 50 calls/s, the profile starts at 100/s.
    let e = E2e::start_with(kind, db, limited_faults(50.0), 100.0, options).await;
    let batch = e.submit_csv(&csv(kind, "e2e", 200, &[])).await;
    let handler = e.handler();

    // Act
    let report = e.run_until_settled(handler.clone()).await;

    // Assert: every order accepted (or beyond), one card each, no duplicate.
    let orders = e.orders(batch).await;
    assert_eq!(orders.len(), 200);
    for o in &orders {
        assert!(
            matches!(o.state, OrderState::Submitted | OrderState::Issued),
            "{} ended {:?} ({:?} {:?})",
            o.order_ref,
            o.state,
            o.last_error_code,
            o.last_error_message
        );
        assert!(o.provider_refs.is_some(), "{} has no refs", o.order_ref);
    }
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(e.assert_one_card_per_order(&ids).await, 200);
    // The faults did happen, so the test exercised retries, doubt and the lane.
    assert!(e.stat("faults_transient") > 0, "no transient fault fired");
    assert!(e.stat("faults_lost_response") > 0, "no response was lost");
    assert!(e.stat("rate_limited") > 0, "no 429 was answered");
    let lane = handler.lane(e.name()).unwrap().stats();
    println!(
        "{kind}: {} requests, {} transient, {} lost, {} rate limited; lane {lane:?}",
        e.stat("requests"),
        e.stat("faults_transient"),
        e.stat("faults_lost_response"),
        e.stat("rate_limited")
    );
    assert!(lane.rate_limited > 0, "the lane never saw a 429");
    assert!(report.completed() >= 200);
    // Every call left an attempt row: more rows than orders, because of the faults.
    let mut rows = 0;
    for o in &orders {
        rows += e.store.attempt_list(o.id).await.unwrap().len();
    }
    assert!(rows > 200, "{rows} attempt rows");
}

/// Orders the provider refuses for good are rejected with its code; the others get their card.
pub async fn a_permanent_error_rejects_exactly_the_affected_orders(
    kind: ProviderKind,
    db: TestDb,
    expected_code: &str,
) {
    // Arrange: rows 3, 7 and 11 of 20 name something the provider does not have.
    let e = E2e::start(kind, db, FaultConfig::default(), 200.0).await;
    let bad = [3, 7, 11];
    let batch = e.submit_csv(&csv(kind, "perm", 20, &bad)).await;

    // Act
    e.run_until_settled(e.handler()).await;

    // Assert
    let orders = e.orders(batch).await;
    let mut carded = Vec::new();
    for (i, o) in orders.iter().enumerate() {
        if bad.contains(&i) {
            assert_eq!(o.state, OrderState::Rejected, "{}", o.order_ref);
            assert_eq!(
                o.last_error_code.as_deref(),
                Some(expected_code),
                "{}: {:?}",
                o.order_ref,
                o.last_error_message
            );
            assert_eq!(o.attempts, 1, "a permanent error is not retried");
        } else {
            assert_eq!(o.state, OrderState::Submitted, "{}", o.order_ref);
            carded.push(o.id);
        }
    }
    assert_eq!(e.assert_one_card_per_order(&carded).await, 17);
}
