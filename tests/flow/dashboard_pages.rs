//! The dashboard: log-in with an API token (an `HttpOnly`, `SameSite=Strict` session cookie),
//! the batches page, a batch page whose controls follow the role, the CSRF check on every
//! form, a viewer refused (403) when it posts a control anyway, and the CSV upload (not for a
//! viewer). Dead orders get a requeue button; the lanes page shows the failed calls.

use crate::api_auth::token;
use crate::support::{AppSetup, TestApp, TestDb, csv, spawn_app};
use cardbatch::domain::{BatchState, OrderState, ProviderKind, Role};
use cardbatch::sandbox::{FaultConfig, ProviderSettings};
use reqwest::StatusCode;
use reqwest::redirect::Policy;

on_both_engines!(
    an_operator_logs_in_and_pauses_a_batch_a_viewer_sees_no_controls_and_is_refused,
    a_form_without_the_session_csrf_token_is_refused,
    an_upload_queues_a_batch_or_shows_the_line_errors,
    dead_orders_are_requeued_from_the_batch_page_and_their_errors_show_on_the_lanes_page,
);

const KIND: ProviderKind = ProviderKind::QitechPrepaid;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Logs in with `token`: the status and the session cookie (`name=value`) with its attributes.
async fn login(app: &TestApp, token: &str) -> (StatusCode, String) {
    let response = client()
        .post(format!("{}/login", app.url))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status(), cookie)
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = client()
        .get(format!("{}{path}", app.url))
        .header("cookie", session(cookie))
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn post(app: &TestApp, cookie: &str, path: &str, csrf: &str) -> StatusCode {
    client()
        .post(format!("{}{path}", app.url))
        .header("cookie", session(cookie))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap()
        .status()
}

