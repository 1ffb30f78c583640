//! The HTTP API's guard: 401 without or with a bad token on every route, 403 for a role that may
//! not, and the OpenAPI document listing every route. Served by the real server over loopback.

use crate::support::{AppSetup, TestApp, TestDb, csv, spawn_app};
use cardbatch::control::tokens;
use cardbatch::domain::{ProviderKind, Role};
use reqwest::{Method, StatusCode};
use serde_json::Value;

on_both_engines!(
    every_route_answers_401_without_a_token_or_with_a_bad_or_revoked_one,
    each_role_may_do_what_it_allows_and_gets_403_beyond,
    the_openapi_document_lists_every_route,
    the_api_is_refused_beyond_loopback_while_no_token_exists,
    a_malformed_request_is_refused_with_its_reason_as_json,
);

/// Every route of the contract, with `{id}` standing for a batch id.
const ROUTES: [(&str, &str); 16] = [
    ("GET", "/api/v1/batches"),
    ("POST", "/api/v1/batches?profile=qitech_prepaid"),
    ("GET", "/api/v1/batches/{id}"),
    ("GET", "/api/v1/batches/{id}/orders"),
    ("POST", "/api/v1/batches/{id}/pause"),
    ("POST", "/api/v1/batches/{id}/resume"),
    ("POST", "/api/v1/batches/{id}/cancel"),
    ("POST", "/api/v1/batches/{id}/approve"),
    ("POST", "/api/v1/batches/{id}/requeue"),
    ("POST", "/api/v1/orders/1/attach"),
    ("GET", "/api/v1/reconcile"),
    ("GET", "/api/v1/reconcile?batch={id}"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/ops"),
];

/// A token of `role` named after it.
pub async fn token(app: &TestApp, role: Role) -> String {
    tokens::create(&app.store, "cli:test", role.as_str(), role, 1)
        .await
        .unwrap()
}

/// Sends `method path` with `token` (if any) and `body` (CSV for a batch upload, else JSON).
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> (StatusCode, Value) {
    let method: Method = method.parse().unwrap();
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", app.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        let content_type = if body.starts_with('{') {
            "application/json"
        } else {
            "text/csv"
        };
        request = request.header("content-type", content_type).body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn every_route_answers_401_without_a_token_or_with_a_bad_or_revoked_one(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(ProviderKind::QitechPrepaid)).await;
    let batch = app
        .submit_csv(&csv(ProviderKind::QitechPrepaid, "a", 2, &[]))
        .await;
    let admin = token(&app, Role::Admin).await;
    tokens::revoke(&app.store, "cli:test", "admin", 2)
        .await
        .unwrap();

    for (method, path) in ROUTES {
        let path = path.replace("{id}", &batch.to_string());
        for bad in [None, Some("cbt_00"), Some(admin.as_str())] {
            // Act
            let (status, body) = call(&app, method, &path, bad, None).await;

            // Assert
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {bad:?}: {body}"
            );
            assert!(body["error"].as_str().unwrap().contains("bearer"), "{body}");
        }
    }
    // Nothing was done: the batch is still active.
    assert_eq!(
        app.store.batch_control(batch).await.unwrap().state,
        cardbatch::domain::BatchState::Active
    );
    app.shutdown().await;
}

