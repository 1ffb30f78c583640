use super::*;
use crate::fixtures::Fixtures;
use serde_json::json;

const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";

fn address() -> Value {
    json!({
        "street": "Rua das Flores", "number": "123", "neighborhood": "Centro",
        "postal_code": "01234567", "city": "São Paulo", "state": "SP", "complement": "Apto 1"
    })
}

fn natural_owner() -> Value {
    json!({
        "person_type": "natural", "name": "João Silva", "document_number": "12345678901",
        "birthdate": "1990-01-01", "email": "joao.silva@email.com",
        "phone": {"number": "99999999", "area_code": "11", "country_code": "55"},
        "address": address()
    })
}

/// The seed's documented example, verbatim (it sends `physical` plus fields its rules forbid).
fn seed_example() -> Value {
    json!({
        "request_control_key": "f7947b9d-9be3-49d8-aca2-4b3249e5fa65",
        "owner": natural_owner(),
        "payment_instrument_type": "postpaid_card",
        "limit_amount": 2000.00,
        "postpaid_card_data": {
            "card_type": "physical", "card_name": "Cartão Principal", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24, "contactless_enabled": true, "delivery_address": address()
        }
    })
}

fn virtual_with_person() -> Value {
    json!({
        "request_control_key": "0e4b2a51-7c39-4d8e-9f10-2a3b4c5d6e7f",
        "person_key": "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8",
        "payment_instrument_type": "postpaid_card",
        "postpaid_card_data": {
            "card_type": "virtual", "card_name": "Cartão Virtual", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24
        }
    })
}

fn detail(body: Value) -> String {
    let err = parse_postpaid_request(&body, false).expect_err("should be refused");
    assert_eq!(err.code, "QIT000001");
    err.extra_fields["detail"].as_str().unwrap().to_string()
}

fn fixture_code(wallet: &str, body: Value) -> &'static str {
    let fixtures = Fixtures::builtin();
    let req = parse_postpaid_request(&body, false).unwrap();
    check_postpaid_fixtures(wallet, &req, &fixtures.qitech)
        .expect_err("should be refused")
        .code
}

#[test]
fn the_seed_example_is_refused_by_the_rules_and_accepted_in_lenient_mode() {
    assert!(detail(seed_example()).starts_with("postpaid_card_data.card_type"));

    let req = parse_postpaid_request(&seed_example(), true).unwrap();

    assert_eq!(req.card_type, CardType::Plastic);
    assert_eq!(req.limit_amount_cents, Some(200_000));
    assert_eq!(req.owner_person_type.as_deref(), Some("natural"));
    assert_eq!(
        req.request_control_key.as_deref(),
        Some("f7947b9d-9be3-49d8-aca2-4b3249e5fa65")
    );
}

#[test]
fn the_seed_example_with_plastic_and_without_cvv_follows_the_rules() {
    let mut body = seed_example();
    body["postpaid_card_data"]["card_type"] = json!("plastic");
    body["postpaid_card_data"]
        .as_object_mut()
        .unwrap()
        .remove("cvv_rotation_interval_hours");

    assert!(parse_postpaid_request(&body, false).is_ok());
}

#[test]
fn a_virtual_card_for_an_existing_person_is_valid() {
    let req = parse_postpaid_request(&virtual_with_person(), false).unwrap();

    assert_eq!(req.card_type, CardType::Virtual);
    assert_eq!(req.limit_amount_cents, None);
    assert_eq!(req.cvv_rotation_interval_hours, Some(24));
}

#[test]
fn owner_and_person_key_are_exclusive_and_one_is_required() {
    let mut both = virtual_with_person();
    both["owner"] = natural_owner();
    let mut neither = virtual_with_person();
    neither.as_object_mut().unwrap().remove("person_key");

    assert!(detail(both).contains("mutually exclusive"));
    assert!(detail(neither).contains("required"));
}

