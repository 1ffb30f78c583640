//! The reconciler against the sandbox over loopback: cardbatch's webhook endpoints are wired to
//! the sandbox, the sandbox drops every webhook (`webhook_drop_rate` 1.0), the workers issue a
//! batch through the real UQPAY client, and the reconciler's lookups must finish the job.

use crate::support::{
    AppSetup, TestApp, TestDb, Webhooks, csv, dev_credentials, profile, spawn_app, wait_until,
};
use cardbatch::app::App;
use cardbatch::config::Config;
use cardbatch::domain::{OrderState, ProviderKind, ProviderRefs};
use cardbatch::providers::Credentials;
use cardbatch::reconcile::Reconciler;
use cardbatch::reconcile::{LookupOptions, ProcessOptions};
use cardbatch::sandbox::config::DEV_UQPAY_WEBHOOK_SECRET;
use cardbatch::sandbox::{FaultConfig, ProviderSettings, SandboxConfig};
use cardbatch::store::{AttemptKind, ConfirmedBy};
use std::collections::BTreeMap;
use std::time::Duration;

const KIND: ProviderKind = ProviderKind::Uqpay;
const ORDERS: usize = 6;
const WAIT: Duration = Duration::from_secs(90);

on_both_engines!(
    a_webhook_never_sent_ends_in_confirmation_by_lookup,
    a_card_the_provider_failed_is_found_by_lookup_and_the_order_fails,
    a_qi_prepaid_card_without_its_webhook_is_issued_by_lookup,
    a_qi_postpaid_card_without_its_webhook_is_issued_by_lookup,
    an_alchemy_order_without_its_callback_goes_to_review_once_the_wait_is_over,
    an_unreachable_provider_is_left_alone_after_a_pass_that_reached_nothing,
    a_stopped_reconciler_starts_no_new_lookup_and_leaves_its_orders_for_the_next_run,
);

/// UQPAY on the sandbox (every webhook dropped, cards finishing after 20 ms, `failure_rate` of
/// them failing) with cardbatch's webhook endpoints and the event processor running, so that a
/// webhook, were one sent, would confirm its order.
async fn start(db: &TestDb, failure_rate: f64) -> TestApp {
    let setup = AppSetup {
        sandbox: SandboxConfig {
            seed: 11,
            ..SandboxConfig::default()
        },
        provider: ProviderSettings {
            faults: FaultConfig {
                webhook_drop_rate: 1.0,
                ..FaultConfig::default()
            },
            webhook_secret: Some(DEV_UQPAY_WEBHOOK_SECRET.into()),
            lifecycle_delay_ms: 20,
            failure_rate,
            ..ProviderSettings::default()
        },
        concurrency: 4,
        webhooks: Webhooks::FromSandbox,
        processor: Some(ProcessOptions::default()),
        ..AppSetup::new(KIND)
    };
    spawn_app(db, setup).await
}

/// `kind` on the sandbox with every webhook dropped, no webhook endpoints.
async fn start_dropping_webhooks(db: &TestDb, kind: ProviderKind) -> TestApp {
    let setup = AppSetup {
        provider: ProviderSettings {
            faults: FaultConfig {
                webhook_drop_rate: 1.0,
                ..FaultConfig::default()
            },
            ..ProviderSettings::default()
        },
        ..AppSetup::new(kind)
    };
    spawn_app(db, setup).await
}

/// Lookups as soon as an order is submitted, and again every few milliseconds.
fn eager() -> LookupOptions {
    LookupOptions {
        confirm_after: Duration::ZERO,
        interval: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
        batch: 16,
        lease: Duration::from_secs(30),
        review_after: Duration::from_secs(3600),
    }
}

/// Issues a batch with the workers (every order ends `submitted`: no webhook comes), then runs
/// reconciler passes until no order is `submitted` any more. Returns the batch id.
async fn issue_then_reconcile(e2e: &TestApp) -> uuid::Uuid {
    let batch = e2e.submit_csv(&csv(e2e.kind, "lk", ORDERS, &[])).await;
    let reconciler = e2e.reconciler(eager());
    e2e.run_until_settled().await;
    let orders = e2e.orders(batch).await;
    assert!(
        orders.iter().all(|o| o.state == OrderState::Submitted),
        "with every webhook dropped, the workers leave each order submitted: {:?}",
        orders.iter().map(|o| o.state).collect::<Vec<_>>()
    );
    wait_until("every order confirmed by lookup", WAIT, || async {
        reconciler
            .pass(cardbatch::worker::system_now_ms())
            .await
            .unwrap();
        let counts = e2e.store.order_count_by_state().await.unwrap();
        !counts.contains_key(&OrderState::Submitted)
    })
    .await;
    batch
}

