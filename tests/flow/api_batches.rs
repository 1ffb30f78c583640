//! The HTTP API's batches: uploads through the ingest path (201, 422 with line errors or a
//! reference repeated within the file, 409 on a conflict with an earlier batch), keyset pages of orders, the actions' 404 and 409, pause stopping the
//! workers' claims, and maker-checker approval.

use crate::api_auth::{call, token};
use crate::support::{AppSetup, TestDb, csv, spawn_app};
use cardbatch::domain::{OrderState, ProviderKind, Role};
use reqwest::StatusCode;
use uuid::Uuid;

on_both_engines!(
    an_upload_is_queued_or_refused_with_every_line_error,
    orders_come_in_keyset_pages,
    actions_answer_404_for_no_batch_and_409_when_the_state_forbids,
    a_paused_batch_is_not_claimed_by_the_workers_until_resumed,
    a_batch_over_the_approval_threshold_waits_for_someone_else_to_approve,
);

const KIND: ProviderKind = ProviderKind::QitechPrepaid;
const UPLOAD: &str = "/api/v1/batches?profile=qitech_prepaid";

async fn an_upload_is_queued_or_refused_with_every_line_error(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let ops = token(&app, Role::Operator).await;
    let good = csv(KIND, "u", 3, &[]);

    // Act
    let (created, body) = call(&app, "POST", UPLOAD, Some(&ops), Some(good.clone())).await;
    let (again, repeat) = call(&app, "POST", UPLOAD, Some(&ops), Some(good.clone())).await;
    let invalid = format!("{good}x-8,not-a-uuid,Ana Silva\nx-9,also-not-one,Ana Silva\n");
    let (refused, errors) = call(&app, "POST", UPLOAD, Some(&ops), Some(invalid)).await;
    let conflicting = good.replace("Ana Silva", "Bia Souza");
    let (conflict, conflicts) = call(&app, "POST", UPLOAD, Some(&ops), Some(conflicting)).await;
    let own = csv(KIND, "w", 2, &[]);
    let twice = format!("{own}{}\n", own.lines().nth(1).unwrap());
    let (repeated, repeats) = call(&app, "POST", UPLOAD, Some(&ops), Some(twice)).await;
    let raw = |content_type: Option<&'static str>, body: String| {
        let mut request = reqwest::Client::new()
            .post(format!("{}{UPLOAD}", app.url))
            .bearer_auth(&ops)
            .body(body);
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        async move { request.send().await.unwrap().status() }
    };
    let as_json = raw(Some("application/json"), csv(KIND, "j", 1, &[])).await;
    let untyped = raw(None, csv(KIND, "n", 1, &[])).await;
    let unknown = "/api/v1/batches?profile=nope";
    let (no_profile, _) = call(&app, "POST", unknown, Some(&ops), Some(good)).await;

    // Assert
    assert_eq!(created, StatusCode::CREATED, "{body}");
    assert_eq!(body["ingest"]["queued"], 3);
    assert_eq!(body["state"], "active");
    assert_eq!(body["submitted_by"], "token:operator");
    assert_eq!(body["orders"], 3);
    assert_eq!(again, StatusCode::OK, "{repeat}");
    assert_eq!(repeat["outcome"], "nothing_new");
    assert_eq!(refused, StatusCode::UNPROCESSABLE_ENTITY, "{errors}");
    let lines: Vec<u64> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [5, 6], "{errors}");
    assert!(errors["errors"][0]["reason"].as_str().is_some());
    assert!(errors["errors"][0].get("column").is_some());
    assert_eq!(conflict, StatusCode::CONFLICT, "{conflicts}");
    assert_eq!(conflicts["errors"][0]["column"], "order_ref");
    // A file repeating one of its own rows is a bad file (422), not a clash with stored orders.
    assert_eq!(repeated, StatusCode::UNPROCESSABLE_ENTITY, "{repeats}");
    assert_eq!(repeats["errors"][0]["line"], 4, "{repeats}");
    let reason = repeats["errors"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("repeats line 2 of this file"), "{reason}");
    assert_eq!(no_profile, StatusCode::NOT_FOUND);
    assert_eq!(as_json, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        untyped,
        StatusCode::CREATED,
        "a body of no named type is read as CSV"
    );
    // Only the first and the untyped upload made a batch; the refused ones wrote nothing.
    assert_eq!(app.store.batch_list().await.unwrap().len(), 2);
    app.shutdown().await;
}