async fn each_role_may_do_what_it_allows_and_gets_403_beyond(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(ProviderKind::QitechPrepaid)).await;
    let batch = app
        .submit_csv(&csv(ProviderKind::QitechPrepaid, "r", 2, &[]))
        .await;
    let id = batch.to_string();
    let viewer = token(&app, Role::Viewer).await;
    let operator = token(&app, Role::Operator).await;
    let approver = token(&app, Role::Approver).await;
    let admin = token(&app, Role::Admin).await;
    let upload = csv(ProviderKind::QitechPrepaid, "up", 2, &[]);
    let new_token = r#"{"name":"ci","role":"viewer"}"#.to_string();

    // Act + Assert: (who, method, path, body, expected status).
    let cases: Vec<(&str, &str, String, Option<String>, StatusCode)> = vec![
        (
            &viewer,
            "GET",
            "/api/v1/batches".into(),
            None,
            StatusCode::OK,
        ),
        (
            &viewer,
            "GET",
            format!("/api/v1/batches/{id}"),
            None,
            StatusCode::OK,
        ),
        (
            &viewer,
            "GET",
            format!("/api/v1/batches/{id}/orders"),
            None,
            StatusCode::OK,
        ),
        (
            &viewer,
            "GET",
            "/api/v1/reconcile".into(),
            None,
            StatusCode::OK,
        ),
        (&viewer, "GET", "/api/v1/audit".into(), None, StatusCode::OK),
        (
            &viewer,
            "POST",
            "/api/v1/batches?profile=qitech_prepaid".into(),
            Some(upload.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            &viewer,
            "POST",
            format!("/api/v1/batches/{id}/pause"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &viewer,
            "POST",
            format!("/api/v1/batches/{id}/cancel"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &viewer,
            "POST",
            format!("/api/v1/batches/{id}/requeue"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &operator,
            "POST",
            format!("/api/v1/batches/{id}/approve"),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &operator,
            "GET",
            "/api/v1/tokens".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        (
            &operator,
            "POST",
            format!("/api/v1/batches/{id}/pause"),
            None,
            StatusCode::OK,
        ),
        (
            &operator,
            "POST",
            format!("/api/v1/batches/{id}/resume"),
            None,
            StatusCode::OK,
        ),
        (
            &operator,
            "POST",
            format!("/api/v1/batches/{id}/requeue"),
            None,
            StatusCode::OK,
        ),
        (
            &operator,
            "POST",
            "/api/v1/batches?profile=qitech_prepaid".into(),
            Some(upload),
            StatusCode::CREATED,
        ),
        (
            &approver,
            "POST",
            "/api/v1/tokens".into(),
            Some(new_token.clone()),
            StatusCode::FORBIDDEN,
        ),
        (
            &approver,
            "DELETE",
            "/api/v1/tokens/viewer".into(),
            None,
            StatusCode::FORBIDDEN,
        ),
        // The batch is active: an approver may approve, but there is nothing to approve.
        (
            &approver,
            "POST",
            format!("/api/v1/batches/{id}/approve"),
            None,
            StatusCode::CONFLICT,
        ),
        (&admin, "GET", "/api/v1/tokens".into(), None, StatusCode::OK),
        (
            &admin,
            "POST",
            "/api/v1/tokens".into(),
            Some(new_token),
            StatusCode::CREATED,
        ),
        (
            &admin,
            "DELETE",
            "/api/v1/tokens/ci".into(),
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            &admin,
            "POST",
            format!("/api/v1/batches/{id}/cancel"),
            None,
            StatusCode::OK,
        ),
    ];
    for (who, method, path, body, expected) in cases {
        let (status, answer) = call(&app, method, &path, Some(who), body).await;
        assert_eq!(status, expected, "{method} {path}: {answer}");
        if status == StatusCode::FORBIDDEN {
            assert!(
                answer["error"].as_str().unwrap().contains("needs"),
                "{answer}"
            );
        }
    }

    // Every refused action is in the audit log, with who tried.
    let log = app.store.audit_list(100, None).await.unwrap();
    assert!(log.iter().any(|r| r.entry.actor == "token:viewer"
        && r.entry.action == "pause"
        && r.entry.outcome == "refused"));
    assert!(log.iter().any(|r| r.entry.actor == "token:admin"
        && r.entry.action == "cancel"
        && r.entry.outcome == "ok"));
    assert!(log.iter().any(|r| r.entry.actor == "token:operator"
        && r.entry.action == "submit"
        && r.entry.outcome == "ok"));
    app.shutdown().await;
}

async fn the_openapi_document_lists_every_route(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(ProviderKind::QitechPrepaid)).await;

    // Act
    let (status, doc) = call(&app, "GET", "/api/v1/openapi.json", None, None).await;

    // Assert
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'), "{doc}");
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("get", "/api/v1/batches"),
        ("post", "/api/v1/batches"),
        ("get", "/api/v1/batches/{id}"),
        ("get", "/api/v1/batches/{id}/orders"),
        ("post", "/api/v1/batches/{id}/pause"),
        ("post", "/api/v1/batches/{id}/resume"),
        ("post", "/api/v1/batches/{id}/cancel"),
        ("post", "/api/v1/batches/{id}/approve"),
        ("post", "/api/v1/batches/{id}/requeue"),
        ("post", "/api/v1/orders/{id}/attach"),
        ("get", "/api/v1/reconcile"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("delete", "/api/v1/tokens/{name}"),
        ("get", "/api/v1/openapi.json"),
    ];
    for (method, path) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the document"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        expected.len(),
        "an undocumented or unexpected route"
    );
    // Every parameter is where it is read: ids in the path, the rest in the query, optional
    // but for the profile of a submit.
    let required_in_query = [("post", "/api/v1/batches", "profile")];
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let place = if path.contains(&format!("{{{name}}}")) {
                    "path"
                } else {
                    "query"
                };
                assert_eq!(parameter["in"], place, "{method} {path} {name}");
                let required = place == "path"
                    || required_in_query.contains(&(method.as_str(), path.as_str(), name));
                assert_eq!(parameter["required"], required, "{method} {path} {name}");
            }
        }
    }
    // The order states a page may be filtered by are the states there are.
    let state_filter = doc["paths"]["/api/v1/batches/{id}/orders"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "state")
        .unwrap()["schema"]["pattern"]
        .as_str()
        .unwrap()
        .to_string();
    let documented_states: Vec<&str> = state_filter
        .trim_start_matches("^(")
        .trim_end_matches(")?$")
        .split('|')
        .collect();
    let states: Vec<&str> = cardbatch::domain::OrderState::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(documented_states, states);
    // The document is the one the code generates.
    let generated = serde_json::to_value(cardbatch::server::api::openapi()).unwrap();
    assert_eq!(
        generated["paths"]["/api/v1/batches/{id}/orders"],
        doc["paths"]["/api/v1/batches/{id}/orders"]
    );
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "{doc}"
    );
    app.shutdown().await;
}