#[test]
fn the_conditional_card_fields_follow_the_rules_table() {
    let mut virtual_contactless = virtual_with_person();
    virtual_contactless["postpaid_card_data"]["contactless_enabled"] = json!(true);
    let mut virtual_without_cvv = virtual_with_person();
    virtual_without_cvv["postpaid_card_data"]
        .as_object_mut()
        .unwrap()
        .remove("cvv_rotation_interval_hours");
    let mut plastic_without_contactless = virtual_with_person();
    plastic_without_contactless["postpaid_card_data"] =
        json!({"card_type": "plastic", "card_name": "c", "printed_name": "JOAO SILVA"});

    assert!(detail(virtual_contactless).starts_with("postpaid_card_data.contactless_enabled"));
    assert!(
        detail(virtual_without_cvv).starts_with("postpaid_card_data.cvv_rotation_interval_hours")
    );
    assert!(
        detail(plastic_without_contactless).starts_with("postpaid_card_data.contactless_enabled")
    );
}

#[test]
fn owner_fields_are_checked_down_to_the_phone_and_address() {
    let mut body = seed_example();
    body["postpaid_card_data"] = virtual_with_person()["postpaid_card_data"].clone();
    let mut bad_phone = body.clone();
    bad_phone["owner"]["phone"]["area_code"] = json!("011");
    let mut bad_state = body.clone();
    bad_state["owner"]["address"]["state"] = json!("XX");
    let mut bad_cpf = body.clone();
    bad_cpf["owner"]["document_number"] = json!("123");

    assert_eq!(
        detail(bad_phone),
        "owner.phone.area_code: must have 2 to 2 characters"
    );
    assert!(detail(bad_state).starts_with("owner.address.state"));
    assert!(detail(bad_cpf).starts_with("owner.document_number"));
}

#[test]
fn a_legal_owner_needs_a_cnpj_and_legal_representatives() {
    let mut body = virtual_with_person();
    body.as_object_mut().unwrap().remove("person_key");
    body["owner"] = json!({
        "person_type": "legal", "name": "Empresa LTDA", "trading_name": "Empresa",
        "document_number": "12345678000190", "foundation_date": "2010-05-01",
        "email": "contato@empresa.com.br",
        "phone": {"number": "99999999", "area_code": "11", "country_code": "55"},
        "address": address(),
        "legal_representatives": [natural_owner()]
    });
    assert_eq!(
        parse_postpaid_request(&body, false)
            .unwrap()
            .owner_person_type
            .as_deref(),
        Some("legal")
    );

    body["owner"]["legal_representatives"] = json!([]);
    assert!(detail(body).contains("legal_representatives"));
}

#[test]
fn each_fixture_error_has_its_trigger() {
    let body = || virtual_with_person();
    let with_limit = |amount: f64| {
        let mut b = body();
        b["limit_amount"] = json!(amount);
        b
    };
    let mut unknown_person = body();
    unknown_person["person_key"] = json!("e51070e4-7494-468d-a20e-bf14789fa8ff");

    assert_eq!(
        fixture_code("abeca0d0-a09d-4b3b-a495-40b553422ced", body()),
        "CIN000007"
    );
    assert_eq!(fixture_code(WALLET, unknown_person), "CIN000062");
    assert_eq!(
        fixture_code("4a0b8d3f-2c5e-4f90-8b7d-6e3f9c8a2b41", with_limit(1000.01)),
        "CIN000073"
    );
    assert_eq!(
        fixture_code("5b1c9e40-3d6f-4a01-9c8e-7f4a0d9b3c52", with_limit(500.01)),
        "CIN000074"
    );
}

#[test]
fn limits_at_the_wallet_limit_are_accepted() {
    let fixtures = Fixtures::builtin();
    let mut body = virtual_with_person();
    body["limit_amount"] = json!(1000.00);
    let req = parse_postpaid_request(&body, false).unwrap();

    assert!(
        check_postpaid_fixtures(
            "4a0b8d3f-2c5e-4f90-8b7d-6e3f9c8a2b41",
            &req,
            &fixtures.qitech
        )
        .is_ok()
    );
}

#[test]
fn fixture_amounts_read_as_centavos() {
    assert_eq!(parse_cents("500000.00"), Some(50_000_000));
    assert_eq!(parse_cents("12.5"), Some(1_250));
    assert_eq!(parse_cents("7"), Some(700));
    assert_eq!(parse_cents("1.234"), None);
}
