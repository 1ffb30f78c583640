//! End-to-end checks of CSV ingest over real files: the example orders, broken files, encodings
//! and dialects, profile defaults and the rejects file.

use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::{NewOrder, ProviderKind};
use cardbatch::ingest::{CsvOrders, FileError, RejectsWriter, RowError};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

fn no_defaults() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn read_all<R: std::io::Read>(reader: CsvOrders<R>) -> (Vec<NewOrder>, Vec<RowError>) {
    let (mut orders, mut errors) = (Vec::new(), Vec::new());
    for item in reader {
        match item {
            Ok(order) => orders.push(order),
            Err(error) => errors.push(error),
        }
    }
    (orders, errors)
}

fn read_str(
    provider: ProviderKind,
    csv: &[u8],
    defaults: &BTreeMap<String, String>,
) -> (Vec<NewOrder>, Vec<RowError>) {
    read_all(CsvOrders::new(csv, provider, defaults).expect("the header is valid"))
}

fn header_error(provider: ProviderKind, csv: &[u8]) -> FileError {
    match CsvOrders::new(csv, provider, &no_defaults()) {
        Ok(_) => panic!("the header was accepted"),
        Err(e) => e,
    }
}

const UQPAY_IDS: &str = "25ea804d-7fd5-43d5-8792-0fc0214cdb2f,467e993f-317a-49fc-9ea0-bf49de7d1f76";

#[test]
fn every_example_csv_parses_to_one_order_per_row_with_the_sandbox_defaults() {
    for provider in ProviderKind::ALL {
        // Arrange
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("examples/orders/{provider}.csv"));
        let text = std::fs::read_to_string(&path).unwrap();
        let rows = text
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .count();
        let defaults = Profile::sandbox(provider, DEFAULT_SANDBOX_ADDR).defaults;
        // Act
        let reader =
            CsvOrders::new(std::fs::File::open(&path).unwrap(), provider, &defaults).unwrap();
        let (orders, errors) = read_all(reader);
        // Assert
        assert!(errors.is_empty(), "{provider}: {errors:#?}");
        assert!(rows >= 20, "{provider} has only {rows} rows");
        assert_eq!(orders.len(), rows, "{provider}");
        let lines: Vec<u64> = orders.iter().map(|o| o.line).collect();
        assert_eq!(
            lines,
            (2..2 + rows as u64).collect::<Vec<_>>(),
            "{provider}"
        );
        let keys: HashSet<&str> = orders.iter().map(|o| o.idempotency_key.as_str()).collect();
        assert_eq!(keys.len(), rows, "{provider}: idempotency keys repeat");
        let refs: HashSet<&str> = orders.iter().map(|o| o.order_ref.as_str()).collect();
        assert_eq!(refs.len(), rows, "{provider}: order_refs repeat");
    }
}

#[test]
fn the_example_files_use_both_delimiters() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/orders");
    let delimiters: HashSet<u8> = ProviderKind::ALL
        .into_iter()
        .map(|p| {
            let file = std::fs::File::open(dir.join(format!("{p}.csv"))).unwrap();
            CsvOrders::new(file, p, &no_defaults()).unwrap().delimiter()
        })
        .collect();
    assert_eq!(delimiters, HashSet::from([b',', b';']));
}

