use super::*;
use crate::qitech::jws::generate_signing_key;
use crate::qitech::sign::{Signed, sign_v1, sign_v2};
use axum::http::HeaderMap;
use p521::ecdsa::SigningKey;
use serde_json::json;

const API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";
const PATH: &str = "/qitech/prepaid/card";

struct Fixture {
    client: SigningKey,
    keys: Vec<String>,
    now: DateTime<Utc>,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            client: generate_signing_key(),
            keys: vec![API_KEY.to_string()],
            now: Utc::now(),
        }
    }

    fn check(&self, method: &str, path: &str, signed: &Signed) -> Result<Authenticated, QiError> {
        self.check_at(method, path, signed, self.now)
    }

    fn check_at(
        &self,
        method: &str,
        path: &str,
        signed: &Signed,
        now: DateTime<Utc>,
    ) -> Result<Authenticated, QiError> {
        let headers = to_map(signed);
        let verifying = p521::ecdsa::VerifyingKey::from(&self.client);
        let settings = AuthSettings {
            api_client_keys: &self.keys,
            client_key: Some(&verifying),
            now,
            max_skew: TimeDelta::minutes(5),
        };
        let req = RequestView {
            method,
            path_and_query: path,
            mount: "/qitech",
            headers: &headers,
            body: &signed.body,
        };
        authenticate(&req, &settings)
    }
}

fn to_map(signed: &Signed) -> HeaderMap {
    signed.headers.iter().cloned().collect()
}

fn body() -> Value {
    json!({"account_key": "5294ed8d-08fc-4397-b15f-6d9aa07b0041", "type": "virtual"})
}

fn code(result: Result<Authenticated, QiError>) -> &'static str {
    result.expect_err("should be refused").code
}

#[test]
fn a_v1_request_is_accepted_and_its_encoded_body_is_the_request() {
    let f = Fixture::new();
    let signed = sign_v1(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);

    let auth = f.check("POST", PATH, &signed).unwrap();

    assert_eq!(auth.version, AuthVersion::V1);
    assert_eq!(auth.api_key, API_KEY);
    assert_eq!(auth.body, body());
}

#[test]
fn a_bodiless_v1_get_is_accepted_with_an_empty_or_json_content_type() {
    let f = Fixture::new();
    let path = "/qitech/prepaid/card?account_key=x";
    let signed = sign_v1(&f.client, API_KEY, "GET", path, None, f.now);

    assert_eq!(f.check("GET", path, &signed).unwrap().body, Value::Null);

    // The Clojure and Elixir clients sign the configured content type even without a body.
    let date = f.now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let token = jws::sign(
        &f.client,
        &json!({"sub": API_KEY, "signature": format!("GET\n\napplication/json\n{date}\n{path}")}),
    );
    let mut headers = signed.headers.clone();
    headers[0].1 = format!("QIT {API_KEY}:{token}").parse().unwrap();
    let other = Signed {
        headers,
        body: Vec::new(),
    };
    assert!(f.check("GET", path, &other).is_ok());
}

#[test]
fn a_path_may_be_signed_relative_to_the_sandbox_mount_as_at_qi() {
    let f = Fixture::new();
    // A client given the base URL `.../qitech` signs the path it asked for, as at QI.
    let path = "/qitech/prepaid/card?account_key=x";
    let v1 = sign_v1(
        &f.client,
        API_KEY,
        "GET",
        "/prepaid/card?account_key=x",
        None,
        f.now,
    );
    assert!(f.check("GET", path, &v1).is_ok());
    let v2 = sign_v2(
        &f.client,
        API_KEY,
        "POST",
        "/prepaid/card",
        Some(&body()),
        f.now,
    );
    assert!(f.check("POST", PATH, &v2).is_ok());

    // Still the same path: another one, or a mount-relative path without its query, is refused.
    let other = sign_v1(
        &f.client,
        API_KEY,
        "GET",
        "/wallet/x?account_key=x",
        None,
        f.now,
    );
    assert_eq!(code(f.check("GET", path, &other)), "GDF000014");
    let no_query = sign_v1(&f.client, API_KEY, "GET", "/prepaid/card", None, f.now);
    assert_eq!(code(f.check("GET", path, &no_query)), "GDF000014");
    let v2_other = sign_v2(
        &f.client,
        API_KEY,
        "POST",
        "/wallet/x",
        Some(&body()),
        f.now,
    );
    assert_eq!(code(f.check("POST", PATH, &v2_other)), "GDF000014");
}

