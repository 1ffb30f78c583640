//! Masking free text before it is logged or shown (status tables, exports, the reconciliation
//! report): a provider's error message may echo what was sent
//! (an e-mail, a CPF, a phone number).

use super::masking::mask_email;

/// `message` with every e-mail address masked and every number of six or more digits (CPF,
/// CNPJ, phone, card numbers, formatted or not) reduced to its last two digits. Words mixing
/// letters and digits (provider codes like `CARD000009`) stay as they are.
pub fn mask_message(message: &str) -> String {
    message
        .split(' ')
        .map(mask_word)
        .collect::<Vec<_>>()
        .join(" ")
}

fn mask_word(word: &str) -> String {
    let core = word.trim_end_matches([',', ';', ':', '.', ')', '"', '\'']);
    let rest = &word[core.len()..];
    if core.contains('@') {
        return format!("{}{rest}", mask_email(core));
    }
    let numeric = core
        .chars()
        .all(|c| c.is_ascii_digit() || ".-/()+".contains(c));
    let digits = core.chars().filter(char::is_ascii_digit).count();
    if !numeric || digits < 6 {
        return word.to_string();
    }
    let mut seen = 0;
    let masked: String = core
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen <= digits - 2 { '*' } else { c }
            } else {
                c
            }
        })
        .collect();
    format!("{masked}{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_emails_in_a_provider_message_are_masked() {
        let shown = mask_message(
            "document 529.982.247-25 of joao.silva@example.com, phone 11999998888: invalid",
        );
        assert_eq!(
            shown,
            "document ***.***.***-25 of j***@example.com, phone *********88: invalid"
        );
    }

    #[test]
    fn short_numbers_and_codes_stay_readable() {
        assert_eq!(
            mask_message("CARD000009: try again in 30 s"),
            "CARD000009: try again in 30 s"
        );
    }
}
