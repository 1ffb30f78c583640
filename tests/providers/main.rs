//! cardbatch's provider clients against the in-process sandbox over loopback, one client at a
//! time: what each provider answers, how the answer is classified, how a lost answer is resolved
//! without a second card, and (UQPAY) the token shared through the database.

#[macro_use]
mod support;

mod alchemypay_check;
mod alchemypay_create;
mod qitech_postpaid;
mod qitech_prepaid;
mod uqpay_create;
mod uqpay_doubt;
mod uqpay_token;
