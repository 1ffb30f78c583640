use super::*;
use crate::ingest::test_support::{assert_problem, one_order, problems, run};

const P: ProviderKind = ProviderKind::Uqpay;
const HEAD: &str = "order_ref,cardholder_id,card_product_id,card_currency,card_bin,card_limit,usage_type,auto_cancel_trigger,spending_limit_amount,spending_limit_interval,allowed_mcc,blocked_mcc,allow_3ds_transactions,expiry_at,name_on_card,metadata";
const IDS: &str = "25ea804d-7fd5-43d5-8792-0fc0214cdb2f,467e993f-317a-49fc-9ea0-bf49de7d1f76";

#[test]
fn a_full_row_becomes_the_create_body_with_minor_units_and_the_order_ref_in_metadata() {
    let row = format!(
        "U-1,{IDS},usd,40963608,1000.00,ONE_TIME,ON_AUTH,250,DAILY,5411|5812,,Y,2099-01-01T00:00:00+08:00,ALEX CHEN,\"{{\"\"team\"\":\"\"ops\"\"}}\""
    );
    let order = one_order(P, HEAD, &row);
    assert_eq!(
        order.payload.value(),
        serde_json::json!({
            "cardholder_id": "25ea804d-7fd5-43d5-8792-0fc0214cdb2f",
            "card_product_id": "467e993f-317a-49fc-9ea0-bf49de7d1f76",
            "card_currency": "USD",
            "card_limit_minor": 100000,
            "usage_type": "ONE_TIME",
            "auto_cancel_trigger": "ON_AUTH",
            "spending_controls": [{"amount_minor": 25000, "interval": "DAILY"}],
            "risk_controls": {"allow_3ds_transactions": "Y", "allowed_mcc": ["5411", "5812"]},
            "expiry_at": "2099-01-01T00:00:00+08:00",
            "name_on_card": "ALEX CHEN",
            "metadata": {"team": "ops", "cardbatch_order_ref": "U-1"}
        })
    );
    assert_eq!(
        (order.amount_minor, order.currency.as_deref()),
        (Some(100_000), Some("USD"))
    );
    assert_eq!(
        uuid::Uuid::parse_str(&order.idempotency_key)
            .unwrap()
            .get_version_num(),
        4
    );
}

#[test]
fn a_minimal_row_defaults_to_normal_usage_and_has_no_amount() {
    let order = one_order(P, HEAD, &format!("U-2,{IDS},SGD,,,,,,,,,,,,"));
    assert_eq!(order.payload.value()["usage_type"], "NORMAL");
    assert_eq!(
        order.payload.value()["metadata"],
        serde_json::json!({"cardbatch_order_ref": "U-2"})
    );
    assert_eq!(order.amount_minor, None);
}

#[test]
fn the_limit_bins_require_a_card_limit_of_at_least_a_cent() {
    let p = problems(P, HEAD, &format!("U-3,{IDS},USD,527735,,,,,,,,,,,"));
    assert_problem(&p, "card_limit", "required for cards of BIN 527735");
    let p = problems(P, HEAD, &format!("U-4,{IDS},USD,55507100,0,,,,,,,,,,"));
    assert_problem(&p, "card_limit", "at least 0.01");
    one_order(P, HEAD, &format!("U-5,{IDS},USD,555243,0.01,,,,,,,,,,"));
    one_order(P, HEAD, &format!("U-6,{IDS},USD,40963608,0,,,,,,,,,,"));
}

#[test]
fn the_bin_rule_uses_the_profile_default_bin() {
    let csv = format!("order_ref,cardholder_id,card_product_id,card_currency\nU-7,{IDS},USD\n");
    let (orders, errors) = run(P, &csv, &[("card_bin", "527735")]);
    assert!(orders.is_empty());
    assert_eq!(errors[0].column.as_deref(), Some("card_limit"));
}

