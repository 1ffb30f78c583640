//! Masking of personal data for messages and logs: enough is left to find the row, never enough
//! to read the value. Every function takes the value as written and never panics.

/// `52998224725` -> `***.982.247-**`: the middle six digits, as Brazilian receipts print a CPF.
pub fn mask_cpf(digits: &str) -> String {
    let d: Vec<char> = digits.chars().filter(char::is_ascii_digit).collect();
    if d.len() != 11 {
        return mask_generic(digits);
    }
    let mid: String = d[3..9].iter().collect();
    format!("***.{}.{}-**", &mid[..3], &mid[3..])
}

/// `11222333000181` -> `**.222.333/****-**`: the middle of the company root only.
pub fn mask_cnpj(digits: &str) -> String {
    let d: Vec<char> = digits.chars().filter(char::is_ascii_digit).collect();
    if d.len() != 14 {
        return mask_generic(digits);
    }
    let mid: String = d[2..8].iter().collect();
    format!("**.{}.{}/****-**", &mid[..3], &mid[3..])
}

/// `joao.silva@example.com` -> `j***@example.com`: the domain helps spot a typo, the mailbox is
/// personal.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => match local.chars().next() {
            Some(first) => format!("{first}***@{domain}"),
            None => format!("***@{domain}"),
        },
        None => mask_generic(email),
    }
}

/// `999998888` -> `*******88`: the last two digits only.
pub fn mask_phone(phone: &str) -> String {
    let n = phone.chars().count();
    if n <= 2 {
        return "*".repeat(n);
    }
    let tail: String = phone.chars().skip(n - 2).collect();
    format!("{}{tail}", "*".repeat(n - 2))
}

