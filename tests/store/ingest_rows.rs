//! CSV ingest over real files, row by row: the example orders, bad rows with their exact line
//! numbers, encodings and dialects, and the rejects file.

use crate::support::{UQPAY_IDS, data_rows, example, no_defaults, read_all, read_str};
use cardbatch::config::{DEFAULT_SANDBOX_ADDR, Profile};
use cardbatch::domain::ProviderKind;
use cardbatch::ingest::{CsvOrders, RejectsWriter};
use std::collections::{BTreeMap, HashSet};
use std::io::Read;

#[test]
fn every_example_csv_parses_to_one_order_per_row_with_the_sandbox_defaults() {
    for provider in ProviderKind::ALL {
        // Arrange
        let path = example(provider);
        let rows = data_rows(&path);
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
    let delimiters: HashSet<u8> = ProviderKind::ALL
        .into_iter()
        .map(|p| {
            let file = std::fs::File::open(example(p)).unwrap();
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
