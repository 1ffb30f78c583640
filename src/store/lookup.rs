//! Finding an order by the idempotency key a provider knows it by. Alchemy Pay's reverse
//! validation asks "did you send `orderNo` X?", and the answer is this lookup.

use super::connect::{Db, Store};
use super::error::{Result, corrupt};
use crate::domain::{OrderState, ProviderKind};

/// An order found by its provider idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedOrder {
    /// The order's row id.
    pub id: i64,
    /// The profile the order is issued through (whose credentials sign answers about it).
    pub profile: String,
    /// Where the order is in its life.
    pub state: OrderState,
}

/// The same SQL on both engines (SQLite accepts `$n` placeholders). Keys are 128 random bits,
/// so two orders never share one; should a hand-written row collide, the oldest order answers.
// language=SQL
const SQL: &str = "SELECT id, profile, state FROM orders \
    WHERE provider = $1 AND idempotency_key = $2 ORDER BY id LIMIT 1";

/// Alchemy Pay orders, the ones looked up by key in production: the provider is a literal so
/// that both planners can use the partial `orders_alchemypay_key` index (`$2` stays the key, `$1`
/// is bound and unused to keep one binding path).
// language=SQL
const SQL_ALCHEMYPAY: &str = "SELECT id, profile, state FROM orders \
    WHERE provider = 'alchemypay_vcc' AND $1 = 'alchemypay_vcc' AND idempotency_key = $2 \
    ORDER BY id LIMIT 1";

impl Store {
    /// The id and state of the order of `provider` whose idempotency key is `idempotency_key`.
    pub async fn order_find_by_key(
        &self,
        provider: ProviderKind,
        idempotency_key: &str,
    ) -> Result<Option<(i64, OrderState)>> {
        Ok(self
            .order_lookup_by_key(provider, idempotency_key)
            .await?
            .map(|o| (o.id, o.state)))
    }

    /// Like [`Store::order_find_by_key`], with the order's profile.
    pub async fn order_lookup_by_key(
        &self,
        provider: ProviderKind,
        idempotency_key: &str,
    ) -> Result<Option<KeyedOrder>> {
        let sql = match provider {
            ProviderKind::AlchemypayVcc => SQL_ALCHEMYPAY,
            // Nothing looks other providers' orders up by key in a hot path: a scan is fine.
            ProviderKind::QitechPrepaid | ProviderKind::QitechPostpaid | ProviderKind::Uqpay => SQL,
        };
        let row: Option<(i64, String, String)> = match &self.db {
            Db::Sqlite { read, .. } => {
                sqlx::query_as(sql)
                    .bind(provider.as_str())
                    .bind(idempotency_key.to_owned())
                    .fetch_optional(read)
                    .await?
            }
            Db::Postgres(pool) => {
                sqlx::query_as(sql)
                    .bind(provider.as_str())
                    .bind(idempotency_key)
                    .fetch_optional(pool)
                    .await?
            }
        };
        row.map(|(id, profile, state)| {
            Ok(KeyedOrder {
                id,
                profile,
                state: state.parse().map_err(|e| corrupt("orders", e))?,
            })
        })
        .transpose()
    }
}