async fn orders_come_in_keyset_pages(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let batch = app.submit_csv(&csv(KIND, "k", 5, &[])).await;
    let viewer = token(&app, Role::Viewer).await;
    let path = format!("/api/v1/batches/{batch}/orders");

    // Act
    let (_, first) = call(&app, "GET", &format!("{path}?limit=2"), Some(&viewer), None).await;
    let after = first["next_after"].as_i64().unwrap();
    let (_, second) = call(
        &app,
        "GET",
        &format!("{path}?limit=2&after={after}"),
        Some(&viewer),
        None,
    )
    .await;
    let after = second["next_after"].as_i64().unwrap();
    let (_, last) = call(
        &app,
        "GET",
        &format!("{path}?limit=2&after={after}"),
        Some(&viewer),
        None,
    )
    .await;
    let (_, found) = call(
        &app,
        "GET",
        &format!("{path}?q=k-3&state=queued"),
        Some(&viewer),
        None,
    )
    .await;
    let (bad_state, _) = call(
        &app,
        "GET",
        &format!("{path}?state=lost"),
        Some(&viewer),
        None,
    )
    .await;
    let missing = format!("/api/v1/batches/{}/orders", Uuid::new_v4());
    let (no_batch, _) = call(&app, "GET", &missing, Some(&viewer), None).await;

    // Assert
    let refs = |page: &serde_json::Value| -> Vec<String> {
        page["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["order_ref"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(refs(&first), ["k-0", "k-1"]);
    assert_eq!(refs(&second), ["k-2", "k-3"]);
    assert_eq!(refs(&last), ["k-4"]);
    assert!(last["next_after"].is_null());
    assert_eq!(refs(&found), ["k-3"]);
    assert_eq!(bad_state, StatusCode::BAD_REQUEST);
    assert_eq!(no_batch, StatusCode::NOT_FOUND);
    app.shutdown().await;
}

async fn actions_answer_404_for_no_batch_and_409_when_the_state_forbids(db: TestDb) {
    // Arrange
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let batch = app.submit_csv(&csv(KIND, "s", 2, &[])).await;
    let ops = token(&app, Role::Admin).await;
    let on = |action: &str| format!("/api/v1/batches/{batch}/{action}");

    // Act + Assert
    for action in ["pause", "resume", "cancel", "approve", "requeue"] {
        let (status, _) = call(
            &app,
            "POST",
            &format!("/api/v1/batches/{}/{action}", Uuid::new_v4()),
            Some(&ops),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
        let (status, _) = call(
            &app,
            "POST",
            &format!("/api/v1/batches/not-an-id/{action}"),
            Some(&ops),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{action} on a malformed id");
    }
    let (status, _) = call(
        &app,
        "GET",
        &format!("/api/v1/batches/{}", Uuid::new_v4()),
        Some(&ops),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        call(&app, "POST", &on("resume"), Some(&ops), None).await.0,
        StatusCode::CONFLICT
    );
    let (paused, body) = call(&app, "POST", &on("pause"), Some(&ops), None).await;
    assert_eq!(paused, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "paused");
    let (again, why) = call(&app, "POST", &on("pause"), Some(&ops), None).await;
    assert_eq!(again, StatusCode::CONFLICT);
    assert!(why["error"].as_str().unwrap().contains("paused"), "{why}");
    let needs_review = on("requeue") + "?state=needs_review";
    assert_eq!(
        call(&app, "POST", &needs_review, Some(&ops), None).await.0,
        StatusCode::CONFLICT
    );
    let (canceled, body) = call(&app, "POST", &on("cancel"), Some(&ops), None).await;
    assert_eq!(canceled, StatusCode::OK);
    assert_eq!(body["moved"], 2);
    assert_eq!(body["counts"]["canceled"], 2);
    for action in ["pause", "resume", "cancel", "approve", "requeue"] {
        let (status, _) = call(&app, "POST", &on(action), Some(&ops), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{action} on a canceled batch");
    }
    app.shutdown().await;
}

async fn a_paused_batch_is_not_claimed_by_the_workers_until_resumed(db: TestDb) {
    // Arrange: two batches; one is paused before any worker runs.
    let app = spawn_app(&db, AppSetup::new(KIND)).await;
    let paused = app.submit_csv(&csv(KIND, "p", 4, &[])).await;
    let other = app.submit_csv(&csv(KIND, "o", 4, &[])).await;
    let ops = token(&app, Role::Operator).await;
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/batches/{paused}/pause"),
        Some(&ops),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Act: the workers run until nothing is due.
    app.drain().await;

    // Assert: the other batch was issued, the paused one not touched.
    assert!(
        app.orders(paused)
            .await
            .iter()
            .all(|o| o.state == OrderState::Queued && o.attempts == 0)
    );
    assert!(
        app.orders(other)
            .await
            .iter()
            .all(|o| o.state != OrderState::Queued)
    );
    let (_, shown) = call(
        &app,
        "GET",
        &format!("/api/v1/batches/{paused}"),
        Some(&ops),
        None,
    )
    .await;
    assert_eq!(shown["state"], "paused");

    // Act: resume, and the workers run again.
    let (status, _) = call(
        &app,
        "POST",
        &format!("/api/v1/batches/{paused}/resume"),
        Some(&ops),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    app.drain().await;

    // Assert
    assert!(
        app.orders(paused)
            .await
            .iter()
            .all(|o| o.state != OrderState::Queued)
    );
    app.shutdown().await;
}

async fn a_batch_over_the_approval_threshold_waits_for_someone_else_to_approve(db: TestDb) {
    // Arrange: batches of more than 2 orders need approval.
    let setup = AppSetup {
        profile_edit: |p| p.approval_over_orders = Some(2),
        ..AppSetup::new(KIND)
    };
    let app = spawn_app(&db, setup).await;
    let maker = token(&app, Role::Approver).await;
    let checker =
        cardbatch::control::tokens::create(&app.store, "cli:test", "checker", Role::Approver, 1)
            .await
            .unwrap();
    let (_, small) = call(
        &app,
        "POST",
        UPLOAD,
        Some(&maker),
        Some(csv(KIND, "s", 2, &[])),
    )
    .await;
    let (_, big) = call(
        &app,
        "POST",
        UPLOAD,
        Some(&maker),
        Some(csv(KIND, "b", 3, &[])),
    )
    .await;
    let id = big["id"].as_str().unwrap().to_string();
    assert_eq!(small["state"], "active");
    assert_eq!(big["state"], "awaiting_approval");
    assert!(
        big["state_reason"]
            .as_str()
            .unwrap()
            .contains("approval_over_orders")
    );

    // Act: the workers run; then the submitter tries to approve.
    app.drain().await;
    let approve = format!("/api/v1/batches/{id}/approve");
    let (own, why) = call(&app, "POST", &approve, Some(&maker), None).await;

    // Assert: held, and self-approval refused.
    let batch: Uuid = id.parse().unwrap();
    assert!(
        app.orders(batch)
            .await
            .iter()
            .all(|o| o.state == OrderState::Queued)
    );
    assert_eq!(own, StatusCode::FORBIDDEN, "{why}");
    assert!(
        why["error"].as_str().unwrap().contains("submitted"),
        "{why}"
    );

    // Act: someone else approves.
    let (approved, body) = call(&app, "POST", &approve, Some(&checker), None).await;
    app.drain().await;

    // Assert
    assert_eq!(approved, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "active");
    assert!(
        app.orders(batch)
            .await
            .iter()
            .all(|o| o.state != OrderState::Queued)
    );
    let log = app.store.audit_list(50, None).await.unwrap();
    assert!(log.iter().any(|r| r.entry.actor == "token:approver"
        && r.entry.action == "approve"
        && r.entry.outcome == "refused"));
    assert!(log.iter().any(|r| r.entry.actor == "token:checker"
        && r.entry.action == "approve"
        && r.entry.outcome == "ok"));
    app.shutdown().await;
}