#[test]
fn one_time_cards_need_a_trigger_and_normal_cards_refuse_one() {
    let p = problems(P, HEAD, &format!("U-8,{IDS},USD,,,ONE_TIME,,,,,,,,,"));
    assert_problem(&p, "auto_cancel_trigger", "is required");
    let p = problems(P, HEAD, &format!("U-9,{IDS},USD,,,NORMAL,ON_AUTH,,,,,,,,"));
    assert_problem(&p, "auto_cancel_trigger", "unless usage_type is ONE_TIME");
}

#[test]
fn a_spending_limit_needs_both_amount_and_interval() {
    let p = problems(P, HEAD, &format!("U-10,{IDS},USD,,,,,100,,,,,,,"));
    assert_problem(
        &p,
        "spending_limit_interval",
        "is required when spending_limit_amount",
    );
    let p = problems(P, HEAD, &format!("U-11,{IDS},USD,,,,,,HOURLY,,,,,,"));
    assert_problem(&p, "spending_limit_interval", "PER_TRANSACTION");
    assert_problem(
        &p,
        "spending_limit_amount",
        "is required when spending_limit_interval",
    );
}

#[test]
fn allowed_and_blocked_mccs_exclude_each_other() {
    let p = problems(P, HEAD, &format!("U-12,{IDS},USD,,,,,,,5411,5812,,,,"));
    assert_problem(&p, "blocked_mcc", "cannot be combined with allowed_mcc");
}

#[test]
fn a_past_expiry_a_bad_3ds_flag_and_an_accented_name_are_reported() {
    let p = problems(
        P,
        HEAD,
        &format!("U-13,{IDS},USD,,,,,,,,,yes,2001-01-01T00:00:00Z,JOÃO,"),
    );
    assert_problem(&p, "allow_3ds_transactions", "Y, N");
    assert_problem(&p, "expiry_at", "in the future");
    assert_problem(&p, "name_on_card", "remove the accent");
}

#[test]
fn metadata_must_be_a_small_json_object_without_the_reserved_key() {
    let p = problems(P, HEAD, &format!("U-14,{IDS},USD,,,,,,,,,,,,[1]"));
    assert_problem(&p, "metadata", "JSON object");
    let p = problems(
        P,
        HEAD,
        &format!("U-15,{IDS},USD,,,,,,,,,,,,\"{{\"\"cardbatch_order_ref\"\":1}}\""),
    );
    assert_problem(&p, "metadata", "must not contain the key");
    let big = format!("\"{{\"\"k\"\":\"\"{}\"\"}}\"", "x".repeat(3170));
    let p = problems(P, HEAD, &format!("U-16,{IDS},USD,,,,,,,,,,,,{big}"));
    assert_problem(&p, "metadata", "at most 3200");
}

#[test]
fn a_currency_outside_the_enum_is_refused() {
    let p = problems(P, HEAD, &format!("U-17,{IDS},BRL,,,,,,,,,,,,"));
    assert_problem(&p, "card_currency", "USD, SGD");
}

#[test]
fn a_card_number_pasted_as_the_bin_is_masked_in_the_message() {
    let p = problems(
        P,
        HEAD,
        &format!("U-20,{IDS},USD,4111111111111111,,,,,,,,,,,"),
    );
    assert_problem(&p, "card_bin", "`****************` is not a card BIN");
    assert_problem(&p, "card_bin", "looks like a card number");
    assert!(
        p.iter().all(|(_, r)| !r.contains("4111111111111111")),
        "{p:?}"
    );
}

#[test]
fn a_long_amount_is_echoed_capped_and_a_control_character_escaped() {
    let long = format!("{}x", "9".repeat(60));
    let p = problems(P, HEAD, &format!("U-21,{IDS},USD,,{long},,,,,,,,,,"));
    assert_problem(
        &p,
        "card_limit",
        &format!("`{}…` is not an amount", "9".repeat(40)),
    );
    let p = problems(P, HEAD, &format!("U-22,{IDS},\"US\tD\",,,,,,,,,,,,"));
    assert_problem(&p, "card_currency", "`US\\tD` is not allowed");
}