#[test]
fn a_file_with_errors_reports_every_bad_line_with_its_exact_line_number() {
    // Arrange: a quoted cell spanning two lines and a blank line shift the physical lines.
    let ids = UQPAY_IDS;
    let csv = format!(
        "order_ref,cardholder_id,card_product_id,card_currency,metadata\n\
         U-1,{ids},USD,\n\
         U-2,{ids},BRL,\n\
         U-3,{ids},USD,\"{{\"\"note\"\":\n\
         \"\"two lines\"\"}}\"\n\
         U-4,not-a-uuid,467e993f-317a-49fc-9ea0-bf49de7d1f76,USD,\n\
         \n\
         U-5,{ids}\n\
         U-6,{ids},SGD,\n\
         ,{ids},XXX,\n"
    );
    // Act
    let (orders, errors) = read_str(ProviderKind::Uqpay, csv.as_bytes(), &no_defaults());
    // Assert
    let good: Vec<(u64, &str)> = orders
        .iter()
        .map(|o| (o.line, o.order_ref.as_str()))
        .collect();
    assert_eq!(good, vec![(2, "U-1"), (4, "U-3"), (9, "U-6")]);
    let bad: Vec<(u64, Option<&str>)> = errors
        .iter()
        .map(|e| (e.line, e.column.as_deref()))
        .collect();
    assert_eq!(
        bad,
        vec![
            (3, Some("card_currency")),
            (6, Some("cardholder_id")),
            (8, None),
            (10, Some("order_ref"))
        ]
    );
    assert!(
        errors[2]
            .reason
            .contains("the row has 3 cells but the header has 5"),
        "{}",
        errors[2].reason
    );
    assert_eq!(errors[3].problems.len(), 2, "{:?}", errors[3].problems);
    assert!(errors.iter().all(|e| !e.fatal));
}

#[test]
fn a_latin1_row_stops_the_file_with_an_error_that_says_so() {
    // Arrange: `João` as Windows-1252 writes it.
    let mut csv =
        b"order_ref,first_name,last_name,deposit,vid\nA-1,Ana,Lima,10,USD\nA-2,Jo".to_vec();
    csv.extend_from_slice(b"\xE3o,Lima,10,USD\nA-3,Ana,Lima,10,USD\n");
    // Act
    let (orders, errors) = read_str(ProviderKind::AlchemypayVcc, &csv, &no_defaults());
    // Assert
    assert_eq!(orders.len(), 1);
    assert_eq!(
        errors.len(),
        1,
        "reading stops at the first undecodable row"
    );
    let error = &errors[0];
    assert!(error.fatal);
    assert_eq!(
        (error.line, error.column.as_deref()),
        (3, Some("first_name"))
    );
    assert!(error.reason.contains("not valid UTF-8"), "{}", error.reason);
    assert!(
        error.reason.contains("Latin-1/Windows-1252"),
        "{}",
        error.reason
    );
    assert!(
        error.reason.contains("Re-save it as UTF-8"),
        "{}",
        error.reason
    );
}

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
fn a_bom_crlf_and_semicolons_are_read_like_a_plain_csv() {
    // Arrange: what Excel (pt-BR) writes for "CSV UTF-8".
    let csv = "\u{FEFF}order_ref;first_name;last_name;deposit;currency;vid\r\nA-1;Ana;Lima;25,50;EUR;USD\r\nA-2;Bruno;Costa;\"1000,00\";;USD\r\n";
    // Act
    let reader =
        CsvOrders::new(csv.as_bytes(), ProviderKind::AlchemypayVcc, &no_defaults()).unwrap();
    assert_eq!(reader.delimiter(), b';');
    assert_eq!(reader.headers().get(0), Some("order_ref"));
    let (orders, errors) = read_all(reader);
    // Assert
    assert!(errors.is_empty(), "{errors:?}");
    let got: Vec<(u64, Option<i64>, Option<&str>)> = orders
        .iter()
        .map(|o| (o.line, o.amount_minor, o.currency.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, Some(2550), Some("EUR")),
            (3, Some(100_000), Some("USD"))
        ]
    );
    assert_eq!(orders[0].payload.value()["cardHolder"]["lastName"], "Lima");
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

