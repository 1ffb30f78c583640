use super::*;
use crate::fixtures::Fixtures;
use serde_json::json;

/// The seed's documented request.
fn seed_virtual() -> Value {
    json!({
        "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "virtual",
        "card_name": "ecommerce",
        "printed_name": "Aurora Catarina",
        "cvv_rotation_interval_hours": 72
    })
}

fn plastic() -> Value {
    json!({
        "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "plastic",
        "card_name": "fisico",
        "printed_name": "Aurora Catarina",
        "contactless_enabled": true,
        "delivery_address": {
            "address": "Rua das Flores", "neighborhood": "Centro", "zip_code": "01234567",
            "city": "São Paulo", "state": "SP", "number": 123, "address_type": "residential"
        }
    })
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

fn schema_error(body: Value) -> String {
    let err = parse_prepaid_request(&body).expect_err("should be refused");
    assert_eq!(err.code, "QIT000001");
    err.extra_fields["detail"].as_str().unwrap().to_string()
}

fn fixture_code(body: Value) -> &'static str {
    let fixtures = Fixtures::builtin();
    let req = parse_prepaid_request(&body).unwrap();
    check_prepaid_fixtures(&req, &fixtures.qitech)
        .expect_err("should be refused")
        .code
}

#[test]
fn the_documented_virtual_request_is_valid_and_passes_the_fixtures() {
    let fixtures = Fixtures::builtin();

    let req = parse_prepaid_request(&seed_virtual()).unwrap();

    assert_eq!(req.card_type, CardType::Virtual);
    assert_eq!(req.cvv_rotation_interval_hours, Some(72));
    assert!(check_prepaid_fixtures(&req, &fixtures.qitech).is_ok());
}

#[test]
fn a_plastic_request_with_a_delivery_address_is_valid() {
    let req = parse_prepaid_request(&plastic()).unwrap();

    assert_eq!(req.card_type, CardType::Plastic);
    assert_eq!(req.contactless_enabled, Some(true));
    assert!(req.delivery_address.is_some());
}

#[test]
fn schema_violations_name_the_field() {
    assert!(
        schema_error(with(
            seed_virtual(),
            "card_name",
            json!("a-card-name-too-long")
        ))
        .starts_with("card_name")
    );
    assert!(
        schema_error(with(seed_virtual(), "printed_name", json!("R2 D2")))
            .starts_with("printed_name")
    );
    assert!(schema_error(with(seed_virtual(), "type", json!("VIRTUAL"))).starts_with("type"));
    assert!(
        schema_error(with(seed_virtual(), "account_key", json!("not-a-uuid")))
            .starts_with("account_key")
    );
    assert!(
        schema_error(with(
            seed_virtual(),
            "cvv_rotation_interval_hours",
            json!(0)
        ))
        .starts_with("cvv")
    );
    assert!(schema_error(with(seed_virtual(), "surprise", json!(1))).starts_with("surprise"));
    assert!(
        schema_error(with(seed_virtual(), "contactless_enabled", json!(true)))
            .starts_with("contactless")
    );
    assert!(schema_error(json!([1, 2])).contains("object"));
}

#[test]
fn a_plastic_card_needs_contactless_and_a_well_formed_address() {
    let mut no_contactless = plastic();
    no_contactless
        .as_object_mut()
        .unwrap()
        .remove("contactless_enabled");
    let mut bad_zip = plastic();
    bad_zip["delivery_address"]["zip_code"] = json!("0123-567");

    assert!(schema_error(no_contactless).starts_with("contactless_enabled"));
    assert_eq!(
        schema_error(bad_zip),
        "delivery_address.zip_code: must contain digits only"
    );
}

#[test]
fn accented_printed_names_are_letters() {
    let req = parse_prepaid_request(&with(
        seed_virtual(),
        "printed_name",
        json!("João Conceição"),
    ))
    .unwrap();

    assert_eq!(req.printed_name, "João Conceição");
}

#[test]
fn each_fixture_error_has_its_trigger() {
    let v = seed_virtual;
    assert_eq!(
        fixture_code(with(
            v(),
            "program_key",
            json!("00000000-0000-4000-8000-000000000000")
        )),
        "CARD000005"
    );
    assert_eq!(
        fixture_code(with(
            v(),
            "account_key",
            json!("00000000-0000-4000-8000-000000000000")
        )),
        "CARD000006"
    );
    assert_eq!(
        fixture_code(with(
            v(),
            "account_key",
            json!("1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
        )),
        "CARD000010"
    );
    assert_eq!(
        fixture_code(with(
            v(),
            "program_key",
            json!("bf74df61-557a-45cb-914f-41e127a6e18c")
        )),
        "CARD000007"
    );
    assert_eq!(
        fixture_code(with(
            v(),
            "account_key",
            json!("0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d")
        )),
        "CARD000008"
    );
    assert_eq!(
        fixture_code(with(
            v(),
            "program_key",
            json!("6b6ebaac-043b-4390-8d62-e8098ec901e9")
        )),
        "CARD000032"
    );
}

#[test]
fn a_company_account_may_use_the_companies_only_program() {
    let fixtures = Fixtures::builtin();
    let body = with(
        with(
            seed_virtual(),
            "program_key",
            json!("bf74df61-557a-45cb-914f-41e127a6e18c"),
        ),
        "account_key",
        json!("a3c1e5f7-2b4d-4f6a-8c0e-1d3f5a7b9c2e"),
    );

    let req = parse_prepaid_request(&body).unwrap();

    assert!(check_prepaid_fixtures(&req, &fixtures.qitech).is_ok());
}