#[test]
fn a_v1_request_replayed_on_another_path_is_refused() {
    let f = Fixture::new();
    let signed = sign_v1(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);

    assert_eq!(
        code(f.check("POST", "/qitech/wallet/x/payment_instrument", &signed)),
        "GDF000014"
    );
}

#[test]
fn a_v1_body_swapped_for_another_signed_body_is_refused() {
    let f = Fixture::new();
    let signed = sign_v1(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);
    let other = sign_v1(
        &f.client,
        API_KEY,
        "POST",
        PATH,
        Some(&json!({"type": "plastic"})),
        f.now,
    );
    let swapped = Signed {
        headers: signed.headers,
        body: other.body,
    };

    assert_eq!(code(f.check("POST", PATH, &swapped)), "GDF000014");
}

#[test]
fn a_v1_request_from_another_key_pair_is_refused() {
    let f = Fixture::new();
    let signed = sign_v1(
        &generate_signing_key(),
        API_KEY,
        "POST",
        PATH,
        Some(&body()),
        f.now,
    );

    assert_eq!(code(f.check("POST", PATH, &signed)), "GDF000014");
}

#[test]
fn a_v2_request_is_accepted_and_its_json_body_is_the_request() {
    let f = Fixture::new();
    let signed = sign_v2(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);

    let auth = f.check("POST", PATH, &signed).unwrap();

    assert_eq!(auth.version, AuthVersion::V2);
    assert_eq!(auth.body, body());
}

#[test]
fn a_v2_get_signs_the_md5_of_an_empty_object() {
    let f = Fixture::new();
    let signed = sign_v2(
        &f.client,
        API_KEY,
        "GET",
        "/qitech/prepaid/card/abc",
        None,
        f.now,
    );

    assert!(f.check("GET", "/qitech/prepaid/card/abc", &signed).is_ok());
}

#[test]
fn a_v2_body_changed_after_signing_is_refused() {
    let f = Fixture::new();
    let mut signed = sign_v2(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);
    signed.body = json!({"account_key": "other"}).to_string().into_bytes();

    assert_eq!(code(f.check("POST", PATH, &signed)), "GDF000014");
}

#[test]
fn a_v2_token_older_than_five_minutes_is_refused() {
    let f = Fixture::new();
    let signed = sign_v2(
        &f.client,
        API_KEY,
        "POST",
        PATH,
        Some(&body()),
        f.now - TimeDelta::minutes(6),
    );

    assert_eq!(code(f.check("POST", PATH, &signed)), "GDF000014");
    assert!(
        f.check_at("POST", PATH, &signed, f.now - TimeDelta::minutes(2))
            .is_ok()
    );
}

#[test]
fn a_v2_timestamp_with_microseconds_as_python_writes_it_parses() {
    let parsed =
        NaiveDateTime::parse_from_str("2023-06-26T19:48:32.759844Z", V2_TIMESTAMP_PARSE).unwrap();

    assert_eq!(parsed.and_utc().timestamp_subsec_micros(), 759_844);
}

#[test]
fn a_missing_api_client_key_is_gdf000003() {
    let f = Fixture::new();
    let mut signed = sign_v2(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);
    signed.headers.retain(|(name, _)| name != "api-client-key");

    let err = f.check("POST", PATH, &signed).unwrap_err();

    assert_eq!((err.status, err.code), (400, "GDF000003"));
}

#[test]
fn an_unknown_api_client_key_is_gdf000018() {
    let f = Fixture::new();
    let signed = sign_v2(
        &f.client,
        "not-a-known-key",
        "POST",
        PATH,
        Some(&body()),
        f.now,
    );

    let err = f.check("POST", PATH, &signed).unwrap_err();

    assert_eq!((err.status, err.code), (404, "GDF000018"));
    assert!(err.description.contains("not-a-known-key"));
}

#[test]
fn a_signed_v2_body_that_is_not_json_is_a_schema_error() {
    let f = Fixture::new();
    let mut signed = sign_v2(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);
    signed.body = b"not json".to_vec();
    let token = jws::sign(
        &f.client,
        &json!({"payload_md5": md5_hex(b"not json"), "timestamp": crate::qitech::sign::v2_timestamp(f.now), "method": "POST", "uri": PATH}),
    );
    signed.headers[0].1 = token.parse().unwrap();

    assert_eq!(code(f.check("POST", PATH, &signed)), "QIT000001");
}

#[test]
fn the_version_is_detected_by_the_qit_prefix() {
    let mut headers = HeaderMap::new();
    assert_eq!(detect_version(&headers), AuthVersion::V2);

    headers.insert("authorization", "QIT k:t".parse().unwrap());
    assert_eq!(detect_version(&headers), AuthVersion::V1);
}