/// The `name=value` part of a `Set-Cookie`.
fn session(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// The CSRF token a page's forms carry.
fn csrf(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

async fn an_operator_logs_in_and_pauses_a_batch_a_viewer_sees_no_controls_and_is_refused(
    db: TestDb,
) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let operator = token(&app, Role::Operator).await;
    let viewer = token(&app, Role::Viewer).await;
    let batch = app.submit_csv(&csv(KIND, "d", 4, &[])).await;
    let page = format!("/batches/{batch}");

    // Act
    let (anonymous, login_form) = get(&app, "", "/").await;
    let (refused_login, no_cookie) = login(&app, "not-a-token").await;
    let (logged_in, ops) = login(&app, &operator).await;
    let (_, list) = get(&app, &ops, "/").await;
    let (_, before) = get(&app, &ops, &page).await;
    let paused = post(&app, &ops, &format!("{page}/pause"), &csrf(&before)).await;
    let after_pause = app.store.batch_summary(batch).await.unwrap().state;
    let (_, after) = get(&app, &ops, &page).await;
    let (_, views) = login(&app, &viewer).await;
    let (_, viewer_page) = get(&app, &views, &page).await;
    let viewer_post = post(&app, &views, &format!("{page}/resume"), &csrf(&viewer_page)).await;
    let after_viewer = app.store.batch_summary(batch).await.unwrap().state;
    let (_, lanes) = get(&app, &views, "/lanes").await;
    let (_, schedules) = get(&app, &views, "/schedules").await;
    let (_, searched) = get(&app, &views, &format!("{page}?state=queued&q=d-2")).await;
    let (_, other_state) = get(&app, &views, &format!("{page}?state=failed")).await;
    let (bad_after, bad_after_body) = get(&app, &views, &format!("{page}?after=x")).await;

    // Assert
    assert_eq!(bad_after, StatusCode::BAD_REQUEST);
    assert!(bad_after_body.contains(r#""error""#), "{bad_after_body}");
    assert_eq!(anonymous, StatusCode::OK);
    assert!(login_form.contains(r#"action="/login""#), "{login_form}");
    assert_eq!(refused_login, StatusCode::UNAUTHORIZED);
    assert!(no_cookie.is_empty(), "{no_cookie}");
    assert_eq!(logged_in, StatusCode::SEE_OTHER);
    assert!(
        ops.contains("HttpOnly") && ops.contains("SameSite=Strict"),
        "{ops}"
    );
    assert!(
        list.contains(&batch.to_string()) && list.contains("qitech_prepaid"),
        "{list}"
    );
    assert!(list.contains("queued: 4"), "{list}");
    assert!(
        before.contains(&format!(r#"action="{page}/pause""#)),
        "{before}"
    );
    assert_eq!(paused, StatusCode::SEE_OTHER);
    assert_eq!(after_pause, BatchState::Paused);
    assert!(
        after.contains(&format!(r#"action="{page}/resume""#)),
        "{after}"
    );
    assert!(
        !viewer_page.contains("<button type=\"submit\" name=\"action\""),
        "{viewer_page}"
    );
    assert!(viewer_page.contains("paused"), "{viewer_page}");
    assert_eq!(viewer_post, StatusCode::FORBIDDEN);
    assert_eq!(after_viewer, BatchState::Paused);
    let engine = if db.url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    save(
        engine,
        &[
            ("batches", &list),
            ("batch", &after),
            ("viewer", &viewer_page),
        ],
    );
    assert!(
        lanes.contains("<tr><td data-label=\"Profile\">qitech_prepaid</td>"),
        "{lanes}"
    );
    // The test app's jobs directory is the default, `jobs/` of the repository (its examples).
    let examples: Vec<String> = std::fs::read_dir("jobs")
        .map(|dir| {
            dir.filter_map(|f| f.ok()?.path().file_stem()?.to_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        examples.is_empty(),
        schedules.contains("No schedules"),
        "{schedules}"
    );
    for name in &examples {
        assert!(
            schedules.contains(&format!("<tr><td data-label=\"Schedule\">{name}</td>")),
            "{name}: {schedules}"
        );
    }
    let rows = |page: &str| page.matches("<tr><td>").count();
    assert_eq!(rows(&before), 4, "{before}");
    assert_eq!(rows(&searched), 1, "{searched}");
    assert!(searched.contains("<td>d-2</td>"), "{searched}");
    assert_eq!(rows(&other_state), 0, "{other_state}");
    app.shutdown().await;
}

async fn a_form_without_the_session_csrf_token_is_refused(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let operator = token(&app, Role::Operator).await;
    let batch = app.submit_csv(&csv(KIND, "c", 2, &[])).await;
    let (_, ops) = login(&app, &operator).await;

    // Act
    let forged = post(&app, &ops, &format!("/batches/{batch}/cancel"), "forged").await;
    let no_session = post(&app, "", &format!("/batches/{batch}/cancel"), "forged").await;

    // Assert
    assert_eq!(forged, StatusCode::FORBIDDEN);
    assert_eq!(no_session, StatusCode::UNAUTHORIZED);
    let state = app.store.batch_summary(batch).await.unwrap().state;
    assert_eq!(state, BatchState::Active);
    app.shutdown().await;
}

/// Posts a multipart form (`csrf`, `profile`, `file` = `csv`) to `/upload`: the status, the
/// redirect's location and the page.
async fn upload(
    app: &TestApp,
    cookie: &str,
    csrf: &str,
    csv: &str,
) -> (StatusCode, String, String) {
    let boundary = "cardbatch-test-boundary";
    let mut body = String::new();
    for (name, value) in [("csrf", csrf), ("profile", KIND.as_str())] {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"orders.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    ));
    let response = client()
        .post(format!("{}/upload", app.url))
        .header("cookie", session(cookie))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = response
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, response.text().await.unwrap())
}

async fn an_upload_queues_a_batch_or_shows_the_line_errors(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let operator = token(&app, Role::Operator).await;
    let (_, ops) = login(&app, &operator).await;
    let (_, form) = get(&app, &ops, "/upload").await;
    let good = csv(KIND, "up", 3, &[]);
    let bad = format!("{}x-9,not-a-uuid,Ana Silva\n", csv(KIND, "bad", 2, &[]));

    // Act
    let (queued, location, _) = upload(&app, &ops, &csrf(&form), &good).await;
    let (refused, _, errors) = upload(&app, &ops, &csrf(&form), &bad).await;
    let (forged, _, _) = upload(&app, &ops, "forged", &good).await;
    let viewer = token(&app, Role::Viewer).await;
    let (_, views) = login(&app, &viewer).await;
    let (_, viewer_list) = get(&app, &views, "/").await;
    let (viewer_form, _) = get(&app, &views, "/upload").await;
    let (viewer_post, _, _) = upload(&app, &views, &csrf(&viewer_list), &good).await;
    let (_, ops_list) = get(&app, &ops, "/").await;

    // Assert
    assert_eq!(queued, StatusCode::SEE_OTHER);
    let batch: uuid::Uuid = location.trim_start_matches("/batches/").parse().unwrap();
    assert_eq!(app.store.batch_summary(batch).await.unwrap().total(), 3);
    assert_eq!(refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(errors.contains("<tr><td>4</td>"), "{errors}");
    assert_eq!(forged, StatusCode::FORBIDDEN);
    assert!(ops_list.contains(r#"href="/upload""#), "{ops_list}");
    assert!(!viewer_list.contains(r#"href="/upload""#), "{viewer_list}");
    assert_eq!(viewer_form, StatusCode::FORBIDDEN);
    assert_eq!(viewer_post, StatusCode::FORBIDDEN);
    assert_eq!(app.store.batch_list().await.unwrap().len(), 1);
    app.shutdown().await;
}

async fn dead_orders_are_requeued_from_the_batch_page_and_their_errors_show_on_the_lanes_page(
    db: TestDb,
) {
    // Arrange: every create answers the provider's transient error, one attempt allowed: the
    // batch's orders end dead.
    let setup = AppSetup {
        provider: ProviderSettings {
            faults: FaultConfig {
                transient_error_rate: 1.0,
                ..FaultConfig::default()
            },
            ..ProviderSettings::default()
        },
        profile_edit: |p| p.max_attempts = 1,
        ..AppSetup::new(KIND)
    };
    let app = spawn_app(&db, setup).await;
    let operator = token(&app, Role::Operator).await;
    let viewer = token(&app, Role::Viewer).await;
    let batch = app.submit_csv(&csv(KIND, "r", 2, &[])).await;
    app.run_until_settled().await;
    let page = format!("/batches/{batch}");
    let (_, ops) = login(&app, &operator).await;
    let (_, views) = login(&app, &viewer).await;
    let (_, dead_page) = get(&app, &ops, &page).await;
    let (_, viewer_page) = get(&app, &views, &page).await;
    let (_, lanes) = get(&app, &views, "/lanes").await;

    // Act
    let refused = post(
        &app,
        &views,
        &format!("{page}/requeue"),
        &csrf(&viewer_page),
    )
    .await;
    let dead_after_refusal =
        app.store.batch_summary(batch).await.unwrap().counts[&OrderState::Dead];
    let requeued = post(&app, &ops, &format!("{page}/requeue"), &csrf(&dead_page)).await;
    let (_, after) = get(&app, &ops, &page).await;

    // Assert
    assert!(
        dead_page.contains(&format!(r#"action="{page}/requeue""#))
            && dead_page.contains("requeue 2 dead"),
        "{dead_page}"
    );
    assert!(dead_page.contains(r#"id="reconciliation""#), "{dead_page}");
    assert!(!viewer_page.contains("/requeue"), "{viewer_page}");
    assert_eq!(refused, StatusCode::FORBIDDEN);
    assert_eq!(dead_after_refusal, 2);
    assert_eq!(requeued, StatusCode::SEE_OTHER);
    let counts = app.store.batch_summary(batch).await.unwrap().counts;
    assert_eq!(counts.get(&OrderState::Dead).copied().unwrap_or(0), 0);
    assert_eq!(counts.get(&OrderState::Queued).copied(), Some(2));
    assert!(!after.contains("/requeue"), "{after}");
    assert!(
        lanes.contains(r#"<tr class="error-row">"#) && lanes.contains("transient"),
        "{lanes}"
    );
    assert!(lanes.contains("<th>In flight</th>"), "{lanes}");
    app.shutdown().await;
}

/// Keeps the pages under `target/dashboard/` (self-contained HTML: the CSS is inline), for a
/// look or a screenshot.
fn save(engine: &str, pages: &[(&str, &str)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, html) in pages {
        std::fs::write(dir.join(format!("{name}-{engine}.html")), html).unwrap();
    }
}
