mod auth;
mod create;
mod lifecycle;
mod operations;
