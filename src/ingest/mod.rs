//! Ingest, stage 1 of an order's life: a CSV file of card orders becomes validated
//! [`NewOrder`](crate::domain::NewOrder)s plus a report of rejected rows with line numbers.
//!
//! The file is streamed (memory does not grow with its size), its dialect is sniffed (UTF-8 with or without BOM, LF, CRLF or CR line endings,
//! `,` or `;`, an Excel `sep=` line), the header is matched against the provider's columns
//! ([`columns`]), and every row is validated as the provider's spec says, with the profile's
//! defaults filling omitted cells. Each order gets its idempotency key here, once. One module per
//! provider holds its columns, rules and payload type. Writing the orders is the store's job.

mod alchemypay_vcc;
mod check;
mod dialect;
mod error;
mod fields;
mod idempotency;
mod newlines;
mod qitech_postpaid;
mod qitech_postpaid_owner;
mod qitech_prepaid;
mod reader;
mod rejects;
mod row;
mod schema;
mod submit;
#[cfg(test)]
mod test_support;
mod uqpay;

pub use alchemypay_vcc::{AlchemyCardHolder, AlchemypayVccOrder};
pub(crate) use check::RowChecker;
pub use error::{FileError, Problem, RowError};
pub use qitech_postpaid::{
    PostpaidAddress, PostpaidCardData, PostpaidOwner, PostpaidPhone, QitechPostpaidOrder,
};
pub use qitech_prepaid::{PrepaidDeliveryAddress, QitechPrepaidOrder};
pub use reader::{CsvOrders, columns};
pub use rejects::RejectsWriter;
pub(crate) use submit::{HANDOFF_ROWS, HandoffSender, Handoffs, Positions, RowSource, ingest_rows};
pub use submit::{SubmitError, SubmitOptions, SubmitOutcome, SubmitReport, submit, submit_by};
pub use uqpay::{UqpayOrder, UqpayRiskControls, UqpaySpendingControl};
