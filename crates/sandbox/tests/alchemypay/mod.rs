mod auth;
mod create;
mod lifecycle;
