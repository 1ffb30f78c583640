//! What a status lookup of an accepted order found: the reconciler's question "did the provider
//! finish this card?" for orders whose confirmation never arrived.

use super::call::Classified;
use std::time::Duration;

/// A card's status at the provider, as a status lookup reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum CardStatus {
    /// The card exists and is usable: the order is issued.
    Active,
    /// The provider is still working on it (QI `created`/`embossing`, UQPAY `PENDING`, Alchemy
    /// `INIT*`).
    Pending,
    /// Nothing to ask the provider by: an Alchemy Pay order whose `CREATE_CARD` callback (the
    /// only carrier of its card id) has not come. The reconciler waits for the callback, then
    /// escalates (`reconcile.review_after_secs`).
    Unknowable {
        /// Why the card cannot be looked up, for the operator.
        why: String,
    },
    /// The provider gave up on the card: the order failed.
    Failed {
        /// The code recorded as the order's last error.
        code: String,
        /// The message recorded with it.
        message: String,
    },
    /// The provider does not know the card the order's refs name.
    NotFound,
    /// The lookup itself failed (timeout, 5xx, 429, a refusal): ask again later.
    Transient {
        /// The provider's or cardbatch's code.
        code: String,
        /// What went wrong.
        message: String,
        /// The provider's `Retry-After`, when it gave one.
        retry_after: Option<Duration>,
    },
}

impl CardStatus {
    /// A lookup call that did not answer with the card. A read is always safe to repeat, so
    /// whatever the classification, the reconciler asks again later: a refused lookup (bad
    /// credentials, say) is not evidence about the card.
    pub fn lookup_failed(classified: &Classified) -> CardStatus {
        match classified.clone() {
            Classified::Transient {
                code,
                message,
                retry_after,
                ..
            } => CardStatus::Transient {
                code,
                message,
                retry_after,
            },
            Classified::Unknown { code, message }
            | Classified::Permanent { code, message }
            | Classified::NeedsReview { code, message } => CardStatus::Transient {
                code,
                message,
                retry_after: None,
            },
            Classified::Accepted { .. } => CardStatus::Transient {
                code: "unexpected".into(),
                message: "a failed lookup was classified as accepted".into(),
                retry_after: None,
            },
        }
    }

    /// A lookup that could not be made because the order lacks what it needs.
    pub fn missing(what: &str) -> CardStatus {
        CardStatus::Transient {
            code: "incomplete_refs".into(),
            message: format!("the order has no {what} to look its card up by"),
            retry_after: None,
        }
    }
}
