//! UQPAY's token: one valid at a time per client id, so every process shares it through the
//! database; an expired or revoked token is replaced without failing an order.

use crate::support::TestDb;
use crate::support::uqpay::{
    PROFILE, PROVIDER, accepted_card_id, client, order, sandbox, seed_payload,
};
use cardbatch::providers::Provider;
use std::time::Duration;

async fn an_expired_token_is_refreshed_transparently(db: TestDb) {
    // Arrange: one card with the first token, then UQPAY's clock passes its expiry.
    let sandbox = sandbox().await;
    let client = client(&sandbox, &db.store().await);
    accepted_card_id(&client.create(&order(seed_payload())).await);
    sandbox.core().clock.advance(Duration::from_secs(31 * 60));

    // Act
    let report = client.create(&order(seed_payload())).await;

    // Assert: accepted on the replay with a new token, minted once.
    accepted_card_id(&report);
    assert_eq!(client.tokens().minted(), 2);
    assert_eq!(sandbox.ledger().len(), 2);
}

async fn a_token_near_expiry_in_the_database_is_replaced_before_use(db: TestDb) {
    // Arrange: the row holds a token with two minutes left (another process's, say).
    let sandbox = sandbox().await;
    let store = db.store().await;
    let now = chrono::Utc::now().timestamp_millis();
    store
        .token_lock(PROFILE)
        .await
        .unwrap()
        .save("stale-token", now + 120_000, now)
        .await
        .unwrap();
    let client = client(&sandbox, &store);

    // Act
    let report = client.create(&order(seed_payload())).await;

    // Assert: a new token was minted and stored, and the stale one never reached UQPAY.
    accepted_card_id(&report);
    assert_eq!(client.tokens().minted(), 1);
    let row = store
        .token_get(PROFILE)
        .await
        .unwrap()
        .expect("a stored token");
    assert_ne!(row.token, "stale-token");
    assert!(row.expires_at_ms > now + 20 * 60 * 1000);
}

async fn two_processes_share_one_token_and_never_fail_on_an_invalidated_one(db: TestDb) {
    // Arrange: two stores on one database are two processes, each with its own manager.
    let sandbox = sandbox().await;
    let a = std::sync::Arc::new(client(&sandbox, &db.store().await));
    let b = std::sync::Arc::new(client(&sandbox, &db.store().await));
    let burst = |n: usize| {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let c = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.spawn(async move { c.create(&order(seed_payload())).await });
        }
        tasks
    };

    // Act: a concurrent burst, UQPAY's clock passes the token's expiry, another burst.
    let first = burst(40).join_all().await;
    sandbox.core().clock.advance(Duration::from_secs(31 * 60));
    let second = burst(40).join_all().await;

    // Assert: every call accepted, one token per period for both processes together.
    for report in first.iter().chain(&second) {
        accepted_card_id(report);
    }
    assert_eq!(a.tokens().minted() + b.tokens().minted(), 2);
    let ledger = sandbox.ledger().snapshot(Some(PROVIDER));
    assert_eq!(ledger.total_cards, 80);
    let duplicate_keys: Vec<_> = ledger
        .duplicates
        .iter()
        .filter(|d| d.name == "idempotency_key")
        .collect();
    assert!(duplicate_keys.is_empty(), "{duplicate_keys:?}");
}

async fn a_process_refused_with_a_token_the_row_no_longer_holds_adopts_the_row_s_without_minting(
    db: TestDb,
) {
    // Arrange: process A mints the first token; process B adopts it from the database.
    let sandbox = sandbox().await;
    let a = client(&sandbox, &db.store().await);
    let b = client(&sandbox, &db.store().await);
    accepted_card_id(&a.create(&order(seed_payload())).await);
    accepted_card_id(&b.create(&order(seed_payload())).await);
    assert_eq!((a.tokens().minted(), b.tokens().minted()), (1, 0));
    // The shared token expires at UQPAY; B is refused first and mints its successor.
    sandbox.core().clock.advance(Duration::from_secs(31 * 60));
    accepted_card_id(&b.create(&order(seed_payload())).await);
    assert_eq!(b.tokens().minted(), 1);

    // Act: A still holds the old token, is refused, and finds B's token in the row.
    let report = a.create(&order(seed_payload())).await;

    // Assert: accepted without minting (which would have revoked B's token).
    accepted_card_id(&report);
    assert_eq!(a.tokens().minted(), 1);
    accepted_card_id(&b.create(&order(seed_payload())).await);
    assert_eq!(b.tokens().minted(), 1, "B's token is still valid");
}

async fn an_unreachable_token_endpoint_is_a_call_that_never_left(db: TestDb) {
    // Arrange: the profile points at a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let profile =
        cardbatch::config::Profile::sandbox(cardbatch::domain::ProviderKind::Uqpay, &addr);
    let client = crate::support::uqpay::client_with(
        &profile,
        &crate::support::uqpay::credentials(),
        &db.store().await,
    );

    // Act
    let report = client.create(&order(seed_payload())).await;

    // Assert: the worker's "never sent" code, which uses up no attempt (an outage longer than
    // max_attempts' backoff must not kill a batch).
    match &report.classified {
        cardbatch::providers::Classified::Transient { code, .. } => {
            assert_eq!(code, cardbatch::providers::http::NOT_SENT, "{report:?}")
        }
        other => panic!("expected a transient failure, got {other:?}"),
    }
}

on_both_engines!(
    an_unreachable_token_endpoint_is_a_call_that_never_left,
    a_process_refused_with_a_token_the_row_no_longer_holds_adopts_the_row_s_without_minting,
    an_expired_token_is_refreshed_transparently,
    a_token_near_expiry_in_the_database_is_replaced_before_use,
    two_processes_share_one_token_and_never_fail_on_an_invalidated_one,
);
