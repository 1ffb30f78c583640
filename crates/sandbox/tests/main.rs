//! The sandbox's integration tests, one binary of modules: each provider driven over real HTTP
//! on loopback with requests built and signed here, independently of the sandbox's code, plus
//! the fault machinery and the admin routes.

mod admin;
mod alchemypay;
mod content_type;
mod faults;
mod qitech_auth;
mod qitech_postpaid;
mod qitech_prepaid;
mod qitech_public_client;
mod support;
mod uqpay;
mod zero_config;
