use super::*;
use crate::ingest::test_support::{assert_problem, one_order, problems, run};

const P: ProviderKind = ProviderKind::AlchemypayVcc;
const HEAD: &str = "order_ref,first_name,last_name,deposit,currency,vid,customer_id";

#[test]
fn a_valid_row_becomes_the_create_body_with_the_deposit_in_cents() {
    let order = one_order(P, HEAD, "AP-1,Milton,Schmitt,\"25,50\",eur,USD,cust-9");
    assert_eq!(
        order.payload.value(),
        serde_json::json!({
            "cardHolder": {"firstName": "Milton", "lastName": "Schmitt"},
            "deposit_cents": 2550,
            "currency": "EUR",
            "vid": "USD",
            "customerId": "cust-9"
        })
    );
    assert_eq!(
        (order.amount_minor, order.currency.as_deref()),
        (Some(2550), Some("EUR"))
    );
    assert!(order.idempotency_key.starts_with("cb") && order.idempotency_key.len() == 34);
}

#[test]
fn the_currency_defaults_to_usd_when_neither_row_nor_profile_gives_one() {
    let order = one_order(P, HEAD, "AP-2,Ana,Lima,10,,USD,");
    assert_eq!(order.payload.value()["currency"], "USD");
    assert!(order.payload.value().get("customerId").is_none());
}

#[test]
fn a_deposit_outside_10_to_5000_is_refused_with_the_range() {
    for (deposit, line_ok) in [
        ("9.99", false),
        ("10.00", true),
        ("5000", true),
        ("5000.01", false),
    ] {
        let (orders, errors) = run(P, &format!("{HEAD}\nAP,Ana,Lima,{deposit},USD,USD,\n"), &[]);
        assert_eq!(orders.len() == 1, line_ok, "{deposit}");
        if !line_ok {
            assert!(
                errors[0].reason.contains("10.00 to 5000.00"),
                "{}",
                errors[0].reason
            );
        }
    }
}

#[test]
fn accented_names_are_refused_with_a_hint_and_masked() {
    let p = problems(P, HEAD, "AP-3,João,Conceição,10,USD,USD,");
    assert_problem(&p, "first_name", "remove the accent");
    assert_problem(&p, "last_name", "remove the accent");
    assert!(
        p.iter()
            .all(|(_, r)| !r.contains("João") && !r.contains("Conceição")),
        "{p:?}"
    );
}

#[test]
fn an_unknown_currency_and_a_bad_deposit_are_both_reported() {
    let p = problems(P, HEAD, "AP-4,Ana,Lima,\"1.000,00\",BRL,USD,");
    assert_problem(&p, "deposit", "thousands separators");
    assert_problem(&p, "currency", "USD, EUR, CHF");
}