async fn a_webhook_never_sent_ends_in_confirmation_by_lookup(db: TestDb) {
    // Arrange
    let e2e = start(&db, 0.0).await;

    // Act
    let batch = issue_then_reconcile(&e2e).await;

    // Assert
    let orders = e2e.orders(batch).await;
    assert_eq!(orders.len(), ORDERS);
    for o in &orders {
        assert_eq!(o.state, OrderState::Issued, "order {}", o.order_ref);
        assert_eq!(
            o.confirmed_by,
            Some(ConfirmedBy::Lookup),
            "order {}",
            o.order_ref
        );
        assert!(o.confirmed_at_ms.is_some());
        assert!(o.card_ref.is_some(), "the card id is kept");
        // Every provider call is in the attempts table: the create, then the lookup(s).
        let calls = e2e.store.attempt_list(o.id).await.unwrap();
        let kinds: Vec<Option<AttemptKind>> = calls.iter().map(|c| c.kind).collect();
        assert_eq!(kinds.first(), Some(&Some(AttemptKind::Create)), "{calls:?}");
        assert!(
            calls
                .iter()
                .any(|c| c.kind == Some(AttemptKind::Lookup) && c.http_status == Some(200)),
            "the confirming lookup is recorded: {calls:?}"
        );
    }
    assert!(
        e2e.sandbox.stats().get(KIND.as_str(), "webhooks_dropped") >= ORDERS as u64,
        "the sandbox dropped the card webhooks"
    );
    let events = e2e.store.webhook_event_count_by_outcome().await.unwrap();
    assert!(events.is_empty(), "no webhook arrived: {events:?}");
    let report = cardbatch::reconcile::report(&e2e.store, Some(batch))
        .await
        .unwrap();
    let b = &report.batches[0];
    assert_eq!(b.confirmed_by_lookup, ORDERS as u64);
    assert_eq!(b.confirmed_by_webhook, 0);
    assert_eq!(b.awaiting_confirmation, 0);
    assert!(b.mismatches.is_empty());
    e2e.assert_one_card_per_order(&orders.iter().map(|o| o.id).collect::<Vec<_>>())
        .await;
    e2e.shutdown().await;
}

async fn a_card_the_provider_failed_is_found_by_lookup_and_the_order_fails(db: TestDb) {
    // Arrange: every card's lifecycle ends FAILED.
    let e2e = start(&db, 1.0).await;

    // Act
    let batch = issue_then_reconcile(&e2e).await;

    // Assert
    let orders = e2e.orders(batch).await;
    for o in &orders {
        assert_eq!(o.state, OrderState::Failed, "order {}", o.order_ref);
        assert_eq!(o.confirmed_by, Some(ConfirmedBy::Lookup));
        assert_eq!(o.last_error_code.as_deref(), Some("card_status_failed"));
    }
    let report = cardbatch::reconcile::report(&e2e.store, Some(batch))
        .await
        .unwrap();
    assert_eq!(report.batches[0].failed_at_provider, ORDERS as u64);
    assert_eq!(report.batches[0].confirmed_by_lookup, 0);
    e2e.shutdown().await;
}

/// QI's card lookups (prepaid `GET /prepaid/card/{card_key}`, postpaid
/// `GET /wallet/{wallet_key}/card/{card_key}`): the sandbox's cards turn `active` after its
/// lifecycle delay, and no webhook reaches cardbatch.
async fn a_qi_card_without_its_webhook_is_issued_by_lookup(kind: ProviderKind, db: TestDb) {
    // Arrange
    let e2e = start_dropping_webhooks(&db, kind).await;

    // Act
    let batch = issue_then_reconcile(&e2e).await;

    // Assert
    for o in e2e.orders(batch).await {
        assert_eq!(o.state, OrderState::Issued, "order {}", o.order_ref);
        assert_eq!(o.confirmed_by, Some(ConfirmedBy::Lookup));
    }
}

async fn a_qi_prepaid_card_without_its_webhook_is_issued_by_lookup(db: TestDb) {
    a_qi_card_without_its_webhook_is_issued_by_lookup(ProviderKind::QitechPrepaid, db).await;
}

async fn a_qi_postpaid_card_without_its_webhook_is_issued_by_lookup(db: TestDb) {
    a_qi_card_without_its_webhook_is_issued_by_lookup(ProviderKind::QitechPostpaid, db).await;
}