async fn the_api_is_refused_beyond_loopback_while_no_token_exists(db: TestDb) {
    // Arrange: a server configured on every interface, and no token.
    let store = db.store().await;
    let mut config = cardbatch::config::Config::without_profiles();
    config.server.listen = "0.0.0.0:0".parse().unwrap();
    let app = cardbatch::app::App::with_store(&config, store.clone(), |_, _| unreachable!())
        .expect("no profile, nothing to build");

    // Act
    let started = app.start(cardbatch::app::Services::SERVER).await;

    // Assert: refused before anything listens, with what to do.
    let Err(error) = started else {
        panic!("the API started on 0.0.0.0 with no token")
    };
    assert!(
        matches!(error, cardbatch::app::AppError::ApiWithoutToken(_)),
        "{error}"
    );
    assert!(
        error.to_string().contains("cardbatch token create"),
        "{error}"
    );
    store.close().await;
}

async fn a_malformed_request_is_refused_with_its_reason_as_json(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(ProviderKind::QitechPrepaid)).await;
    let admin = token(&app, Role::Admin).await;
    let http = reqwest::Client::new();
    let send = |method: Method, path: &str, content_type: Option<&str>, body: &str| {
        let mut request = http
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(&admin)
            .body(body.to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let is_json = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json");
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, is_json, body)
        }
    };
    let json = Some("application/json");

    // Act
    let cases = [
        (
            "a token body without its content type",
            send(
                Method::POST,
                "/api/v1/tokens",
                None,
                r#"{"name":"a","role":"viewer"}"#,
            )
            .await,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "a token body that is not JSON",
            send(Method::POST, "/api/v1/tokens", json, "\u{0}").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            "a token body of the wrong shape",
            send(Method::POST, "/api/v1/tokens", json, r#"{"name":1}"#).await,
            StatusCode::BAD_REQUEST,
        ),
        (
            "an order id that is not a number",
            send(
                Method::POST,
                "/api/v1/orders/abc/attach",
                json,
                r#"{"refs":{"card_id":"c"}}"#,
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
        (
            "an audit limit that is not a number",
            send(Method::GET, "/api/v1/audit?limit=many", None, "").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            "an audit limit out of range",
            send(Method::GET, "/api/v1/audit?limit=1001", None, "").await,
            StatusCode::BAD_REQUEST,
        ),
        (
            "a submit without its profile",
            send(
                Method::POST,
                "/api/v1/batches",
                Some("text/csv"),
                "order_ref\n",
            )
            .await,
            StatusCode::BAD_REQUEST,
        ),
    ];

    // Assert
    for (name, (status, is_json, body), expected) in cases {
        assert_eq!(status, expected, "{name}: {body}");
        assert!(is_json, "{name}: not JSON");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{name}: {body}"
        );
    }
    // Nothing was made by the refused token bodies.
    let names: Vec<String> = app
        .store
        .api_token_list()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(!names.contains(&"a".to_string()), "{names:?}");
    app.shutdown().await;
}
