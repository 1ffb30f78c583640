//! QI Tech requests signed by hand with `openssl` (independent of the sandbox's RustCrypto
//! code), in both variants, and the checks of the sandbox's signed answers.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use serde_json::{Value, json};

/// The API key of the built-in fixtures.
pub const API_KEY: &str = "20d6a816-9d21-4e29-bbe5-2ffb3baacfe9";

/// How a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// `encoded_body` + `QIT` header, with a `Date` header equal to the signed date.
    V1,
    /// v1 as the public client libraries send it: see [`V1Style::public_client`].
    V1Public,
    /// Plain JSON + a JWT `AUTHORIZATION` over its MD5.
    V2,
}

/// ES512 compact JWS with openssl: SHA-512 ECDSA, DER signature converted to raw `r‖s`.
pub fn es512(key: &EcKey<Private>, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"ES512","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let pkey = PKey::from_ec_key(key.clone()).unwrap();
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha512(), &pkey).unwrap();
    signer.update(input.as_bytes()).unwrap();
    let der = signer.sign_to_vec().unwrap();
    let sig = EcdsaSig::from_der(&der).unwrap();
    let mut raw = sig.r().to_vec_padded(66).unwrap();
    raw.extend(sig.s().to_vec_padded(66).unwrap());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(raw))
}

/// Verifies an ES512 compact JWS with openssl and returns its claims; `None` if it fails.
pub fn es512_verify(key: &EcKey<Public>, token: &str) -> Option<Value> {
    let (input, signature) = token.rsplit_once('.')?;
    let raw = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if raw.len() != 132 {
        return None;
    }
    let sig = EcdsaSig::from_private_components(
        BigNum::from_slice(&raw[..66]).ok()?,
        BigNum::from_slice(&raw[66..]).ok()?,
    )
    .ok()?;
    let digest = openssl::sha::sha512(input.as_bytes());
    if !sig.verify(&digest, key).ok()? {
        return None;
    }
    let payload = input.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// Lowercase hex MD5 with openssl.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(openssl::hash::hash(MessageDigest::md5(), bytes).unwrap())
}

/// A fresh P-521 key pair.
pub fn new_key() -> EcKey<Private> {
    EcKey::generate(&EcGroup::from_curve_name(Nid::SECP521R1).unwrap()).unwrap()
}

/// A signed request ready to send.
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Sends it to the sandbox at `base` (`http://host:port`).
    pub async fn send(
        self,
        http: &reqwest::Client,
        base: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let method = reqwest::Method::from_bytes(self.method.as_bytes()).unwrap();
        let mut builder = http.request(method, format!("{base}{}", self.path));
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        builder.body(self.body).send().await
    }

    /// Sets a header, replacing any value it had.
    pub fn set_header(&mut self, name: &str, value: String) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value));
    }
}

/// How a v1 request is dressed beyond what its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct V1Style {
    /// The date in the signed string.
    pub date: DateTime<Utc>,
    /// Whether a `Date` header repeats it.
    pub date_header: bool,
    /// Whether both tokens carry the registered claims a JWT library adds.
    pub library_claims: bool,
}

impl V1Style {
    /// A `Date` header equal to the signed date and bare claims.
    pub fn with_date_header() -> V1Style {
        V1Style {
            date: Utc::now(),
            date_header: true,
            library_claims: false,
        }
    }

    /// As the public client libraries send it: no `Date` header (QI documents only
    /// `AUTHORIZATION` and `API-CLIENT-KEY`; the date lives in the signed string), and the
    /// registered claims a JWT library adds to every token it signs (`iat`, `exp`, `nbf`,
    /// `jti`), the `encoded_body` token included.
    pub fn public_client() -> V1Style {
        V1Style {
            date: Utc::now(),
            date_header: false,
            library_claims: true,
        }
    }

    /// A token of `claims`, with the registered claims when the style adds them.
    fn token(&self, key: &EcKey<Private>, claims: &Value) -> String {
        let mut claims = claims.clone();
        if self.library_claims {
            let now = Utc::now().timestamp();
            let object = claims.as_object_mut().expect("claims are an object");
            object.insert("iat".into(), json!(now));
            object.insert("nbf".into(), json!(now));
            object.insert("exp".into(), json!(now + 300));
            object.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        }
        es512(key, &claims)
    }

    /// Signs a request: `{"encoded_body": jwt}` and `Authorization: QIT key:jwt`.
    pub fn sign(
        &self,
        key: &EcKey<Private>,
        api_key: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Request {
        let date = self.date.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        let (bytes, md5, content_type) = match body {
            Some(b) => {
                let encoded = self.token(key, b);
                let md5 = md5_hex(encoded.as_bytes());
                (
                    json!({"encoded_body": encoded}).to_string().into_bytes(),
                    md5,
                    "application/json",
                )
            }
            None => (Vec::new(), String::new(), ""),
        };
        let signature = format!("{method}\n{md5}\n{content_type}\n{date}\n{path}");
        let token = self.token(key, &json!({"sub": api_key, "signature": signature}));
        let mut headers = vec![
            (
                "Authorization".to_string(),
                format!("QIT {api_key}:{token}"),
            ),
            ("API-CLIENT-KEY".to_string(), api_key.to_string()),
        ];
        if self.date_header {
            headers.push(("Date".to_string(), date));
        }
        if body.is_some() {
            headers.push(("Content-Type".to_string(), content_type.to_string()));
        }
        Request {
            method: method.into(),
            path: path.into(),
            headers,
            body: bytes,
        }
    }
}

/// Signs a request the v1 way, with a `Date` header.
pub fn v1_request(
    key: &EcKey<Private>,
    api_key: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Request {
    V1Style::with_date_header().sign(key, api_key, method, path, body)
}

/// Signs a request the v2 way: plain JSON and `AUTHORIZATION: jwt` over its MD5. The JSON is
/// serialised with Python's separators, as QI's sample code does.
pub fn v2_request(
    key: &EcKey<Private>,
    api_key: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Request {
    let bytes = body.map(python_json).unwrap_or_default().into_bytes();
    let md5 = if bytes.is_empty() {
        md5_hex(b"{}")
    } else {
        md5_hex(&bytes)
    };
    let timestamp = Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
    let uri = path.split('?').next().unwrap();
    let token = es512(
        key,
        &json!({"payload_md5": md5, "timestamp": timestamp, "method": method, "uri": uri}),
    );
    let mut headers = vec![
        ("AUTHORIZATION".to_string(), token),
        ("API-CLIENT-KEY".to_string(), api_key.to_string()),
    ];
    if body.is_some() {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    Request {
        method: method.into(),
        path: path.into(),
        headers,
        body: bytes,
    }
}

/// Signs a request in `variant`.
pub fn request(
    variant: Variant,
    key: &EcKey<Private>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Request {
    match variant {
        Variant::V1 => v1_request(key, API_KEY, method, path, body),
        Variant::V1Public => V1Style::public_client().sign(key, API_KEY, method, path, body),
        Variant::V2 => v2_request(key, API_KEY, method, path, body),
    }
}

/// `json.dumps` output: `", "` and `": "` separators, non-ASCII escaped.
pub fn python_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", python_json(&json!(k)), python_json(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(python_json).collect::<Vec<_>>().join(", ")
        ),
        Value::String(s) => {
            let mut out = String::new();
            for c in serde_json::to_string(s).unwrap().chars() {
                if c.is_ascii() {
                    out.push(c);
                } else {
                    for unit in c.encode_utf16(&mut [0; 2]) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
            out
        }
        other => other.to_string(),
    }
}
