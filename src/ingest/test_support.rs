//! Helpers for the ingest unit tests: run a CSV text through [`CsvOrders`] and look at what
//! comes out.

use super::{CsvOrders, RowError};
use crate::domain::{NewOrder, ProviderKind};
use std::collections::BTreeMap;

/// Every order and every row error of `csv` read for `provider` with `defaults`.
pub(crate) fn run(
    provider: ProviderKind,
    csv: &str,
    defaults: &[(&str, &str)],
) -> (Vec<NewOrder>, Vec<RowError>) {
    let defaults: BTreeMap<String, String> = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let reader = CsvOrders::new(csv.as_bytes(), provider, &defaults).expect("the header is valid");
    let (mut orders, mut errors) = (Vec::new(), Vec::new());
    for item in reader {
        match item {
            Ok(o) => orders.push(o),
            Err(e) => errors.push(e),
        }
    }
    (orders, errors)
}

/// The single order of a one-row file; panics with the row's problems otherwise.
#[track_caller]
pub(crate) fn one_order(provider: ProviderKind, header: &str, row: &str) -> NewOrder {
    let (orders, errors) = run(provider, &format!("{header}\n{row}\n"), &[]);
    assert!(errors.is_empty(), "unexpected problems: {errors:?}");
    assert_eq!(orders.len(), 1);
    orders.into_iter().next().unwrap()
}

/// The (column, reason) problems of a one-row file, asserting they are reported on line 2.
#[track_caller]
pub(crate) fn problems(provider: ProviderKind, header: &str, row: &str) -> Vec<(String, String)> {
    let (orders, errors) = run(provider, &format!("{header}\n{row}\n"), &[]);
    assert!(orders.is_empty(), "the row was accepted: {orders:?}");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 2);
    errors[0]
        .problems
        .iter()
        .map(|p| (p.column.clone().unwrap_or_default(), p.reason.clone()))
        .collect()
}

/// Asserts that `column` has a problem whose reason contains `needle`.
#[track_caller]
pub(crate) fn assert_problem(problems: &[(String, String)], column: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|(c, r)| c == column && r.contains(needle)),
        "no problem on {column} containing {needle:?} in {problems:?}"
    );
}
