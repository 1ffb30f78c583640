mod balances;
mod cardholders;
mod create;
mod idempotency;
mod lookup;
mod status;
mod token;
mod validation;
