//! The postpaid requests the tests send, and the fixtures they name.

use serde_json::{Value, json};

/// The provider name in stats, faults and the ledger.
pub const PROVIDER: &str = "qitech_postpaid";
/// A wallet of the fixtures with room for cards.
pub const WALLET: &str = "3f9a7c2e-1b4d-4e8f-9a6c-5d2e8b7f1a30";

pub fn create_path(wallet: &str) -> String {
    format!("/wallet/{wallet}/payment_instrument")
}

pub fn address() -> Value {
    json!({
        "street": "Rua das Flores", "number": "123", "neighborhood": "Centro",
        "postal_code": "01234567", "city": "São Paulo", "state": "SP", "complement": "Apto 1"
    })
}

/// The seed's documented example, verbatim.
pub fn seed_example() -> Value {
    json!({
        "request_control_key": "f7947b9d-9be3-49d8-aca2-4b3249e5fa65",
        "owner": {
            "person_type": "natural", "name": "João Silva", "document_number": "12345678901",
            "birthdate": "1990-01-01", "email": "joao.silva@email.com",
            "phone": {"number": "99999999", "area_code": "11", "country_code": "55"},
            "address": address()
        },
        "payment_instrument_type": "postpaid_card",
        "limit_amount": 2000.00,
        "postpaid_card_data": {
            "card_type": "physical", "card_name": "Cartão Principal", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24, "contactless_enabled": true, "delivery_address": address()
        }
    })
}

/// A virtual card for an existing person, following the rules table.
pub fn virtual_card(request_control_key: &str) -> Value {
    json!({
        "request_control_key": request_control_key,
        "person_key": "f2cad6b4-2a68-4572-99a7-2849c8d6ecf8",
        "payment_instrument_type": "postpaid_card",
        "postpaid_card_data": {
            "card_type": "virtual", "card_name": "Cartão Virtual", "printed_name": "JOAO SILVA",
            "cvv_rotation_interval_hours": 24
        }
    })
}

pub fn key(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}
