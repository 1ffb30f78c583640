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

#[cfg(test)]
mod tests {
    use super::*;

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