/// Alchemy Pay names the card only in its `CREATE_CARD` callback and has no lookup by `orderNo`:
/// with every callback dropped, the orders wait for it, then go to an operator once they have
/// been `submitted` for `review_after`.
async fn an_alchemy_order_without_its_callback_goes_to_review_once_the_wait_is_over(db: TestDb) {
    // Arrange: a batch issued, every callback dropped, so every order is submitted.
    let e2e = start_dropping_webhooks(&db, ProviderKind::AlchemypayVcc).await;
    let batch = e2e.submit_csv(&csv(e2e.kind, "nr", ORDERS, &[])).await;
    let reconciler = e2e.reconciler(eager());
    e2e.run_until_settled().await;
    let submitted = e2e.orders(batch).await;
    assert!(
        submitted.iter().all(|o| o.state == OrderState::Submitted),
        "{:?}",
        submitted.iter().map(|o| o.state).collect::<Vec<_>>()
    );
    let now = cardbatch::worker::system_now_ms();

    // Act: a pass within the wait, then one after it.
    let early = reconciler.pass(now).await.unwrap();
    let early_states: Vec<OrderState> = e2e.orders(batch).await.iter().map(|o| o.state).collect();
    let late = reconciler.pass(now + 3_600_000).await.unwrap();

    // Assert
    assert_eq!(
        (early.examined, early.pending, early.escalated),
        (ORDERS, ORDERS, 0)
    );
    assert!(early_states.iter().all(|s| *s == OrderState::Submitted));
    assert_eq!((late.examined, late.escalated), (ORDERS, ORDERS));
    for o in e2e.orders(batch).await {
        assert_eq!(o.state, OrderState::NeedsReview, "order {}", o.order_ref);
        assert_eq!(o.last_error_code.as_deref(), Some("no_confirmation"));
        let message = o.last_error_message.unwrap_or_default();
        assert!(message.contains("1 h"), "{message}");
        let order_no = o
            .provider_refs
            .as_ref()
            .and_then(|r| r.get(ProviderRefs::ORDER_NO))
            .unwrap()
            .to_string();
        assert!(
            message.contains(&order_no),
            "names the orderNo to look for: {message}"
        );
        assert_eq!(o.confirmed_by, None);
    }
    let report = cardbatch::reconcile::report(&e2e.store, Some(batch))
        .await
        .unwrap();
    assert_eq!(report.batches[0].awaiting_confirmation, 0);
}

async fn an_unreachable_provider_is_left_alone_after_a_pass_that_reached_nothing(db: TestDb) {
    // Arrange: cards issued through the sandbox, their webhooks dropped; then the provider is
    // unreachable: the reconciler's profile points at a port nothing listens on.
    let kind = ProviderKind::QitechPrepaid;
    let e2e = start_dropping_webhooks(&db, kind).await;
    e2e.submit_csv(&csv(kind, "down", ORDERS, &[])).await;
    e2e.run_until_settled().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = Config {
        profiles: BTreeMap::from([(
            kind.as_str().to_string(),
            profile(kind, &closed.to_string()),
        )]),
        ..Config::without_profiles()
    };
    let app = App::with_store(&config, e2e.store.clone(), |_, p| {
        Ok(Credentials::from_pairs(dev_credentials(p.provider)))
    })
    .unwrap();
    let options = LookupOptions {
        confirm_after: Duration::ZERO,
        interval: Duration::from_secs(10),
        max_backoff: Duration::from_secs(60),
        batch: 2,
        lease: Duration::from_secs(30),
        review_after: LookupOptions::default().review_after,
    };
    let reconciler = Reconciler::new(e2e.store.clone(), app.clients().clone(), options);
    let now = chrono::Utc::now().timestamp_millis();

    // Act: a pass, another right after it (more orders are due), and one after the rest.
    let first = reconciler.pass(now).await.unwrap();
    let second = reconciler.pass(now + 1).await.unwrap();
    let later = reconciler.pass(now + 10_001).await.unwrap();

    // Assert: every lookup of the first pass failed to connect; the profile is then left alone
    // instead of walking the backlog, and tried again once the rest is over.
    assert_eq!((first.examined, first.lookup_failed), (2, 2), "{first:?}");
    assert_eq!(second.examined, 0, "{second:?}");
    assert_eq!(later.examined, 2, "{later:?}");
}

async fn a_stopped_reconciler_starts_no_new_lookup_and_leaves_its_orders_for_the_next_run(
    db: TestDb,
) {
    // Arrange: a batch left `submitted` (every webhook dropped), and a stop already requested
    // when the reconciler starts (a SIGTERM during its pass: at a provider's few lookups a
    // second, finishing a pass of hundreds would hold the process up for minutes).
    let e2e = start_dropping_webhooks(&db, KIND).await;
    let batch = e2e.submit_csv(&csv(KIND, "stop", ORDERS, &[])).await;
    e2e.run_until_settled().await;
    let options = eager();
    let lease_ms = options.lease.as_millis() as i64;

    // Act
    e2e.reconciler(options.clone())
        .run(std::future::ready(()))
        .await;

    // Assert: no lookup was made and every order is still `submitted`; once the lease of the
    // pass that was cut short ends, the next run looks every one of them up.
    for o in e2e.orders(batch).await {
        assert_eq!(o.state, OrderState::Submitted, "{o:?}");
        let calls = e2e.store.attempt_list(o.id).await.unwrap();
        assert!(
            calls.iter().all(|c| c.kind != Some(AttemptKind::Lookup)),
            "{calls:?}"
        );
    }
    let later = cardbatch::worker::system_now_ms() + lease_ms + 1;
    let next = e2e.reconciler(options).pass(later).await.unwrap();
    assert_eq!(next.examined, ORDERS, "{next:?}");
}
