use super::*;
use crate::ingest::test_support::{assert_problem, one_order, problems, run};

const P: ProviderKind = ProviderKind::QitechPostpaid;
const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";
const PERSON: &str = "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8";
const CARD_HEAD: &str = "order_ref,wallet_key,person_key,limit_amount,card_type,card_name,printed_name,cvv_rotation_interval_hours,contactless_enabled,delivery_street,delivery_number,delivery_neighborhood,delivery_postal_code,delivery_city,delivery_state,delivery_complement";
const NATURAL_HEAD: &str = "order_ref,wallet_key,owner_person_type,owner_name,owner_document_number,owner_birthdate,owner_email,owner_phone_country_code,owner_phone_area_code,owner_phone_number,owner_street,owner_number,owner_neighborhood,owner_postal_code,owner_city,owner_state,owner_complement,card_type,card_name,printed_name,cvv_rotation_interval_hours";
const NATURAL_OWNER: &str = "natural,João da Silva,526.018.159-06,1990-01-01,joao.silva@email.com,55,11,99999-8888,Rua das Flores,123,Centro,01234-567,São Paulo,SP,Apto 1";
const LEGAL_HEAD: &str = "order_ref,wallet_key,owner_person_type,owner_name,owner_trading_name,owner_document_number,owner_foundation_date,owner_email,owner_phone_country_code,owner_phone_area_code,owner_phone_number,owner_street,owner_number,owner_neighborhood,owner_postal_code,owner_city,owner_state,rep_name,rep_document_number,rep_birthdate,rep_email,rep_phone_country_code,rep_phone_area_code,rep_phone_number,rep_street,rep_number,rep_neighborhood,rep_postal_code,rep_city,rep_state,card_type,card_name,printed_name,cvv_rotation_interval_hours";
const LEGAL_OWNER: &str = "legal,Padaria Pão Quente Ltda,Pão Quente,11.637.265/0001-11,2010-05-20,financeiro@paoquente.com.br,55,21,33334444,Av Rio Branco,1,Centro,20040-002,Rio de Janeiro,RJ";
const REP: &str = "Maria Souza,083.016.613-05,1985-03-10,maria@paoquente.com.br,55,21,988887777,Rua do Catete,90,Catete,22220-000,Rio de Janeiro,RJ";

#[test]
fn a_virtual_card_for_an_existing_person_becomes_the_instrument_body() {
    let row =
        format!("Q-1,{WALLET},{PERSON},\"2000,00\",virtual,Cartão Principal,JOAO SILVA,24,,,,,,,,");
    let order = one_order(P, CARD_HEAD, &row);
    assert_eq!(
        order.payload.value(),
        serde_json::json!({
            "wallet_key": WALLET,
            "person_key": PERSON,
            "payment_instrument_type": "postpaid_card",
            "limit_amount_minor": 200000,
            "postpaid_card_data": {
                "card_type": "virtual",
                "card_name": "Cartão Principal",
                "printed_name": "JOAO SILVA",
                "cvv_rotation_interval_hours": 24
            }
        })
    );
    assert_eq!(
        (order.amount_minor, order.currency.as_deref()),
        (Some(200_000), Some("BRL"))
    );
    assert_eq!(
        uuid::Uuid::parse_str(&order.idempotency_key)
            .unwrap()
            .get_version_num(),
        4
    );
}

#[test]
fn a_natural_owner_is_normalised_to_digits_and_nested_as_the_spec_says() {
    let order = one_order(
        P,
        NATURAL_HEAD,
        &format!("Q-2,{WALLET},{NATURAL_OWNER},virtual,Principal,JOAO SILVA,72"),
    );
    let owner = &order.payload.value()["owner"];
    assert_eq!(owner["person_type"], "natural");
    assert_eq!(owner["document_number"], "52601815906");
    assert_eq!(
        owner["phone"],
        serde_json::json!({"number": "999998888", "area_code": "11", "country_code": "55"})
    );
    assert_eq!(owner["address"]["postal_code"], "01234567");
    assert_eq!(owner["address"]["complement"], "Apto 1");
    assert!(order.payload.value().get("person_key").is_none());
}

#[test]
fn a_legal_owner_carries_its_legal_representative() {
    let order = one_order(
        P,
        LEGAL_HEAD,
        &format!("Q-3,{WALLET},{LEGAL_OWNER},{REP},virtual,Empresa,PAO QUENTE,72"),
    );
    let owner = &order.payload.value()["owner"];
    assert_eq!(owner["document_number"], "11637265000111");
    assert_eq!(owner["trading_name"], "Pão Quente");
    let reps = owner["legal_representatives"].as_array().unwrap();
    assert_eq!(reps.len(), 1);
    assert_eq!(reps[0]["document_number"], "08301661305");
    assert_eq!(reps[0]["person_type"], "natural");
    assert_eq!(reps[0]["address"]["postal_code"], "22220000");
}

#[test]
fn a_legal_representative_needs_an_address() {
    let rep_without_address = REP.replace(
        ",Rua do Catete,90,Catete,22220-000,Rio de Janeiro,RJ",
        ",,,,,,",
    );
    let p = problems(
        P,
        LEGAL_HEAD,
        &format!("Q-5,{WALLET},{LEGAL_OWNER},{rep_without_address},virtual,Empresa,PAO QUENTE,72"),
    );
    assert_problem(&p, "rep_street", "is required");
    assert_problem(&p, "rep_postal_code", "is required");
}

