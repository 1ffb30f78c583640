//! UQPAY issuing (spec `uqpay.md`): the create-card client, the access token shared by every
//! worker (in this process through one [`TokenManager`], across processes through the
//! database), the wire shapes and the error table.

mod classify;
mod client;
mod find;
mod setup;
mod status;
mod token;
mod wire;

pub use classify::{CODES, Class, classify, lookup};
pub use client::{REPLAY_TRUSTED_FOR_MS, UqpayClient};
pub use find::MAX_LIST_PAGES;
pub use setup::{build, client};
pub use token::{REFRESH_MARGIN, Token, TokenError, TokenManager, TokenSource};
pub use wire::{ErrorBody, create_body, decimal};
