//! An operator attaches card refs found by hand (in the provider's portal) to an order that
//! needs review. The order becomes `submitted` with those refs, so the reconciler looks the card
//! up and confirms it (or records a mismatch) like any other: a hand-typed ref is checked, never
//! taken on trust.

use super::connect::{Db, Store};
use super::error::{Error, Result};
use crate::domain::{OrderState, ProviderRefs};

/// Only from `needs_review`; the refs merge over any the order had.
// language=SQL
const ATTACH: &str = "UPDATE orders SET provider_refs = $2, card_ref = COALESCE($3, card_ref), \
        card_order_ref = COALESCE($4, card_order_ref), state = 'submitted', updated_at = $5, \
        lookup_next_at = NULL, lookup_count = 0, last_error_code = NULL, last_error_message = NULL \
    WHERE id = $1 AND state = 'needs_review'";

impl Store {
    /// Attaches `refs` to the `needs_review` order `order_id` (merged over its refs) and makes it
    /// `submitted`, due for a lookup. [`Error::OrderNotFound`] without such an order;
    /// [`Error::InvalidAttach`] when it is in another state.
    pub async fn order_attach_refs(
        &self,
        order_id: i64,
        refs: &ProviderRefs,
        now_ms: i64,
    ) -> Result<()> {
        let order = self
            .order_get(order_id)
            .await?
            .ok_or(Error::OrderNotFound(order_id))?;
        if order.state != OrderState::NeedsReview {
            return Err(Error::InvalidAttach(order.state));
        }
        let merged = order.provider_refs.unwrap_or_default().merged(refs);
        let json = merged.to_json();
        let (card, card_order) = (
            merged.card_key().map(str::to_owned),
            merged.order_key().map(str::to_owned),
        );
        let done = match &self.db {
            Db::Sqlite { write, .. } => sqlx::query(ATTACH)
                .bind(order_id)
                .bind(json)
                .bind(card)
                .bind(card_order)
                .bind(now_ms)
                .execute(write)
                .await?
                .rows_affected(),
            Db::Postgres(pool) => sqlx::query(ATTACH)
                .bind(order_id)
                .bind(json)
                .bind(card)
                .bind(card_order)
                .bind(now_ms)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        match done {
            // It moved between the read and the write (another operator, a requeue).
            0 => Err(Error::InvalidAttach(
                self.order_get(order_id)
                    .await?
                    .map(|o| o.state)
                    .unwrap_or(OrderState::NeedsReview),
            )),
            _ => Ok(()),
        }
    }
}
