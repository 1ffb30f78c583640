//! CSV files for the ingest tests: the example files, and reading a file into orders and errors.

use cardbatch::domain::{NewOrder, ProviderKind};
use cardbatch::ingest::{CsvOrders, FileError, RowError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A UQPAY cardholder and card product the sandbox knows, as two CSV cells.
pub const UQPAY_IDS: &str =
    "25ea804d-7fd5-43d5-8792-0fc0214cdb2f,467e993f-317a-49fc-9ea0-bf49de7d1f76";

/// `examples/orders/<provider>.csv`.
pub fn example(provider: ProviderKind) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/orders/{provider}.csv"))
}

/// Data rows of a CSV file (non-blank lines after the header; the examples have no quoted line
/// breaks).
pub fn data_rows(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

pub fn no_defaults() -> BTreeMap<String, String> {
    BTreeMap::new()
}

/// Every row of `reader`: the orders, and the errors in line order.
pub fn read_all<R: std::io::Read>(reader: CsvOrders<R>) -> (Vec<NewOrder>, Vec<RowError>) {
    let (mut orders, mut errors) = (Vec::new(), Vec::new());
    for item in reader {
        match item {
            Ok(order) => orders.push(order),
            Err(error) => errors.push(error),
        }
    }
    (orders, errors)
}

/// [`read_all`] of `csv`, whose header must be valid.
pub fn read_str(
    provider: ProviderKind,
    csv: &[u8],
    defaults: &BTreeMap<String, String>,
) -> (Vec<NewOrder>, Vec<RowError>) {
    read_all(CsvOrders::new(csv, provider, defaults).expect("the header is valid"))
}

/// The error that refuses `csv`'s header.
pub fn header_error(provider: ProviderKind, csv: &[u8]) -> FileError {
    match CsvOrders::new(csv, provider, &no_defaults()) {
        Ok(_) => panic!("the header was accepted"),
        Err(e) => e,
    }
}