#[test]
fn a_legal_owner_without_a_representative_is_refused() {
    let p = problems(
        P,
        LEGAL_HEAD,
        &format!("Q-4,{WALLET},{LEGAL_OWNER},,,,,,,,,,,,,,virtual,Empresa,PAO QUENTE,72"),
    );
    assert_problem(&p, "rep_name", "one legal representative");
}

#[test]
fn person_key_and_owner_columns_exclude_each_other() {
    let head = "order_ref,wallet_key,person_key,owner_name,card_type,card_name,printed_name,cvv_rotation_interval_hours";
    let p = problems(
        P,
        head,
        &format!("Q-5,{WALLET},{PERSON},Joao,virtual,X,JOAO,72"),
    );
    assert_problem(&p, "person_key", "exclude each other");
    let p = problems(P, head, &format!("Q-6,{WALLET},,,virtual,X,JOAO,72"));
    assert_problem(
        &p,
        "person_key",
        "is required when the owner_* columns are empty",
    );
}

#[test]
fn bad_personal_data_is_reported_per_column_and_masked() {
    let owner = "natural,João da Silva,526.018.159-07,2990-01-01,joao.silva@,5,1,1234,Rua,123,Centro,0123,São Paulo,XX,";
    let p = problems(
        P,
        NATURAL_HEAD,
        &format!("Q-7,{WALLET},{owner},virtual,Principal,JOAO SILVA,72"),
    );
    assert_problem(&p, "owner_document_number", "***.018.159-**");
    assert_problem(&p, "owner_birthdate", "in the past");
    assert_problem(&p, "owner_email", "j***@");
    assert_problem(&p, "owner_phone_country_code", "2 to 3 digits");
    assert_problem(&p, "owner_phone_area_code", "2 digits");
    assert_problem(&p, "owner_phone_number", "8 to 9 digits");
    assert_problem(&p, "owner_postal_code", "8 digits");
    assert_problem(&p, "owner_state", "EX for abroad");
    let all: String = p.iter().map(|(_, r)| r.as_str()).collect();
    assert!(
        !all.contains("52601815907") && !all.contains("joao.silva@"),
        "{all}"
    );
}

#[test]
fn a_natural_owner_refuses_company_fields() {
    let head = format!("{NATURAL_HEAD},owner_trading_name,rep_name");
    let p = problems(
        P,
        &head,
        &format!("Q-8,{WALLET},{NATURAL_OWNER},virtual,Principal,JOAO SILVA,72,Loja,Maria"),
    );
    assert_problem(&p, "owner_trading_name", "not allowed for a natural person");
    assert_problem(&p, "rep_name", "not allowed for a natural person");
}

#[test]
fn physical_is_refused_with_a_hint_to_write_plastic() {
    let p = problems(
        P,
        CARD_HEAD,
        &format!("Q-9,{WALLET},{PERSON},,physical,X,JOAO,,true,,,,,,,"),
    );
    assert_problem(&p, "card_type", "write plastic");
}

#[test]
fn the_virtual_and_plastic_rules_of_the_spec_table_apply() {
    let p = problems(
        P,
        CARD_HEAD,
        &format!(
            "Q-10,{WALLET},{PERSON},,virtual,X,JOAO,,true,Rua A,1,Centro,01234567,Sao Paulo,SP,"
        ),
    );
    assert_problem(&p, "cvv_rotation_interval_hours", "is required");
    assert_problem(&p, "contactless_enabled", "not allowed for virtual cards");
    assert_problem(&p, "delivery_street", "not allowed for virtual cards");
    let p = problems(
        P,
        CARD_HEAD,
        &format!("Q-11,{WALLET},{PERSON},,plastic,X,JOAO,24,,Rua A,,,,,,"),
    );
    assert_problem(
        &p,
        "cvv_rotation_interval_hours",
        "not allowed for plastic cards",
    );
    assert_problem(&p, "contactless_enabled", "is required");
    assert_problem(&p, "delivery_number", "is required");
    assert_problem(&p, "delivery_postal_code", "is required");
}

#[test]
fn a_plastic_card_with_a_full_delivery_address_is_accepted() {
    let row = format!(
        "Q-12,{WALLET},{PERSON},,plastic,Físico,JOAO SILVA,,false,Rua A,10,Centro,01234-567,Sao Paulo,EX,Casa 2"
    );
    let order = one_order(P, CARD_HEAD, &row);
    let data = &order.payload.value()["postpaid_card_data"];
    assert_eq!(data["contactless_enabled"], false);
    assert_eq!(data["delivery_address"]["state"], "EX");
    assert!(data.get("cvv_rotation_interval_hours").is_none());
}

#[test]
fn a_profile_default_for_a_field_a_row_may_not_have_is_not_applied() {
    // Arrange: the profile defaults a cvv rotation, which plastic cards must not send.
    let csv = format!("{CARD_HEAD}\nQ-13,{WALLET},{PERSON},,plastic,X,JOAO,,true,,,,,,,\n");
    // Act
    let (orders, errors) = run(P, &csv, &[("cvv_rotation_interval_hours", "72")]);
    // Assert
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        orders[0].payload.value()["postpaid_card_data"]
            .get("cvv_rotation_interval_hours")
            .is_none()
    );
}

#[test]
fn a_zero_limit_is_refused_with_the_way_to_use_the_whole_wallet() {
    let p = problems(
        P,
        CARD_HEAD,
        &format!("Q-14,{WALLET},{PERSON},0,virtual,X,JOAO,24,,,,,,,,"),
    );
    assert_problem(&p, "limit_amount", "leave it empty");
}
