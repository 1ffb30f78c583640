//! The CSV upload page: the API's ingest path ([`crate::server::api::submit_as`]), with the
//! line errors shown under the form when the file is refused.

use super::session::{User, poster, user};
use crate::domain::Role;
use crate::server::api::{ApiError, ApiState, submit_as};
use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

#[derive(Template)]
#[template(path = "dashboard/upload.html")]
struct UploadPage {
    user: User,
    profiles: Vec<String>,
    profile: String,
    message: Option<String>,
    /// Line, column, reason.
    errors: Vec<(String, String, String)>,
}

fn page(status: StatusCode, page: UploadPage) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn profiles(state: &ApiState) -> Vec<String> {
    state.config.profiles.keys().cloned().collect()
}

/// `GET /upload`: the form.
pub async fn form(State(state): State<ApiState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(user) = user(&state, &headers).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    // A viewer gets no form (and no link to it): uploading needs an operator.
    user.caller.require(Role::Operator)?;
    let profiles = profiles(&state);
    let profile = profiles.first().cloned().unwrap_or_default();
    Ok(page(
        StatusCode::OK,
        UploadPage {
            user,
            profiles,
            profile,
            message: None,
            errors: Vec::new(),
        },
    ))
}

/// `POST /upload` (multipart: `csrf`, `profile`, `file`): to the new batch's page, or the form
/// again with the file's line errors.
pub async fn submit(
    State(state): State<ApiState>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let (mut csrf, mut profile, mut file) = (String::new(), String::new(), None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(e.to_string()))?
    {
        let name = field.name().unwrap_or("").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "profile" => profile = String::from_utf8_lossy(&bytes).into_owned(),
            "file" => file = Some(bytes),
            _ => {}
        }
    }
    let user = poster(&state, &headers, &csrf).await?;
    // Refused before the file is read as orders (and audited nowhere: nothing was attempted).
    user.caller.require(Role::Operator)?;
    let file = file.ok_or_else(|| ApiError::BadRequest("no file in the form".into()))?;
    let refused = |status: StatusCode, message: String, errors: Vec<_>, user: User| {
        page(
            status,
            UploadPage {
                user,
                profiles: profiles(&state),
                profile: profile.clone(),
                message: Some(message),
                errors,
            },
        )
    };
    match submit_as(&state, &user.caller, &profile, file).await {
        Ok((_, Some(batch))) => Ok(Redirect::to(&format!("/batches/{}", batch.id)).into_response()),
        Ok((counts, None)) => Ok(refused(
            StatusCode::OK,
            format!(
                "Nothing new: the {} rows were all submitted before.",
                counts.rows
            ),
            Vec::new(),
            user,
        )),
        Err(ApiError::Unprocessable(lines) | ApiError::ConflictLines(lines)) => {
            let errors = lines
                .into_iter()
                .map(|e| {
                    let line = e.line.map(|l| l.to_string()).unwrap_or_default();
                    (line, e.column.unwrap_or_default(), e.reason)
                })
                .collect();
            Ok(refused(
                StatusCode::UNPROCESSABLE_ENTITY,
                "The file was refused; nothing was queued.".into(),
                errors,
                user,
            ))
        }
        Err(e) => Err(e),
    }
}
