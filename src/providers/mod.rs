//! Stage 4: the card providers. One folder per provider (`client`, `auth`, wire types, error
//! table); this module is the contract they share with the issuing worker.
//!
//! A client does one thing per call and says what happened, classified: accepted (with the
//! provider's refs), transient (with an optional retry-after), permanent (the provider's code),
//! or unknown (the request may have reached the provider and we cannot tell). It never touches
//! the store and never retries on its own except where noted (UQPAY token refresh). The issuing
//! handler (`worker::issue`) decides what to do with each answer.

pub mod alchemypay;
mod build;
mod call;
mod credentials;
pub mod http;
mod profile_client;
pub mod qitech;
mod status;
pub mod uqpay;

pub use build::{BuildError, ProviderEnv, build};
pub use call::{CallKind, CallReport, Classified, Resolution};
pub use credentials::{CredentialError, Credentials};
pub use profile_client::{
    BREAKER_FIRST_PAUSE, BREAKER_MAX_PAUSE, BREAKER_TRIPS_AFTER, ProfileClient, ProfileClients,
    RECENT_ERRORS_KEPT, RecentError,
};
pub use status::CardStatus;

use crate::domain::ProviderOrder;
use futures::future::BoxFuture;

/// A card provider client for one profile.
pub trait Provider: Send + Sync + 'static {
    /// Sends the create call for `order` with its idempotency key (the order's key is used on
    /// every attempt). Provider-specific "already done" answers (UQPAY's replay, QI postpaid
    /// `CIN000099`, Alchemy `300001`/`600003`) are read as success here when the refs are known
    /// or follow asynchronously; when they are not and cannot be found, the answer is
    /// [`Classified::NeedsReview`].
    fn create<'a>(&'a self, order: &'a ProviderOrder) -> BoxFuture<'a, CallReport>;

    /// Resolves doubt before anything is re-sent: the previous attempt may have reached the
    /// provider. Finds the order's card by the refs we hold or by the client reference (QI
    /// prepaid: list the account's cards and match `card_name`), or says it does not exist, or
    /// that this provider cannot tell (its reconciliation gap).
    fn resolve<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (Resolution, Vec<CallReport>)>;

    /// True when sending `order` again after an earlier attempt (even one the provider answered
    /// with an error: a 5xx may come after the card was made) could make a second card, so the
    /// worker resolves first, exactly as for a lost answer. UQPAY replays a key for 24 hours
    /// only, so an order queued that long ago is looked for before any re-send. The default:
    /// the provider's idempotency covers every re-send.
    fn resend_needs_lookup(&self, order: &ProviderOrder, now_ms: i64) -> bool {
        let _ = (order, now_ms);
        false
    }

    /// Looks up the status of the card of an accepted (`submitted`) order by the refs it holds,
    /// for the reconciler: orders whose webhook never came are confirmed (or failed) this way.
    /// The default, for a provider without a status lookup (test doubles), says `Pending` without
    /// calling anything, which leaves such orders waiting for their webhook.
    fn status<'a>(
        &'a self,
        order: &'a ProviderOrder,
    ) -> BoxFuture<'a, (CardStatus, Vec<CallReport>)> {
        let _ = order;
        Box::pin(async { (CardStatus::Pending, Vec::new()) })
    }
}

/// The README section headed `### {title}` (up to the next `###` or `##` heading): the
/// classification tests check that the README shows every code of the tables in code.
#[cfg(test)]
pub(crate) fn readme_section(title: &str) -> &'static str {
    let readme = include_str!("../../README.md");
    let heading = format!("\n### {title}\n");
    let start = readme
        .find(&heading)
        .unwrap_or_else(|| panic!("README has no section `### {title}`"))
        + heading.len();
    let rest = &readme[start..];
    let end = [rest.find("\n### "), rest.find("\n## ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    &rest[..end]
}
