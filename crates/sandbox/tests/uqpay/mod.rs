mod cardholders;
mod create;
mod idempotency;
mod lookup;
mod token;
mod validation;
