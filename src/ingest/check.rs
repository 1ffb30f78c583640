//! [`RowChecker`]: one record, from any source, checked against its provider's schema and turned
//! into a [`NewOrder`] or the list of its problems. The CSV reader and the scheduled database
//! source both go through it, so a row is valid or not whatever it came from.

use super::error::{FileError, Problem};
use super::fields;
use super::idempotency::KeyMaker;
use super::reader::{Validator, parts};
use super::row::{Cells, Clock, Row};
use super::schema::{ColumnMap, Schema};
use crate::domain::{NewOrder, ProviderKind};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::hash_map::{Entry, RandomState};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// Checks records whose columns are named by one header.
pub(crate) struct RowChecker {
    provider: ProviderKind,
    schema: &'static Schema,
    validate: Validator,
    map: ColumnMap,
    keys: KeyMaker,
    clock: Clock,
    seen: SeenRefs,
}

/// The `order_ref`s of the source so far, each with the line (or row) it first appeared on, so
/// that a repeat is an error naming that line.
///
/// A reference is kept as a 64-bit hash of it, not as a `String`: a million rows cost about
/// 36 MB (a `u64 -> u64` table of 2²¹ slots; briefly half as much again while it grows) instead
/// of every reference's text. Two
/// different references share a hash with a probability of about n²/2⁶⁵ (3·10⁻⁸ for a million
/// rows); the hash keys are random per source, so such a collision would not repeat when the
/// file is submitted again.
struct SeenRefs {
    keys: RandomState,
    lines: HashMap<u64, u64, BuildHasherDefault<AlreadyHashed>>,
    /// How a position reads in a message: `line N of this file`, `row N of the query`.
    unit: &'static str,
    of: &'static str,
}

impl SeenRefs {
    /// The line of an earlier row with `order_ref`, or `None` after recording `line` as its first.
    fn earlier(&mut self, order_ref: &str, line: u64) -> Option<u64> {
        match self.lines.entry(self.keys.hash_one(order_ref)) {
            Entry::Occupied(first) => Some(*first.get()),
            Entry::Vacant(slot) => {
                slot.insert(line);
                None
            }
        }
    }
}

/// The map's keys are hashes already: used as they are, not hashed again.
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in rather than lose it.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
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
            seen: SeenRefs {
                keys: RandomState::new(),
                lines: HashMap::default(),
                unit: "line",
                of: "this file",
            },
        })
    }

    /// Names positions in messages as rows of a query (`row N of the query`) rather than lines
    /// of a file.
    pub fn counting_query_rows(mut self) -> RowChecker {
        self.seen.unit = "row";
        self.seen.of = "the query";
        self
    }

    /// The provider the rows are validated for.
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// Checks one record of `width` cells found at `line`: every problem of the row at once, or
    /// the order with its idempotency key. An `order_ref` an earlier record of this checker had
    /// is one of the problems.
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
            // Column 0 of every schema is `order_ref`. A reference the source already used is an
            // error on the later row, whether or not the earlier row was valid: both need
            // fixing before either can be queued.
            let order_ref = row.req(0, fields::order_ref);
            if let Some(earlier) = order_ref.and_then(|r| self.seen.earlier(r, line)) {
                let SeenRefs { unit, of, .. } = self.seen;
                row.fail(
                    0,
                    format!(
                        "`{}` repeats {unit} {earlier} of {of}; each order needs its own reference",
                        order_ref.unwrap_or_default()
                    ),
                );
            }
            let validated = (self.validate)(&mut row, order_ref.unwrap_or(""));
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
