//! The signing pinned to the documented formats, and checked by the sandbox's verifier (a
//! separate implementation of the same rules) and by openssl.

use super::*;
use crate::sandbox::qitech::{
    AuthSettings, AuthVersion, DEV_CLIENT_PRIVATE_KEY_PEM, DEV_CLIENT_PUBLIC_KEY_PEM, RequestView,
    authenticate, generate_signing_key, sign_v1, sign_v2,
};
use axum::http::{HeaderName, HeaderValue};
use chrono::TimeZone;
use serde_json::json;

const API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";

fn signer(variant: Variant) -> RequestSigner {
    let key = jws::private_key_from_pem(DEV_CLIENT_PRIVATE_KEY_PEM).unwrap();
    RequestSigner::new(API_KEY.into(), key, variant)
}

/// The documented example instant of the prepaid pages (`created_at` 2023-02-20T19:28:16Z).
fn documented_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 2, 20, 19, 28, 16).unwrap()
}

fn header_map(headers: &[(&'static str, String)]) -> HeaderMap {
    headers
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

/// Runs the sandbox's verifier on a request signed here.
fn sandbox_accepts(
    signed: &SignedRequest,
    method: &str,
    path_and_query: &str,
    now: DateTime<Utc>,
) -> Result<crate::sandbox::qitech::Authenticated, String> {
    let headers = header_map(&signed.headers);
    let client_key = jws::public_key_from_pem(DEV_CLIENT_PUBLIC_KEY_PEM).unwrap();
    let keys = vec![API_KEY.to_string()];
    let view = RequestView {
        method,
        path_and_query,
        mount: crate::sandbox::QITECH_MOUNT,
        headers: &headers,
        body: signed.body.as_deref().unwrap_or_default(),
    };
    let settings = AuthSettings {
        api_client_keys: &keys,
        client_key: Some(&client_key),
        now,
        max_skew: chrono::TimeDelta::seconds(300),
    };
    authenticate(&view, &settings).map_err(|e| e.description)
}

fn seed_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041",
        "program_key": "7d405c31-ec9a-46c1-8ac8-54bab209bf41",
        "type": "virtual",
        "card_name": "ecommerce",
        "printed_name": "Aurora Catarina",
        "cvv_rotation_interval_hours": 72
    }))
    .unwrap()
}

#[test]
fn the_v1_date_is_rfc_1123_as_documented() {
    assert_eq!(
        rfc1123(documented_instant()),
        "Mon, 20 Feb 2023 19:28:16 GMT"
    );
}

#[test]
fn the_v2_timestamp_has_microseconds_as_documented() {
    let at = Utc.timestamp_opt(1_687_808_912, 759_844_000).unwrap();
    assert_eq!(v2_timestamp(at), "2023-06-26T19:48:32.759844Z");
}

#[test]
fn a_v2_get_hashes_the_empty_object() {
    let signed = signer(Variant::V2).sign("GET", "/qitech/prepaid/card/x", None, Utc::now());

    let claims = jws::claims(&signed.headers[0].1).unwrap();
    assert_eq!(claims["payload_md5"], "99914b932bd37a50b983c5e7c90ae93b");
    assert_eq!(signed.body, None);
}

#[test]
fn a_v1_post_signs_the_documented_five_lines_over_the_encoded_body() {
    // Arrange
    let at = documented_instant();
    let body = seed_body();

    // Act
    let signed = signer(Variant::V1).sign("POST", "/qitech/prepaid/card", Some(&body), at);

    // Assert
    let wire: Value = serde_json::from_slice(signed.body.as_ref().unwrap()).unwrap();
    let encoded = wire["encoded_body"].as_str().unwrap();
    assert_eq!(
        jws::claims(encoded).unwrap(),
        serde_json::from_slice::<Value>(&body).unwrap()
    );
    let (name, authorization) = &signed.headers[0];
    assert_eq!(*name, "authorization");
    let token = authorization
        .strip_prefix(&format!("QIT {API_KEY}:"))
        .expect("QIT <api_key>:<jwt>");
    let claims = jws::claims(token).unwrap();
    assert_eq!(claims["sub"], API_KEY);
    assert_eq!(
        claims["signature"],
        format!(
            "POST\n{}\napplication/json\nMon, 20 Feb 2023 19:28:16 GMT\n/qitech/prepaid/card",
            md5_hex(encoded.as_bytes())
        )
    );
    assert!(
        signed
            .headers
            .contains(&("date", "Mon, 20 Feb 2023 19:28:16 GMT".to_string()))
    );
}

#[test]
fn requests_signed_here_pass_the_sandbox_verifier_in_both_variants() {
    let now = Utc::now();
    let body = seed_body();
    let list =
        "/qitech/prepaid/card?account_key=5294ed8d-08fc-4397-b15f-6d9aa07b0041&size=100&page=0";
    for variant in [Variant::V1, Variant::V2] {
        let s = signer(variant);

        let post = s.sign("POST", "/qitech/prepaid/card", Some(&body), now);
        let get = s.sign("GET", list, None, now);

        let auth = sandbox_accepts(&post, "POST", "/qitech/prepaid/card", now).unwrap();
        let expected = match variant {
            Variant::V1 => AuthVersion::V1,
            Variant::V2 => AuthVersion::V2,
        };
        assert_eq!(auth.version, expected);
        assert_eq!(auth.body["card_name"], "ecommerce");
        sandbox_accepts(&get, "GET", list, now).unwrap();
    }
}

