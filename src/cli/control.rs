//! The operator's commands: `pause|resume|cancel|approve|requeue BATCH`, `token`, `audit`.
//! Each goes through [`crate::control`], which records it in the audit log.

use super::args::TokenCommand;
use super::output::{outln, print_json, print_table};
use super::read::{format_time, resolve_batch};
use crate::control::{Action, cli_actor, perform, tokens};
use crate::domain::OrderState;
use crate::store::Store;
use anyhow::bail;
use std::process::ExitCode;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `cardbatch pause|resume|cancel|approve|requeue BATCH`.
pub async fn act(store: &Store, batch: &str, action: Action) -> anyhow::Result<ExitCode> {
    let id = resolve_batch(store, batch).await?;
    let done = perform(store, &cli_actor(), id, &action, now_ms()).await?;
    let what = match &action {
        Action::Pause => "paused: its orders are not claimed until `cardbatch resume`".to_string(),
        Action::Resume => "resumed: its orders are claimed again".to_string(),
        Action::Cancel => format!(
            "canceled: {} unsent orders canceled (orders in flight or sent are kept)",
            done.orders
        ),
        Action::Approve => "approved: its orders are claimed now".to_string(),
        Action::Requeue { state, .. } => {
            let to = match state {
                OrderState::NeedsReview => {
                    "back to doubt: each is looked up before anything is re-sent"
                }
                _ => "back to the queue",
            };
            format!(
                "{} {state} orders requeued ({to}); `cardbatch run` picks them up",
                done.orders
            )
        }
    };
    outln!("batch {id}: {what}")?;
    Ok(ExitCode::SUCCESS)
}

/// `cardbatch token create|list|revoke`.
pub async fn token(store: &Store, command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create { name, role } => {
            let token = tokens::create(store, &cli_actor(), &name, role, now_ms()).await?;
            // The token alone on stdout, so `TOKEN=$(cardbatch token create ...)` works.
            outln!("{token}")?;
            eprintln!("token `{name}` ({role}) created; it is shown only this once");
        }
        TokenCommand::List { json } => {
            let list = store.api_token_list().await?;
            if json {
                print_json(&list)?;
            } else if list.is_empty() {
                outln!(
                    "no tokens; make one with `cardbatch token create --name NAME --role ROLE`"
                )?;
            } else {
                print_table(
                    &["name", "role", "created (UTC)", "revoked (UTC)"],
                    list.iter().map(|t| {
                        vec![
                            t.name.clone(),
                            t.role.to_string(),
                            format_time(t.created_at_ms),
                            t.revoked_at_ms.map(format_time).unwrap_or_default(),
                        ]
                    }),
                )?;
            }
        }
        TokenCommand::Revoke { name } => {
            if !tokens::revoke(store, &cli_actor(), &name, now_ms()).await? {
                bail!("no unrevoked token named `{name}` (see `cardbatch token list`)");
            }
            outln!("token `{name}` revoked")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cardbatch audit [--limit N] [--json]`.
pub async fn audit(store: &Store, limit: u32, json: bool) -> anyhow::Result<ExitCode> {
    let rows = store.audit_list(limit, None).await?;
    if json {
        print_json(&rows)?;
    } else if rows.is_empty() {
        outln!("no actions recorded yet")?;
    } else {
        print_table(
            &["when (UTC)", "who", "action", "batch", "outcome", "detail"],
            rows.iter().map(|r| {
                let e = &r.entry;
                vec![
                    format_time(e.at_ms),
                    e.actor.clone(),
                    e.action.clone(),
                    e.batch_id.map(|b| b.to_string()).unwrap_or_default(),
                    e.outcome.clone(),
                    e.detail.clone().unwrap_or_default(),
                ]
            }),
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `cardbatch attach ORDER --ref NAME=VALUE...`.
pub async fn attach(
    store: &Store,
    order: i64,
    refs: Vec<(String, String)>,
) -> anyhow::Result<ExitCode> {
    let refs = refs
        .iter()
        .fold(crate::domain::ProviderRefs::new(), |r, (k, v)| r.with(k, v));
    crate::control::attach(store, &cli_actor(), order, &refs, now_ms()).await?;
    outln!(
        "order {order}: refs attached; it is submitted, and the reconciler will confirm the card at the provider"
    )?;
    Ok(ExitCode::SUCCESS)
}
