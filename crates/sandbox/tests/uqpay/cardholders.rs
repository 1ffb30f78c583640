//! UQPAY cardholders (spec section 5.2): create with an idempotency key, read, list, and issue
//! a card to a created cardholder, as a client that sets up its own cardholder would.

use crate::support::uqpay::{Env, HOLDER_PENDING, PRODUCT, key};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn create_holder(env: &Env, token: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    env.post(token, key, "/v1/issuing/cardholders", body).await
}

fn holder_body() -> Value {
    json!({
        "email": "nadia.tan@example.com", "first_name": "Nadia", "last_name": "Tan",
        "country_code": "SG", "phone_number": "81234567", "date_of_birth": "1990-04-02",
    })
}

#[tokio::test]
async fn a_created_cardholder_is_read_back_and_can_be_issued_a_card() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let (status, created) = create_holder(&env, &token, &key(), &holder_body()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["cardholder_status"], "SUCCESS");
    let holder = created["cardholder_id"].as_str().unwrap().to_string();
    let card = json!({"cardholder_id": holder, "card_product_id": PRODUCT, "card_currency": "USD", "card_limit": 50});
    let (status, issued) = env.create_raw(&token, &key(), &card).await;
    assert_eq!(status, StatusCode::OK, "{issued}");

    let (_, read) = env
        .get(&token, &format!("/v1/issuing/cardholders/{holder}"))
        .await;
    assert_eq!(read["email"], "nadia.tan@example.com");
    assert_eq!(read["country_code"], "SG");
    assert_eq!(read["date_of_birth"], "1990-04-02");
    assert_eq!(read["number_of_cards"], 1);
    let (_, card) = env
        .get(
            &token,
            &format!("/v1/issuing/cards/{}", issued["card_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(card["cardholder"]["cardholder_id"], holder.as_str());
    assert_eq!(card["cardholder"]["first_name"], "Nadia");
}

#[tokio::test]
async fn a_repeated_key_replays_the_cardholder_and_a_taken_email_or_phone_is_a_conflict() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let first_key = key();

    let (_, first) = create_holder(&env, &token, &first_key, &holder_body()).await;
    let (status, replay) = create_holder(&env, &token, &first_key, &holder_body()).await;
    let (email_status, email) = create_holder(&env, &token, &key(), &holder_body()).await;
    let mut other_email = holder_body();
    other_email["email"] = json!("someone.else@example.com");
    let (phone_status, phone) = create_holder(&env, &token, &key(), &other_email).await;
    let (_, listed) = env
        .get(&token, "/v1/issuing/cardholders?page_size=100")
        .await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(replay["cardholder_id"], first["cardholder_id"]);
    assert_eq!(email_status, StatusCode::CONFLICT);
    assert_eq!(email["type"], "conflict_error");
    assert_eq!(email["code"], "cardholder_email_exists");
    assert_eq!(phone_status, StatusCode::CONFLICT);
    assert_eq!(phone["code"], "cardholder_phone_exists");
    let created: Vec<&Value> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["email"] == "nadia.tan@example.com")
        .collect();
    assert_eq!(created.len(), 1, "{listed}");
}

#[tokio::test]
async fn a_cardholder_without_its_required_fields_or_with_a_bad_name_is_refused() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let (status, missing) = create_holder(
        &env,
        &token,
        &key(),
        &json!({"email": "a.b@example.com", "first_name": "Ana"}),
    )
    .await;
    let mut bad_name = holder_body();
    bad_name["first_name"] = json!(" Nadia");
    let (name_status, name) = create_holder(&env, &token, &key(), &bad_name).await;
    let no_key = env
        .http
        .post(env.url("/v1/issuing/cardholders"))
        .header("x-auth-token", format!("Bearer {token}"))
        .json(&holder_body())
        .send()
        .await
        .unwrap();

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(missing["code"], "missing_required_fields");
    assert_eq!(
        missing["missing_fields"],
        json!(["last_name", "country_code", "phone_number"])
    );
    assert_eq!(name_status, StatusCode::BAD_REQUEST);
    assert_eq!(name["code"], "invalid_name");
    assert_eq!(no_key.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn cardholders_are_listed_by_status_and_an_unknown_path_is_a_typed_not_found() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;

    let (status, pending) = env
        .get(&token, "/v1/issuing/cardholders?cardholder_status=PENDING")
        .await;
    let (_, page) = env
        .get(&token, "/v1/issuing/cardholders?page_size=2&page_number=2")
        .await;
    let (unknown_status, unknown) = env.get(&token, "/v1/issuing/no-such-thing").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending["total_items"], 1);
    assert_eq!(pending["data"][0]["cardholder_id"], HOLDER_PENDING);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert_eq!(page["total_pages"], 3);
    assert_eq!(unknown_status, StatusCode::NOT_FOUND);
    assert_eq!(unknown["type"], "not_found");
}

#[tokio::test]
async fn a_cardholder_update_changes_contact_fields_but_never_the_names() {
    let env = Env::start(|_| {}).await;
    let token = env.token().await;
    let (_, created) = create_holder(&env, &token, &key(), &holder_body()).await;
    let id = created["cardholder_id"].as_str().unwrap().to_string();
    let path = format!("/v1/issuing/cardholders/{id}");

    let (status, updated) = env
        .post(
            &token,
            &key(),
            &path,
            &json!({"email": "nadia.new@example.com", "gender": "FEMALE"}),
        )
        .await;
    let (name_status, name) = env
        .post(&token, &key(), &path, &json!({"first_name": "Other"}))
        .await;
    let (bad_status, bad) = env
        .post(&token, &key(), &path, &json!({"country_code": "sg"}))
        .await;
    let (_, read) = env.get(&token, &path).await;
    let wrong = env
        .http
        .delete(env.url(&path))
        .header("x-auth-token", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();

    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["email"], "nadia.new@example.com");
    assert_eq!(read["email"], "nadia.new@example.com");
    assert_eq!(read["gender"], "FEMALE");
    assert_eq!(read["first_name"], "Nadia");
    assert_eq!(name_status, StatusCode::BAD_REQUEST);
    assert_eq!(name["code"], "immutable_field");
    assert_eq!(bad_status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["code"], "invalid_country_code");
    assert_eq!(wrong.status(), StatusCode::METHOD_NOT_ALLOWED);
    let wrong: Value = wrong.json().await.unwrap();
    assert_eq!(wrong["code"], "method_not_allowed");
}