/// `signed` without its `Date` header, as public clients send a v1 request.
fn without_date(mut signed: Signed) -> Signed {
    signed.headers.retain(|(name, _)| name != "date");
    signed
}

#[test]
fn a_v1_request_without_a_date_header_is_accepted_on_its_signed_date() {
    let f = Fixture::new();
    let signed = without_date(sign_v1(
        &f.client,
        API_KEY,
        "POST",
        PATH,
        Some(&body()),
        f.now,
    ));

    assert_eq!(f.check("POST", PATH, &signed).unwrap().body, body());
}

#[test]
fn a_v1_date_header_that_differs_from_the_signed_date_is_refused() {
    let f = Fixture::new();
    let mut signed = sign_v1(&f.client, API_KEY, "POST", PATH, Some(&body()), f.now);
    let other = (f.now - TimeDelta::seconds(1))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    for (name, value) in &mut signed.headers {
        if name == "date" {
            *value = other.parse().unwrap();
        }
    }

    assert_eq!(code(f.check("POST", PATH, &signed)), "GDF000014");
}

#[test]
fn a_v1_signed_date_more_than_five_minutes_away_is_refused_without_a_date_header() {
    let f = Fixture::new();
    let stale = without_date(sign_v1(
        &f.client,
        API_KEY,
        "POST",
        PATH,
        Some(&body()),
        f.now - TimeDelta::minutes(6),
    ));

    assert_eq!(code(f.check("POST", PATH, &stale)), "GDF000014");
    assert!(
        f.check_at("POST", PATH, &stale, f.now - TimeDelta::minutes(2))
            .is_ok()
    );
}

#[test]
fn the_registered_claims_of_an_encoded_body_are_not_part_of_the_request() {
    let f = Fixture::new();
    let mut claims = body();
    for (name, value) in [
        ("iat", json!(1_700_000_000)),
        ("exp", json!(1_700_000_300)),
        ("nbf", json!(1_700_000_000)),
        ("jti", json!("j-1")),
        ("iss", json!("client")),
        ("sub", json!(API_KEY)),
        ("aud", json!("qi")),
    ] {
        claims[name] = value;
    }
    let signed = sign_v1(&f.client, API_KEY, "POST", PATH, Some(&claims), f.now);

    assert_eq!(f.check("POST", PATH, &signed).unwrap().body, body());
}

/// A v1 request as Captalys/qitech-auth (Clojure) sends it, a client written against QI's own
/// sandbox: the date unpadded (`E, d MMM y H:m:s GMT`), `application/json` signed although no
/// `Content-Type` header is sent, no `Date` header.
#[test]
fn a_v1_request_signed_as_the_clojure_client_signs_it_is_accepted() {
    let f = Fixture::new();
    let encoded = jws::sign(&f.client, &body());
    let at = "2026-12-01T05:03:07Z".parse::<DateTime<Utc>>().unwrap();
    let date = at.format("%a, %-d %b %Y %-H:%-M:%-S GMT").to_string();
    assert_eq!(date, "Tue, 1 Dec 2026 5:3:7 GMT");
    let signature = format!(
        "POST\n{}\napplication/json\n{date}\n/prepaid/card",
        md5_hex(encoded.as_bytes())
    );
    let token = jws::sign(&f.client, &json!({"sub": API_KEY, "signature": signature}));
    let signed = Signed {
        headers: vec![
            (
                "authorization".parse().unwrap(),
                format!("QIT {API_KEY}:{token}").parse().unwrap(),
            ),
            ("api-client-key".parse().unwrap(), API_KEY.parse().unwrap()),
        ],
        body: json!({ "encoded_body": encoded }).to_string().into_bytes(),
    };

    let auth = f.check_at("POST", PATH, &signed, at).unwrap();

    assert_eq!(auth.body, body());
    // A charset parameter on the type sent is no other type.
    let mut with_charset = signed.clone();
    with_charset.headers.push((
        "content-type".parse().unwrap(),
        "application/json; charset=utf-8".parse().unwrap(),
    ));
    assert!(f.check_at("POST", PATH, &with_charset, at).is_ok());
    // Still checked: a type other than the one signed.
    let mut typed = signed.clone();
    typed.headers.push((
        "content-type".parse().unwrap(),
        "text/plain".parse().unwrap(),
    ));
    assert_eq!(code(f.check_at("POST", PATH, &typed, at)), "GDF000014");
}