#[test]
fn rejected_rows_are_written_next_to_the_input_with_their_reasons() {
    // Arrange
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("may.csv");
    std::fs::write(
        &input,
        "order_ref;first_name;last_name;deposit;vid\nA-1;Ana;Lima;10;USD\nA-2;João;Lima;9;USD\nA-3;Bia\n",
    )
    .unwrap();
    let file = std::fs::File::open(&input).unwrap();
    let reader = CsvOrders::new(file, ProviderKind::AlchemypayVcc, &no_defaults()).unwrap();
    let mut rejects =
        RejectsWriter::create_next_to(&input, reader.headers(), reader.delimiter()).unwrap();
    // Act
    let mut accepted = 0;
    for item in reader {
        match item {
            Ok(_) => accepted += 1,
            Err(e) => rejects.write(&e).unwrap(),
        }
    }
    assert_eq!(rejects.written(), 2);
    rejects.finish().unwrap();
    // Assert
    let mut written = csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_path(dir.path().join("may.rejected.csv"))
        .unwrap();
    let rows: Vec<Vec<String>> = written
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    assert_eq!(accepted, 1);
    assert_eq!(
        rows[0],
        [
            "order_ref",
            "first_name",
            "last_name",
            "deposit",
            "vid",
            "reason"
        ]
    );
    assert_eq!(rows[1][..5], ["A-2", "João", "Lima", "9", "USD"]);
    assert!(
        rows[1][5].starts_with("line 3, first_name: "),
        "{}",
        rows[1][5]
    );
    assert!(
        rows[1][5].contains("; deposit: 9.00 is outside"),
        "{}",
        rows[1][5]
    );
    assert_eq!(rows[2][..5], ["A-3", "Bia", "", "", ""]);
    assert!(
        rows[2][5].starts_with("line 4, the row has 2 cells"),
        "{}",
        rows[2][5]
    );
}

#[test]
fn line_numbers_stay_exact_with_crlf_blank_lines_and_quoted_line_breaks() {
    // Arrange: line 3 is blank, the row on line 4 spans lines 4-5, the last row has no newline.
    let csv = "order_ref;first_name;last_name;deposit;vid;customer_id\r\n\
               A-1;Ana;Lima;10;USD;\r\n\
               \r\n\
               A-2;Ana;Lima;10;USD;\"two\r\nlines\"\r\n\
               A-3;Ana;Lima;1;USD;\r\n\
               A-4;Ana;Lima;1;USD;";
    // Act
    let (orders, errors) = read_str(ProviderKind::AlchemypayVcc, csv.as_bytes(), &no_defaults());
    // Assert
    assert_eq!(orders.iter().map(|o| o.line).collect::<Vec<_>>(), vec![2]);
    assert_eq!(
        errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![4, 6, 7]
    );
    assert!(
        errors[0]
            .reason
            .contains("customer_id: must not contain control characters")
    );
}

#[test]
fn line_numbers_stay_exact_in_an_lf_file_without_a_final_newline() {
    let csv =
        "order_ref,first_name,last_name,deposit,vid\n\nA-1,Ana,Lima,1,USD\n\n\nA-2,Ana,Lima,1,USD";
    let (_, errors) = read_str(ProviderKind::AlchemypayVcc, csv.as_bytes(), &no_defaults());
    assert_eq!(
        errors.iter().map(|e| e.line).collect::<Vec<_>>(),
        vec![3, 6]
    );
}

#[test]
fn a_latin1_row_in_a_crlf_file_is_reported_on_its_own_line() {
    let mut csv =
        b"order_ref;first_name;last_name;deposit;vid\r\nA-1;Ana;Lima;10;USD\r\nA-2;Ana;Concei"
            .to_vec();
    csv.extend_from_slice(b"\xE7\xE3o;10;USD\r\n");
    let (_, errors) = read_str(ProviderKind::AlchemypayVcc, &csv, &no_defaults());
    assert_eq!((errors[0].line, errors[0].fatal), (3, true));
    assert_eq!(errors[0].column.as_deref(), Some("last_name"));
}

#[test]
fn the_reader_can_move_to_another_thread() {
    fn assert_send<T: Send>(_: &T) {}
    let reader = CsvOrders::new(
        std::io::empty().chain(&b"order_ref,vid\n"[..]),
        ProviderKind::AlchemypayVcc,
        &BTreeMap::from([
            ("first_name".to_string(), "Ana".to_string()),
            ("last_name".to_string(), "Lima".to_string()),
            ("deposit".to_string(), "10".to_string()),
        ]),
    )
    .unwrap();
    assert_send(&reader);
    let handle = std::thread::spawn(move || reader.count());
    assert_eq!(handle.join().unwrap(), 0);
}
