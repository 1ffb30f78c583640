//! Webhooks from the sandbox, end to end over loopback: cardbatch's workers issue cards through
//! the real clients, the sandbox finishes them asynchronously and calls cardbatch's webhook
//! endpoints (UQPAY HMAC-signed, QI Tech signed with its own key, Alchemy Pay unsigned), and the
//! event processor confirms every order.

use crate::support::{AppSetup, TestApp, TestDb, Webhooks, csv, spawn_app, wait_until};
use cardbatch::domain::{OrderState, ProviderKind};
use cardbatch::reconcile::ProcessOptions;
use cardbatch::sandbox::{ProviderSettings, SandboxConfig};
use cardbatch::store::{AttemptKind, EventOutcome};
use std::time::Duration;

const ORDERS: usize = 12;
/// The first digits of every card number the Alchemy Pay sandbox issues (a test range).
const SANDBOX_PAN_PREFIX: &str = "400000999";
const UQPAY_SECRET: &str = "whsec-sandbox-test";

/// Issues `ORDERS` orders of `kind` against the sandbox with cardbatch's webhook endpoints and
/// event processor running, and waits until every order is `issued`. Returns the running app.
async fn issue_and_confirm(kind: ProviderKind, db: &TestDb) -> TestApp {
    // Arrange: cards finish 10 ms after their creation (1 s scaled by 0.01), then the sandbox
    // sends their webhooks (Alchemy Pay calls back the URL the create named).
    let setup = AppSetup {
        sandbox: SandboxConfig {
            seed: 11,
            time_scale: 0.01,
            ..SandboxConfig::default()
        },
        provider: ProviderSettings {
            webhook_secret: Some(UQPAY_SECRET.into()),
            lifecycle_delay_ms: 1_000,
            ..ProviderSettings::default()
        },
        concurrency: 4,
        webhooks: Webhooks::FromSandbox,
        processor: Some(ProcessOptions::default()),
        ..AppSetup::new(kind)
    };
    let app = spawn_app(db, setup).await;

    // Act: submit through the real ingest path and run the workers until nothing is moving.
    app.submit_csv(&csv(kind, "wh", ORDERS, &[])).await;
    app.run_until_settled().await;

    // Every order ends issued, by the sandbox's webhooks alone.
    wait_until(
        "every order to be issued",
        Duration::from_secs(120),
        || async {
            let counts = app.store.order_count_by_state().await.unwrap();
            counts.get(&OrderState::Issued).copied() == Some(ORDERS as u64)
        },
    )
    .await;
    app
}

async fn qi_prepaid_cards_are_confirmed_by_the_sandboxs_signed_webhooks(db: TestDb) {
    let app = issue_and_confirm(ProviderKind::QitechPrepaid, &db).await;
    let store = &app.store;

    let matched = store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    assert_eq!(matched.len(), ORDERS, "one `active` event per order");
    for event in &matched {
        let (by, _) = store
            .order_confirmation(event.order_id.unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by, "webhook");
    }
    assert!(
        store
            .webhook_event_list(EventOutcome::Unmatched)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn alchemy_callbacks_are_trusted_only_after_the_card_info_lookup(db: TestDb) {
    let app = issue_and_confirm(ProviderKind::AlchemypayVcc, &db).await;
    let store = &app.store;

    let matched = store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    assert_eq!(matched.len(), ORDERS);
    for event in &matched {
        let order_id = event.order_id.unwrap();
        let (by, _) = store.order_confirmation(order_id).await.unwrap().unwrap();
        assert_eq!(by, "lookup");
        // The card id arrived by callback and is now part of the order's refs.
        let order = store.order_get(order_id).await.unwrap().unwrap();
        let refs = order.provider_refs.unwrap();
        assert!(refs.get("card_id").is_some_and(|c| !c.is_empty()), "{refs}");
        // The card-info call that checked the callback is in the attempts table.
        let calls = store.attempt_list(order_id).await.unwrap();
        assert!(
            calls
                .iter()
                .any(|c| c.kind == Some(AttemptKind::Lookup) && c.http_status == Some(200)),
            "{calls:?}"
        );
    }
}

async fn every_call_of_the_profile_takes_a_permit_of_its_lane_callback_lookups_included(
    db: TestDb,
) {
    // Arrange + act: Alchemy Pay orders issued by the workers, their callbacks confirmed by the
    // event processor's card-info lookups.
    let app = issue_and_confirm(ProviderKind::AlchemypayVcc, &db).await;

    // Assert: the lane handed out one permit per provider call, whoever made it: the workers'
    // creates and the processor's lookups (one client per profile, behind one lane).
    let mut calls = 0;
    let mut lookups = 0;
    for event in app
        .store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap()
    {
        let attempts = app
            .store
            .attempt_list(event.order_id.unwrap())
            .await
            .unwrap();
        calls += attempts.len() as u64;
        lookups += attempts
            .iter()
            .filter(|a| a.kind == Some(AttemptKind::Lookup))
            .count();
    }
    assert!(
        lookups >= ORDERS,
        "every callback was checked: {lookups} lookups"
    );
    assert_eq!(app.lane().permits, calls, "{:?}", app.lane());
}

async fn card_data_in_alchemy_pay_callbacks_never_reaches_the_database(db: TestDb) {
    // Arrange + act: the sandbox's CREATE_CARD callbacks carry the card number, cvc and expiry,
    // as Alchemy Pay's do.
    let app = issue_and_confirm(ProviderKind::AlchemypayVcc, &db).await;

    // Assert: the inbox keeps the callbacks without them, the last four digits excepted.
    let events = app
        .store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    let created: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "CREATE_CARD")
        .collect();
    assert_eq!(created.len(), ORDERS);
    for event in created {
        let body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
        let data = &body["data"];
        let number = data["number"].as_str().unwrap_or_default();
        assert!(
            number.len() == 16 && number.starts_with("************"),
            "the number keeps only its last four: {}",
            event.body
        );
        assert_eq!(
            &number[12..],
            data["last4"].as_str().unwrap(),
            "{}",
            event.body
        );
        for secret in ["cvc", "expYear", "expMonth"] {
            assert_eq!(data[secret], "[redacted]", "{secret}: {}", event.body);
        }
        // The sandbox's card numbers (its test range) appear nowhere in what was stored.
        assert!(!event.body.contains(SANDBOX_PAN_PREFIX), "{}", event.body);
    }
}

async fn uqpay_cards_are_confirmed_by_the_sandboxs_hmac_signed_webhooks(db: TestDb) {
    let app = issue_and_confirm(ProviderKind::Uqpay, &db).await;
    let store = &app.store;

    let matched = store
        .webhook_event_list(EventOutcome::Matched)
        .await
        .unwrap();
    assert_eq!(matched.len(), ORDERS, "one card.create.succeeded per order");
    assert!(
        matched
            .iter()
            .all(|e| e.event_type == "card.create.succeeded")
    );
    assert!(
        matched
            .iter()
            .all(|e| e.profile.as_deref() == Some("uqpay"))
    );
}

on_both_engines!(
    uqpay_cards_are_confirmed_by_the_sandboxs_hmac_signed_webhooks,
    qi_prepaid_cards_are_confirmed_by_the_sandboxs_signed_webhooks,
    alchemy_callbacks_are_trusted_only_after_the_card_info_lookup,
    every_call_of_the_profile_takes_a_permit_of_its_lane_callback_lookups_included,
    card_data_in_alchemy_pay_callbacks_never_reaches_the_database,
);
