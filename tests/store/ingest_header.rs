//! CSV ingest, the header and the profile defaults: encodings and dialects of the header,
//! missing, unknown and repeated columns, and defaults standing in for columns.

use crate::support::{UQPAY_IDS, header_error, no_defaults, read_str};
use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::ProviderKind;
use cardbatch::ingest::{CsvOrders, FileError};
use std::collections::BTreeMap;

#[test]
fn a_latin1_header_is_a_file_error_on_line_1() {
    let error = header_error(
        ProviderKind::QitechPrepaid,
        b"order_ref;printed_name;observa\xE7\xE3o\n",
    );
    assert!(matches!(error, FileError::NotUtf8 { line: 1 }), "{error:?}");
    assert!(
        error.to_string().contains("Latin-1/Windows-1252"),
        "{error}"
    );
}

#[test]
fn a_utf16_file_is_refused_with_the_way_to_fix_it() {
    let error = header_error(ProviderKind::Uqpay, b"\xFF\xFEo\x00r\x00");
    assert!(matches!(error, FileError::Utf16), "{error:?}");
    assert!(error.to_string().contains("CSV UTF-8"), "{error}");
}

#[test]
fn a_missing_column_is_named_with_the_provider() {
    let error = header_error(
        ProviderKind::AlchemypayVcc,
        b"order_ref,first_name,deposit\n",
    );
    let FileError::MissingColumns { provider, columns } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*provider, ProviderKind::AlchemypayVcc);
    assert_eq!(columns, &vec!["last_name".to_string(), "vid".to_string()]);
    let text = error.to_string();
    assert!(
        text.contains("last_name, vid") && text.contains("alchemypay_vcc"),
        "{text}"
    );
}

#[test]
fn a_profile_default_stands_in_for_a_missing_column() {
    let defaults = BTreeMap::from([("vid".to_string(), "USD".to_string())]);
    let csv = &b"order_ref,first_name,last_name,deposit\n"[..];
    assert!(CsvOrders::new(csv, ProviderKind::AlchemypayVcc, &defaults).is_ok());
}

#[test]
fn an_unknown_column_is_named_with_the_allowed_columns() {
    let error = header_error(
        ProviderKind::AlchemypayVcc,
        b"order_ref,first_name,last_nam,deposit,vid\n",
    );
    let text = error.to_string();
    let FileError::UnknownColumns { columns, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(columns, &vec!["last_nam".to_string()]);
    assert!(
        text.contains("order_ref, first_name, last_name, deposit, currency, vid, customer_id"),
        "{text}"
    );
}

#[test]
fn header_names_are_trimmed_and_case_insensitive_but_not_duplicated() {
    let (orders, errors) = read_str(
        ProviderKind::AlchemypayVcc,
        b" Order_Ref , FIRST_NAME,Last_Name,Deposit,VID\nA-1,Ana,Lima,10,USD\n",
        &no_defaults(),
    );
    assert_eq!((orders.len(), errors.len()), (1, 0));
    let error = header_error(ProviderKind::AlchemypayVcc, b"order_ref,vid,VID\n");
    assert!(
        error
            .to_string()
            .contains("more than once in the header: vid"),
        "{error}"
    );
}

#[test]
fn profile_defaults_fill_omitted_columns_and_empty_cells() {
    // Arrange: account_key, program_key, type and cvv come from the sandbox profile.
    let defaults = Profile::sandbox(ProviderKind::QitechPrepaid, DEFAULT_SANDBOX_ADDR).defaults;
    let csv =
        "order_ref,printed_name,cvv_rotation_interval_hours\nP-1,Ana Lima,\nP-2,Bruno Costa,24\n";
    // Act
    let (orders, errors) = read_str(ProviderKind::QitechPrepaid, csv.as_bytes(), &defaults);
    // Assert
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        orders[0].payload.value()["account_key"],
        defaults["account_key"].as_str()
    );
    assert_eq!(
        orders[0].payload.value()["program_key"],
        defaults["program_key"].as_str()
    );
    assert_eq!(orders[0].payload.value()["type"], "virtual");
    assert_eq!(orders[0].payload.value()["cvv_rotation_interval_hours"], 72);
    assert_eq!(orders[1].payload.value()["cvv_rotation_interval_hours"], 24);
}

#[test]
fn an_invalid_profile_default_is_reported_as_such() {
    let defaults = BTreeMap::from([("card_currency".to_string(), "EUR".to_string())]);
    let csv = format!("order_ref,cardholder_id,card_product_id\nU-1,{UQPAY_IDS}\n");
    let (_, errors) = read_str(ProviderKind::Uqpay, csv.as_bytes(), &defaults);
    assert_eq!(errors[0].column.as_deref(), Some("card_currency"));
    assert!(
        errors[0].reason.contains("value from the profile default"),
        "{}",
        errors[0].reason
    );
}

#[test]
fn a_default_for_an_unknown_column_is_a_configuration_error() {
    let defaults = BTreeMap::from([("walet_key".to_string(), "x".to_string())]);
    let result = CsvOrders::new(&b"order_ref\n"[..], ProviderKind::QitechPostpaid, &defaults);
    let error = result.err().expect("refused");
    assert!(
        matches!(error, FileError::UnknownDefaults { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("walet_key"), "{error}");
}

#[test]
fn a_default_order_ref_is_refused() {
    let defaults = BTreeMap::from([("Order_Ref".to_string(), "X".to_string())]);
    let result = CsvOrders::new(
        &b"order_ref,vid\n"[..],
        ProviderKind::AlchemypayVcc,
        &defaults,
    );
    assert!(matches!(result.err(), Some(FileError::OrderRefDefault)));
}

#[test]
fn a_tab_separated_header_is_refused_with_a_hint_about_the_delimiter() {
    let error = header_error(
        ProviderKind::Uqpay,
        b"order_ref\tcardholder_id\tcard_limit\nr-1\tch-1\t10.00\n",
    );
    assert!(
        matches!(error, FileError::UnknownColumns { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("separated by tabs"), "{error}");
}

#[test]
fn an_empty_file_is_refused() {
    assert!(matches!(
        header_error(ProviderKind::Uqpay, b""),
        FileError::Empty
    ));
    assert!(matches!(
        header_error(ProviderKind::Uqpay, b"\xEF\xBB\xBF"),
        FileError::Empty
    ));
}