/// `Maria Souza` -> `M*** S***`: the initial of each word.
pub fn mask_name(name: &str) -> String {
    name.split_whitespace()
        .map(|w| match w.chars().next() {
            Some(c) => format!("{c}***"),
            None => String::new(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Anything else: the first character and the length.
pub fn mask_generic(value: &str) -> String {
    match value.chars().next() {
        Some(c) => format!("{c}*** ({} chars)", value.chars().count()),
        None => String::new(),
    }
}

/// Characters of a cell echoed by [`shown`] and [`shown_masked`]; a longer value is cut there
/// and ends in `…`.
pub const SHOWN_MAX_CHARS: usize = 40;

/// Characters [`shown_masked`] leaves readable at the start of a value.
const SHOWN_MASKED_KEEP: usize = 3;

/// A cell value that is not personal data (an amount, a state code, an enum value), as a
/// message echoes it: in backticks, at most [`SHOWN_MAX_CHARS`] characters then `…`, control
/// and invisible formatting characters escaped (`\t`, `\n`, `\r`, `\u{7}`), so a message stays
/// one readable line whatever the cell held.
pub fn shown(value: &str) -> String {
    echoed(value, usize::MAX)
}

/// A cell value that may be personal data (a name, a document number, an e-mail, a phone, an
/// address, a date of birth, a card-like number), as a message echoes it: like [`shown`], but
/// only the first three characters are readable and every later letter or digit is `*`
/// (`01310-100` -> `` `013**-***` ``). Punctuation stays, so the value's shape (where a dash or
/// a space went wrong) can still be told. Non-ASCII letters and digits are masked too.
pub fn shown_masked(value: &str) -> String {
    echoed(value, SHOWN_MASKED_KEEP)
}

/// `value` in backticks, capped and escaped, with letters and digits after the first `keep`
/// characters replaced by `*`.
fn echoed(value: &str, keep: usize) -> String {
    use std::fmt::Write;
    // A card number pasted into any column is never echoed: its last four digits at most.
    let value = &*super::card_data::mask_pans(value);
    let mut out = String::with_capacity(value.len().min(4 * SHOWN_MAX_CHARS) + 4);
    out.push('`');
    for (i, c) in value.chars().enumerate() {
        if i == SHOWN_MAX_CHARS {
            out.push('…');
            break;
        }
        let c = if i >= keep && c.is_alphanumeric() {
            '*'
        } else {
            c
        };
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_invisible_format(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// Zero-width and bidirectional formatting characters: printed as they are, they would hide
/// or reorder what the message shows.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_value_is_quoted_and_kept_whole_when_short() {
        assert_eq!(shown("1.234,56"), "`1.234,56`");
        assert_eq!(shown(""), "``");
        assert_eq!(shown("São Paulo"), "`São Paulo`");
    }

    #[test]
    fn a_card_number_is_shown_by_its_last_four_digits_only() {
        assert_eq!(shown("4111111111111111"), "`************1111`");
        assert_eq!(shown_masked("4111 1111 1111 1111"), "`**** **** **** ****`");
        assert_eq!(
            shown("pan 4111-1111-1111-1111"),
            "`pan ****-****-****-1111`"
        );
        // Not a card number (the Luhn check fails): an amount that is too large stays readable.
        assert_eq!(shown("4111111111111112"), "`4111111111111112`");
    }

    #[test]
    fn a_shown_value_is_capped_at_40_characters() {
        let long = "9".repeat(41);
        assert_eq!(shown(&long), format!("`{}…`", "9".repeat(40)));
        assert_eq!(shown(&"9".repeat(40)), format!("`{}`", "9".repeat(40)));
        // Characters, not bytes: a cut never splits one.
        assert_eq!(shown(&"é".repeat(50)), format!("`{}…`", "é".repeat(40)));
    }

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(shown("a\tb\nc\rd"), "`a\\tb\\nc\\rd`");
        assert_eq!(shown("x\u{7}y\u{1b}[2J"), "`x\\u{7}y\\u{1b}[2J`");
        assert_eq!(shown("ab\u{202E}cd"), "`ab\\u{202e}cd`");
    }

    #[test]
    fn a_masked_value_keeps_its_first_three_characters_and_its_punctuation() {
        assert_eq!(shown_masked("123.456.789-09"), "`123.***.***-**`");
        assert_eq!(
            shown_masked("joao.silva@example.com"),
            "`joa*.*****@*******.***`"
        );
        assert_eq!(shown_masked("Conceição"), "`Con******`");
        assert_eq!(shown_masked("ab"), "`ab`");
    }

    #[test]
    fn a_masked_value_is_capped_and_escaped_too() {
        let pan = "4111111111111111".repeat(3);
        assert_eq!(shown_masked(&pan), format!("`411{}…`", "*".repeat(37)));
        assert_eq!(shown_masked("12\t345"), "`12\\t***`");
    }

    #[test]
    fn a_cpf_shows_only_its_middle_digits() {
        assert_eq!(mask_cpf("12345678909"), "***.456.789-**");
        assert_eq!(mask_cpf("123.456.789-09"), "***.456.789-**");
    }

    #[test]
    fn a_cnpj_shows_only_the_middle_of_its_root() {
        assert_eq!(mask_cnpj("11222333000181"), "**.222.333/****-**");
    }

    #[test]
    fn an_email_keeps_its_first_letter_and_domain() {
        assert_eq!(mask_email("joao.silva@example.com"), "j***@example.com");
        assert_eq!(mask_email("@example.com"), "***@example.com");
        assert_eq!(mask_email("no-at-sign"), "n*** (10 chars)");
    }

    #[test]
    fn a_phone_keeps_its_last_two_digits() {
        assert_eq!(mask_phone("999998888"), "*******88");
        assert_eq!(mask_phone("9"), "*");
    }

    #[test]
    fn a_name_keeps_its_initials_including_accented_ones() {
        assert_eq!(mask_name("Álvaro  de Souza"), "Á*** d*** S***");
    }

    #[test]
    fn a_malformed_document_is_masked_generically_not_echoed() {
        assert_eq!(mask_cpf("1234"), "1*** (4 chars)");
        assert_eq!(mask_generic(""), "");
    }
}
