//! QI Tech v1 requests built as the public clients build them: the date only inside the signed
//! string (no `Date` header) and a JWT library's registered claims (`iat`, `exp`, `nbf`, `jti`)
//! in every token, `encoded_body` included. Signed with `openssl`; answers read by content type.

use crate::support::qitech::{Setup, seed_virtual, start};
use crate::support::qitech_sign::{API_KEY, V1Style, Variant};
use serde_json::json;

const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";

#[tokio::test]
async fn a_public_client_request_is_accepted_on_every_endpoint_with_its_claims_left_out() {
    // Arrange: a prepaid card and a postpaid card to look up and change.
    let qi = start(Setup::default()).await;
    let v1 = Variant::V1Public;
    let prepaid = qi
        .call(v1, "POST", "/prepaid/card", Some(&seed_virtual()))
        .await;
    assert_eq!(prepaid.status, 201, "{}", prepaid.json);
    let card = format!(
        "/prepaid/card/{}",
        prepaid.json["card_key"].as_str().unwrap()
    );
    let instrument = json!({
        "request_control_key": "00000000-0000-4000-8000-000000000001",
        "person_key": "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8",
        "payment_instrument_type": "postpaid_card",
        "postpaid_card_data": {
            "card_type": "virtual", "card_name": "Cartão Virtual", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24
        }
    });
    let postpaid = qi
        .call(
            v1,
            "POST",
            &format!("/wallet/{WALLET}/payment_instrument"),
            Some(&instrument),
        )
        .await;
    assert_eq!(postpaid.status, 201, "{}", postpaid.json);
    let postpaid_card = format!(
        "/wallet/{WALLET}/card/{}",
        postpaid.json["postpaid_card_key"].as_str().unwrap()
    );
    let echo = json!({"name": "QI Tech"});

    // Act
    let calls = [
        (
            "GET prepaid card",
            qi.call(v1, "GET", &card, None).await,
            200,
        ),
        (
            "GET prepaid list",
            qi.call(
                v1,
                "GET",
                "/prepaid/card?account_key=5294ed8d-08fc-4397-b15f-6d9aa07b0041",
                None,
            )
            .await,
            200,
        ),
        (
            "PATCH prepaid status",
            qi.set_status(v1, &card, "blocked").await,
            200,
        ),
        (
            "GET postpaid card",
            qi.call(v1, "GET", &postpaid_card, None).await,
            200,
        ),
    ];

    // Assert
    for (name, reply, status) in calls {
        assert_eq!(reply.status, status, "{name}: {}", reply.json);
    }
    let echoed = qi
        .call(v1, "POST", &format!("/test/{API_KEY}"), Some(&echo))
        .await;
    assert_eq!(echoed.json["request_body"], echo, "no iat, exp, nbf or jti");
    let stored = qi.call(v1, "GET", &card, None).await;
    assert_eq!(stored.json["card_name"], "ecommerce");
    assert_eq!(stored.json["status"], "blocked");
}

#[tokio::test]
async fn the_signed_date_must_be_fresh_and_a_date_header_if_sent_must_repeat_it() {
    // Arrange
    let qi = start(Setup::default()).await;
    let now = chrono::Utc::now();
    let sign = |style: V1Style| {
        style.sign(
            &qi.client_key,
            API_KEY,
            "POST",
            "/qitech/prepaid/card",
            Some(&seed_virtual()),
        )
    };
    let rfc1123 =
        |t: chrono::DateTime<chrono::Utc>| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let mut other_date = sign(V1Style::public_client());
    other_date.set_header("Date", rfc1123(now + chrono::TimeDelta::minutes(1)));
    let mut same_date = sign(V1Style::public_client());
    same_date.set_header("Date", rfc1123(now));
    let stale = sign(V1Style {
        date: now - chrono::TimeDelta::minutes(6),
        ..V1Style::public_client()
    });
    let cases = [
        (
            "no Date header, a fresh signed date",
            sign(V1Style::public_client()),
            201,
        ),
        ("no Date header, a signed date six minutes old", stale, 401),
        (
            "a Date header that differs from the signed date",
            other_date,
            401,
        ),
        ("a Date header that repeats the signed date", same_date, 201),
    ];

    for (name, req, status) in cases {
        // Act
        let reply = qi.send(req).await.unwrap();

        // Assert
        assert_eq!(reply.status, status, "{name}: {}", reply.json);
        if status == 401 {
            assert_eq!(reply.json["code"], "GDF000014", "{name}");
        }
    }
    assert_eq!(qi.sandbox.ledger().len(), 2);
}
