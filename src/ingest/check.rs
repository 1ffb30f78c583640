//! [`RowChecker`]: one record, from any source, checked against its provider's schema and turned
//! into a [`NewOrder`] or the list of its problems. The CSV reader and the scheduled database
//! source both go through it, so a row is valid or not whatever it came from.

use super::error::{FileError, Problem};
use super::fields;
use super::idempotency::KeyMaker;
use super::reader::{Validator, parts};
use super::row::{Cells, Clock, Row};
use super::schema::{ColumnMap, Schema};
use crate::domain::card_data::contains_pan;
use crate::domain::{NewOrder, ProviderKind};
use std::collections::BTreeMap;

/// Checks records whose columns are named by one header.
pub(crate) struct RowChecker {
    provider: ProviderKind,
    schema: &'static Schema,
    validate: Validator,
    map: ColumnMap,
    keys: KeyMaker,
    clock: Clock,
}

impl RowChecker {
    /// Resolves `header` (column names as written: a CSV header line, a query's column names)
    /// against the provider's schema and the profile's `defaults`; the clock is read once here,
    /// so every row of the source agrees on "today".
    pub fn new(
        provider: ProviderKind,
        header: &csv::StringRecord,
        defaults: &BTreeMap<String, String>,
    ) -> Result<RowChecker, FileError> {
        let (schema, validate) = parts(provider);
        let map = schema.resolve(header, defaults)?;
        let now = chrono::Utc::now();
        Ok(RowChecker {
            provider,
            schema,
            validate,
            map,
            keys: KeyMaker::new(),
            clock: Clock {
                today: now.date_naive(),
                now,
            },
        })
    }

    /// The provider the rows are validated for.
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// Checks one record of `width` cells found at `line`: every problem of the row at once, or
    /// the order with its idempotency key.
    pub fn check(
        &mut self,
        record: &dyn Cells,
        width: usize,
        line: u64,
    ) -> Result<NewOrder, Vec<Problem>> {
        let mut row = Row::new(record, &self.map, self.schema.columns, self.clock);
        let mut result = None;
        if width != self.map.width {
            row.fail_row(format!(
                "the row has {} cells but the header has {} (a missing or extra delimiter?)",
                width, self.map.width
            ));
        } else {
            for &pos in &self.map.unnamed {
                if record.cell_at(pos).is_some_and(|c| !c.trim().is_empty()) {
                    row.fail_row(format!(
                        "cell {} has a value but its column has no name in the header",
                        pos + 1
                    ));
                }
            }
            // Column 0 of every schema is `order_ref`.
            let order_ref = row.req(0, fields::order_ref);
            let validated = (self.validate)(&mut row, order_ref.unwrap_or(""));
            refuse_card_numbers(&mut row, self.schema.columns);
            result = order_ref.zip(validated);
        }
        match result {
            Some((order_ref, v)) if !row.has_problems() => Ok(NewOrder {
                line,
                order_ref: order_ref.to_string(),
                idempotency_key: self.keys.make(self.provider),
                payload: v.payload,
                amount_minor: v.amount_minor,
                currency: v.currency.map(str::to_string),
            }),
            _ => Err(row
                .problems
                .into_iter()
                .map(|(column, reason)| Problem {
                    column: column.map(str::to_string),
                    reason,
                })
                .collect()),
        }
    }
}

/// A card number in a cell is a problem: cardbatch never stores one, and no order field asks
/// for one (a PAN pasted into a name, an address, a note or a metadata object would otherwise
/// rest in the payload). Identifiers are exempt: `order_ref` (the customer's own reference)
/// and the `*_id` / `*_key` columns, where a long number that happens to pass the Luhn check
/// (one in ten do) is someone's id, not a card.
fn refuse_card_numbers(row: &mut Row<'_>, names: &[&str]) {
    for (col, name) in names.iter().enumerate() {
        let identifier = col == 0 || name.ends_with("_id") || name.ends_with("_key");
        if !identifier && row.cell(col).is_some_and(contains_pan) {
            row.fail(
                col,
                "holds what looks like a card number (15 to 19 digits passing the Luhn check); \
                 cardbatch never stores card numbers: remove it",
            );
        }
    }
}