#[test]
fn a_request_signed_for_another_path_is_refused_by_the_sandbox_verifier() {
    let now = Utc::now();
    for variant in [Variant::V1, Variant::V2] {
        let signed = signer(variant).sign(
            "POST",
            "/qitech/wallet/x/payment_instrument",
            Some(&seed_body()),
            now,
        );

        let err = sandbox_accepts(&signed, "POST", "/qitech/prepaid/card", now).unwrap_err();

        assert!(err.contains("differs"), "{variant:?}: {err}");
    }
}

#[test]
fn a_sandbox_signed_answer_is_read_and_verified_in_both_variants() {
    // Arrange
    let qi = generate_signing_key();
    let qi_public = VerifyingKey::from(&qi);
    let answer = json!({"card_key": "05fd3654-1f5d-479d-ade5-64239fdf214d", "status": "created"});
    let v1 = sign_v1(
        &qi,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&answer),
        Utc::now(),
    );
    let v2 = sign_v2(
        &qi,
        API_KEY,
        "POST",
        "/qitech/prepaid/card",
        Some(&answer),
        Utc::now(),
    );

    for (variant, signed) in [(Variant::V1, v1), (Variant::V2, v2)] {
        let headers: HeaderMap = signed.headers.into_iter().collect();

        // Act
        let verified = read_answer(variant, Some(&qi_public), API_KEY, &headers, &signed.body);
        let unverified = read_answer(variant, None, API_KEY, &headers, &signed.body);

        // Assert
        assert_eq!(verified.unwrap(), answer, "{variant:?}");
        assert_eq!(unverified.unwrap(), answer, "{variant:?}");
    }
}

/// QI's v1 answer header is checked as the public clients check it (Captalys/qitech-auth
/// `unsign`): our API key, QI's token, the MD5 of this `encoded_body` on the signature's second
/// line. Its other lines are QI's own and not compared.
#[test]
fn a_v1_answer_must_name_our_key_and_the_md5_of_its_encoded_body_and_nothing_else() {
    let qi = generate_signing_key();
    let qi_public = VerifyingKey::from(&qi);
    let answer = json!({"card_key": "05fd3654-1f5d-479d-ade5-64239fdf214d"});
    let signed = sign_v1(
        &qi,
        API_KEY,
        "GET",
        "/somewhere/else",
        Some(&answer),
        Utc::now(),
    );
    let headers: HeaderMap = signed.headers.iter().cloned().collect();
    let other = sign_v1(
        &qi,
        API_KEY,
        "POST",
        "/p",
        Some(&json!({"card_key": "x"})),
        Utc::now(),
    );
    let mut swapped = headers.clone();
    swapped.insert(
        "authorization",
        other.headers[0].1.clone(), // another answer's header token: another MD5
    );
    let not_ours = "someone-else";

    let read = read_answer(
        Variant::V1,
        Some(&qi_public),
        API_KEY,
        &headers,
        &signed.body,
    );
    let with_swapped = read_answer(
        Variant::V1,
        Some(&qi_public),
        API_KEY,
        &swapped,
        &signed.body,
    );
    let to_another = read_answer(
        Variant::V1,
        Some(&qi_public),
        not_ours,
        &headers,
        &signed.body,
    );

    assert_eq!(
        read.unwrap(),
        answer,
        "other method and path lines are QI's"
    );
    assert!(
        matches!(with_swapped, Err(AnswerError::BadSignature(_))),
        "{with_swapped:?}"
    );
    assert!(
        matches!(to_another, Err(AnswerError::BadSignature(_))),
        "{to_another:?}"
    );
}

/// QI documents no signature on v2 answers: one that carries a token must be QI's over this
/// body; one without is read as delivered.
#[test]
fn a_v2_answer_signed_by_another_key_or_altered_is_refused_and_an_unsigned_one_is_read() {
    let qi = generate_signing_key();
    let other = VerifyingKey::from(&generate_signing_key());
    let answer = json!({"card_key": "a"});
    let v2 = sign_v2(&qi, API_KEY, "POST", "/p", Some(&answer), Utc::now());
    let headers: HeaderMap = v2.headers.into_iter().collect();

    let foreign = read_answer(Variant::V2, Some(&other), API_KEY, &headers, &v2.body);
    let altered = read_answer(
        Variant::V2,
        Some(&VerifyingKey::from(&qi)),
        API_KEY,
        &headers,
        br#"{"card_key":"b"}"#,
    );
    let unsigned = read_answer(
        Variant::V2,
        Some(&VerifyingKey::from(&qi)),
        API_KEY,
        &HeaderMap::new(),
        &v2.body,
    );

    assert!(
        matches!(foreign, Err(AnswerError::BadSignature(_))),
        "{foreign:?}"
    );
    assert!(
        matches!(altered, Err(AnswerError::BadSignature(_))),
        "{altered:?}"
    );
    assert_eq!(unsigned, Ok(answer));
}

#[test]
fn a_gateway_error_page_reads_as_null() {
    let read = read_answer(
        Variant::V1,
        None,
        API_KEY,
        &HeaderMap::new(),
        b"<html>502</html>",
    );
    assert_eq!(read, Ok(Value::Null));
}

#[test]
fn the_signing_option_accepts_v1_and_v2_and_defaults_to_v2() {
    assert_eq!(Variant::parse(None), Ok(Variant::V2));
    assert_eq!(Variant::parse(Some("v1")), Ok(Variant::V1));
    assert!(Variant::parse(Some("v3")).unwrap_err().contains("v3"));
}
