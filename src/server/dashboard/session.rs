//! The session: the API token in a cookie, and the CSRF token derived from it.

use crate::domain::Role;
use crate::server::api::{ApiError, ApiState, Caller};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const COOKIE_NAME: &str = "cardbatch_session";

/// The logged-in user as the pages show it.
pub struct User {
    pub name: String,
    pub role: Role,
    pub csrf: String,
    pub caller: Caller,
}

impl User {
    /// Whether the user may upload a CSV (the API's submit needs an operator).
    pub fn may_upload(&self) -> bool {
        self.role.allows(Role::Operator)
    }
}

/// The CSRF token of the session holding `token`: a digest of it, so a page of another origin
/// (which cannot read the cookie) cannot forge it.
fn csrf_of(token: &str) -> String {
    hex::encode(Sha256::digest(format!("cardbatch-dashboard-csrf:{token}")))
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
        .filter(|v| !v.is_empty())
}

/// The session's user, or `None` when there is no valid session.
pub async fn user(state: &ApiState, headers: &HeaderMap) -> Result<Option<User>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    match Caller::from_token(state, &token).await {
        Ok(caller) => Ok(Some(User {
            name: caller.name.clone(),
            role: caller.role,
            csrf: csrf_of(&token),
            caller,
        })),
        Err(ApiError::Unauthorized) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The session's user for a form post: 401 without a session, 403 when the form's CSRF token
/// is not the session's.
pub async fn poster(state: &ApiState, headers: &HeaderMap, csrf: &str) -> Result<User, ApiError> {
    let user = user(state, headers).await?.ok_or(ApiError::Unauthorized)?;
    if user.csrf != csrf {
        return Err(ApiError::Forbidden(
            "the form's CSRF token is not this session's".into(),
        ));
    }
    Ok(user)
}

#[derive(Template)]
#[template(path = "dashboard/login.html")]
pub struct LoginPage {
    pub error: Option<String>,
}

/// The log-in page, with `status`.
pub fn login_page(status: StatusCode, error: Option<String>) -> Response {
    match (LoginPage { error }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    token: String,
}

/// `POST /login`: a valid token opens a session; another shows the form again (401).
pub async fn login(State(state): State<ApiState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    match Caller::from_token(&state, token).await {
        Ok(_) => {
            let cookie =
                format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200");
            ([(SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(ApiError::Unauthorized) => login_page(
            StatusCode::UNAUTHORIZED,
            Some("This token is not valid (or was revoked).".into()),
        ),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

/// `POST /logout`: ends the session.
pub async fn logout(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ApiError> {
    poster(&state, &headers, &form.csrf).await?;
    let cookie = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    Ok(([(SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}
