mod create;
mod lifecycle;
mod lookup;

/// The provider name in stats, faults and the ledger.
const PROVIDER: &str = "qitech_prepaid";
/// The seed's account.
const ACCOUNT: &str = "5294ed8d-08fc-4397-b15f-6d9aa07b0041";
