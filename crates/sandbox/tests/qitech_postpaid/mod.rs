mod create;
mod idempotency;
mod lifecycle;
mod requests;

use requests::{PROVIDER, WALLET, create_path, key, seed_example, virtual_card};
