//! What the sandbox's tests share: a sandbox on 127.0.0.1:0, a recording receiver (webhooks,
//! callbacks, Alchemy Pay's merchant side), and per provider a client built by hand. Every
//! signature is computed here with libraries of the tests' own (`openssl` for QI Tech's ES512,
//! `jsonwebtoken` for UQPAY's token, `hmac`/`sha2` for the HMACs), never with the sandbox's code.

pub mod alchemypay;
pub mod qitech;
pub mod qitech_sign;
mod receiver;
mod sandbox;
pub mod uqpay;

pub use receiver::{CheckMode, Receiver};
pub use sandbox::{eventually, json_by_content_type, start};
