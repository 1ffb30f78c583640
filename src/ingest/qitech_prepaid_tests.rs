use super::*;
use crate::ingest::test_support::{assert_problem, one_order, problems};

const P: ProviderKind = ProviderKind::QitechPrepaid;
const HEAD: &str = "order_ref,account_key,program_key,type,printed_name,cvv_rotation_interval_hours,contactless_enabled,delivery_address,delivery_number,delivery_neighborhood,delivery_zip_code,delivery_city,delivery_state,delivery_address_type";
const KEYS: &str = "5294ed8d-08fc-4397-b15f-6d9aa07b0041,7d405c31-ec9a-46c1-8ac8-54bab209bf41";

#[test]
fn a_virtual_card_becomes_the_create_body_without_card_name() {
    let order = one_order(
        P,
        HEAD,
        &format!("A-1,{KEYS},virtual,Aurora Catarina,72,,,,,,,,"),
    );
    assert_eq!(
        order.payload.value(),
        serde_json::json!({
            "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
            "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
            "type": "virtual",
            "printed_name": "Aurora Catarina",
            "cvv_rotation_interval_hours": 72
        })
    );
    assert_eq!(order.idempotency_key.len(), 15);
    assert_eq!((order.amount_minor, order.currency), (None, None));
}

#[test]
fn a_plastic_card_carries_contactless_and_a_normalised_delivery_address() {
    let row = format!(
        "A-2,{KEYS},plastic,JOSE SILVA,,true,Av Paulista 1000,1000,Bela Vista,01310-100,São Paulo,sp,residential"
    );
    let order = one_order(P, HEAD, &row);
    assert_eq!(order.payload.value()["contactless_enabled"], true);
    assert_eq!(
        order.payload.value()["delivery_address"]["zip_code"],
        "01310100"
    );
    assert_eq!(order.payload.value()["delivery_address"]["state"], "SP");
    assert_eq!(order.payload.value()["delivery_address"]["number"], 1000);
    assert!(
        order
            .payload
            .value()
            .get("cvv_rotation_interval_hours")
            .is_none()
    );
}

#[test]
fn a_virtual_card_without_cvv_rotation_names_the_column() {
    let p = problems(P, HEAD, &format!("A-3,{KEYS},virtual,Aurora,,,,,,,,,"));
    assert_problem(&p, "cvv_rotation_interval_hours", "is required");
}

#[test]
fn a_virtual_card_refuses_contactless_and_delivery_cells() {
    let p = problems(
        P,
        HEAD,
        &format!("A-4,{KEYS},virtual,Aurora,72,true,Rua A,,,,,,"),
    );
    assert_problem(&p, "contactless_enabled", "not allowed for virtual cards");
    assert_problem(&p, "delivery_address", "not allowed for virtual cards");
}

#[test]
fn a_plastic_card_refuses_cvv_rotation_and_needs_contactless() {
    let p = problems(P, HEAD, &format!("A-5,{KEYS},plastic,Aurora,24,,,,,,,,"));
    assert_problem(
        &p,
        "cvv_rotation_interval_hours",
        "not allowed for plastic cards",
    );
    assert_problem(&p, "contactless_enabled", "is required");
}

#[test]
fn a_partial_delivery_address_names_every_missing_field() {
    let p = problems(
        P,
        HEAD,
        &format!("A-6,{KEYS},plastic,Aurora,,false,Rua A,12a,,0131010,,XX,"),
    );
    assert_problem(&p, "delivery_number", "must be a number");
    assert_problem(&p, "delivery_neighborhood", "is required");
    assert_problem(&p, "delivery_zip_code", "8 digits");
    assert_problem(&p, "delivery_city", "is required");
    assert_problem(&p, "delivery_state", "not a Brazilian state");
    assert_problem(&p, "delivery_address_type", "is required");
}

#[test]
fn bad_keys_type_and_printed_name_are_each_reported() {
    let p = problems(P, HEAD, "A-7,not-a-uuid,7d405c31,card,R2D2,,,,,,,,,");
    assert_problem(&p, "account_key", "not a UUID");
    assert_problem(&p, "program_key", "not a UUID");
    assert_problem(&p, "type", "expected one of virtual, plastic");
    assert_problem(&p, "printed_name", "a digit");
}

#[test]
fn a_card_name_column_is_refused_with_the_reason() {
    let err = CsvOrders::new(
        "order_ref,printed_name,card_name\n".as_bytes(),
        P,
        &Default::default(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("card_name") && err.contains("idempotency key"),
        "{err}"
    );
}

use crate::ingest::CsvOrders;

#[test]
fn an_address_number_and_a_cep_are_masked_when_echoed() {
    let p = problems(
        P,
        HEAD,
        &format!(
            "A-9,{KEYS},plastic,Aurora,,false,Rua A,1234B,Centro,01310-1000,Recife,PE,residential"
        ),
    );
    assert_problem(&p, "delivery_number", "`123**` must be a number");
    assert_problem(&p, "delivery_zip_code", "`013**-****` is not a CEP");
    assert!(
        p.iter()
            .all(|(_, r)| !r.contains("1234B") && !r.contains("1310-1000")),
        "{p:?}"
    );
}
