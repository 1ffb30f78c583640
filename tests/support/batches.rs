//! Whole batches against the sandbox: the test profile, a CSV of valid (or refused) orders per
//! provider submitted through the real ingest path, waiting until every order has settled, and
//! the check that the sandbox's ledger holds exactly one card per order.

use crate::support::wait_until;
use cardbatch::config::Profile;
use cardbatch::domain::{Cpf, OrderState, ProviderKind};
use cardbatch::ingest::{SubmitOptions, SubmitOutcome, submit};
use cardbatch::sandbox::RunningSandbox;
use cardbatch::store::Store;
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

/// How long a batch may take to settle before the test fails (generous: 2 cores, debug build).
pub const SETTLE: Duration = Duration::from_secs(180);

/// The states an order is still moving in.
pub const MOVING: [OrderState; 4] = [
    OrderState::Queued,
    OrderState::InFlight,
    OrderState::RetryWait,
    OrderState::InDoubt,
];

/// A profile of `kind` on the sandbox at `addr` for tests: quick retries (5 ms doubling up to
/// 200 ms) and enough attempts (40) to ride out any fault mix. Tests set the rate, the
/// concurrency and the retry knobs they are about with struct update syntax.
pub fn profile(kind: ProviderKind, addr: &str) -> Profile {
    Profile {
        max_attempts: 40,
        backoff_base_ms: 5,
        backoff_cap_ms: 200,
        ..Profile::sandbox(kind, addr)
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

/// Checks the ledger against the store: every card of `kind` carries the key of exactly one
/// order, no key has two cards, and the orders with a card are exactly `expected` (order ids).
/// Returns the number of cards.
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

/// Resolves once no order of any batch is moving; panics after [`SETTLE`]. Takes the store by
/// value, so that the future can be a runtime's shutdown signal.
pub async fn wait_settled(store: Store) {
    wait_until("every order to settle", SETTLE, || async {
        let counts = store.order_count_by_state().await.unwrap();
        MOVING.iter().all(|s| !counts.contains_key(s))
    })
    .await;
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

/// Submits `csv` as a file in `dir` through the real ingest path, to the profile named after its
/// provider; returns the batch id.
pub async fn submit_csv(store: &Store, profile: &Profile, dir: &Path, csv: &str) -> Uuid {
    let path = dir.join(format!("{}.csv", Uuid::new_v4()));
    std::fs::write(&path, csv).unwrap();
    let report = submit(
        store,
        profile.provider.as_str(),
        profile,
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
