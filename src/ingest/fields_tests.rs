use super::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, 15).unwrap()
}

#[test]
fn an_order_ref_of_64_characters_is_accepted_and_65_is_not() {
    assert!(order_ref(&"é".repeat(64)).is_ok());
    assert!(
        order_ref(&"a".repeat(65))
            .unwrap_err()
            .contains("at most 64")
    );
}

#[test]
fn an_order_ref_with_a_control_character_is_rejected() {
    assert!(order_ref("A\u{7}1").unwrap_err().contains("control"));
}

#[test]
fn a_uuid_is_normalised_to_lower_case_hyphenated_form() {
    assert_eq!(
        uuid("5294ED8D08FC4397B15F6D9AA07B0041").unwrap(),
        "5294ed8d-08fc-4397-b15f-6d9aa07b0041"
    );
    assert!(matches!(
        uuid("5294ed8d-08fc-4397-b15f-6d9aa07b0041"),
        Ok(Cow::Borrowed(_))
    ));
    assert!(
        uuid("5294ed8d-08fc-4397-b15f")
            .unwrap_err()
            .contains("not a UUID")
    );
}

#[test]
fn a_printed_name_takes_accented_letters_but_no_digits_or_symbols() {
    assert!(printed_name("JOSÉ DA CONCEIÇÃO").is_ok());
    assert!(printed_name("Ana Lúcia").is_ok());
    let err = printed_name("Ana 2").unwrap_err();
    assert!(err.contains("a digit `2`") && !err.contains("Ana"), "{err}");
    assert!(
        printed_name("Ana-Maria")
            .unwrap_err()
            .contains("special character `-`")
    );
    assert!(printed_name("A×B").is_err());
    assert!(printed_name("A").unwrap_err().contains("2 to 26"));
    assert!(printed_name(&"A".repeat(27)).is_err());
}

#[test]
fn an_ascii_name_with_an_accent_gets_a_hint_to_remove_it() {
    let err = ascii_name("João", 32, false).unwrap_err();
    assert!(err.contains("write `a` for `ã`"), "{err}");
    assert!(
        ascii_name("Maria Clara", 32, false)
            .unwrap_err()
            .contains("no spaces")
    );
    assert!(ascii_name("MARIA CLARA", 26, true).is_ok());
    assert!(ascii_name(&"a".repeat(33), 32, false).is_err());
}

#[test]
fn an_enum_value_is_matched_case_insensitively_and_returned_canonical() {
    assert_eq!(one_of("Virtual", &["virtual", "plastic"]), Ok("virtual"));
    assert!(
        one_of("card", &["virtual", "plastic"])
            .unwrap_err()
            .contains("virtual, plastic")
    );
}

#[test]
fn integers_and_booleans_are_strict() {
    assert_eq!(positive_int("72"), Ok(72));
    for bad in ["0", "-1", "1.5", "+3", "x"] {
        assert!(positive_int(bad).is_err(), "{bad}");
    }
    assert_eq!(boolean("TRUE"), Ok(true));
    assert_eq!(boolean("false"), Ok(false));
    assert!(boolean("yes").is_err());
}

#[test]
fn a_past_date_must_be_real_and_before_today() {
    assert!(past_date("1990-02-28", today()).is_ok());
    assert!(
        past_date("1990-02-30", today())
            .unwrap_err()
            .contains("real calendar date")
    );
    assert!(
        past_date("2026-06-15", today())
            .unwrap_err()
            .contains("in the past")
    );
    assert!(
        past_date("15/06/1990", today())
            .unwrap_err()
            .contains("YYYY-MM-DD")
    );
    assert!(past_date("1899-12-31", today()).is_err());
}

#[test]
fn a_spreadsheet_day_first_date_is_refused_saying_how_to_write_it_without_echoing_it() {
    let err = past_date("15/06/1990", today()).unwrap_err();
    assert!(err.contains("DD/MM/YYYY date as YYYY-MM-DD"), "{err}");
    assert!(!err.contains("1990"), "{err}");
    assert!(
        !past_date("1990/06/15", today())
            .unwrap_err()
            .contains("DD/MM")
    );
}

#[test]
fn a_future_datetime_must_be_rfc3339_and_after_now() {
    let now = DateTime::parse_from_rfc3339("2026-06-15T12:00:00Z")
        .unwrap()
        .to_utc();
    assert!(future_datetime("2027-03-19T18:46:43+08:00", now).is_ok());
    assert!(
        future_datetime("2026-06-15T11:00:00Z", now)
            .unwrap_err()
            .contains("future")
    );
    assert!(
        future_datetime("2027-03-19", now)
            .unwrap_err()
            .contains("RFC 3339")
    );
}

#[test]
fn an_email_must_be_plausible_and_is_masked_when_it_is_not() {
    assert!(email("joao.silva@empresa.com.br").is_ok());
    for bad in [
        "joao",
        "joao@",
        "@x.com",
        "jo ao@x.com",
        "joao@localhost",
        "joao@x..com",
    ] {
        assert!(email(bad).is_err(), "{bad}");
    }
    let err = email("joao.silva@empresa").unwrap_err();
    assert!(
        err.contains("j***@empresa") && !err.contains("joao.silva"),
        "{err}"
    );
}

#[test]
fn digits_are_counted_after_removing_dashes_when_loose() {
    assert_eq!(digits("99999-8888", 8, 9, true).unwrap(), "999998888");
    assert!(matches!(
        digits("999998888", 8, 9, true),
        Ok(Cow::Borrowed(_))
    ));
    assert!(digits("99999-8888", 8, 9, false).is_err());
    assert!(
        digits("1234567", 8, 9, true)
            .unwrap_err()
            .contains("8 to 9 digits, found 7")
    );
    assert!(
        digits("123", 2, 2, false)
            .unwrap_err()
            .contains("must be 2 digits")
    );
}

#[test]
fn an_mcc_list_is_four_digit_codes_separated_by_pipes() {
    assert_eq!(mcc_list("5411|5812"), Ok(vec!["5411", "5812"]));
    assert!(mcc_list("5411,5812").unwrap_err().contains("`5411,5812`"));
    assert!(mcc_list("541").is_err());
}
