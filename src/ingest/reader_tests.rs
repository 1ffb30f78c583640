use super::*;
use crate::ingest::test_support::run;

const HEADER: &str = "order_ref,first_name,last_name,deposit,vid";

/// Every row's (line, good) in file order, for an Alchemy Pay file: a deposit of 1 is outside the
/// single-load range, so a row with it is an error.
fn lines(csv: &str) -> (Vec<u64>, Vec<u64>) {
    let (orders, errors) = run(ProviderKind::AlchemypayVcc, csv, &[]);
    (
        orders.iter().map(|o| o.line).collect(),
        errors.iter().map(|e| e.line).collect(),
    )
}

fn file_error(csv: &[u8]) -> FileError {
    match CsvOrders::new(csv, ProviderKind::AlchemypayVcc, &BTreeMap::new()) {
        Ok(_) => panic!("the file was accepted"),
        Err(e) => e,
    }
}

#[test]
fn a_file_with_lone_cr_line_endings_names_the_right_line() {
    let csv = format!("{HEADER}\rA-1,Ana,Lima,10,USD\rA-2,Ana,Lima,1,USD\rA-3,Ana,Lima,10,USD\r");
    assert_eq!(lines(&csv), (vec![2, 4], vec![3]));
}

#[test]
fn a_file_mixing_lf_crlf_and_cr_counts_each_ending_as_one_line() {
    let csv = format!(
        "{HEADER}\r\nA-1,Ana,Lima,10,USD\n\r\nA-2,Ana,Lima,1,USD\rA-3,Ana,Lima,10,USD\r\n\rA-4,Ana,Lima,1,USD"
    );
    assert_eq!(lines(&csv), (vec![2, 5], vec![4, 7]));
}

#[test]
fn a_quoted_line_break_counts_and_the_next_bad_row_names_its_own_line() {
    // Line 2's cell spans lines 2-4 (one CRLF, one CR inside the quotes).
    let csv = format!(
        "{HEADER},customer_id\r\nA-1,Ana,Lima,10,USD,\"a\r\nb\rc\"\r\nA-2,Ana,Lima,1,USD,\r\nA-3,Ana,Lima,10,USD,\r\n"
    );
    let (orders, errors) = run(ProviderKind::AlchemypayVcc, &csv, &[]);
    let got: Vec<(u64, Option<&str>)> = errors
        .iter()
        .map(|e| (e.line, e.column.as_deref()))
        .collect();
    assert_eq!(got, vec![(2, Some("customer_id")), (5, Some("deposit"))]);
    assert_eq!(orders.iter().map(|o| o.line).collect::<Vec<_>>(), vec![6]);
}

#[test]
fn an_unterminated_quote_names_the_line_of_the_quote_and_refuses_the_file() {
    for ending in ["\n", "\r\n", "\r"] {
        let csv = [
            HEADER,
            "A-1,Ana,Lima,10,USD",
            "A-2,\"Ana,Lima,10,USD",
            "A-3,Ana,Lima,10,USD",
            "",
        ]
        .join(ending);
        let (orders, errors) = run(ProviderKind::AlchemypayVcc, &csv, &[]);
        assert_eq!(orders.len(), 1, "{ending:?}");
        assert_eq!(errors.len(), 1, "{ending:?}");
        assert!(errors[0].fatal, "{ending:?}");
        assert_eq!(errors[0].line, 3, "{ending:?}");
        assert!(
            errors[0].reason.contains("never closed")
                && errors[0].reason.contains("end of the file (line 4)"),
            "{ending:?}: {}",
            errors[0].reason
        );
    }
}

#[test]
fn a_quoted_cell_ending_in_a_line_break_is_not_an_unterminated_quote() {
    // The cell is trimmed to `Ana`, so line 2 is a good order.
    let csv = format!("{HEADER}\nA-1,\"Ana\n\",Lima,10,USD\nA-2,Ana,Lima,1,USD\n");
    let (orders, errors) = run(ProviderKind::AlchemypayVcc, &csv, &[]);
    assert_eq!(orders.iter().map(|o| o.line).collect::<Vec<_>>(), vec![2]);
    assert_eq!(
        errors.iter().map(|e| (e.line, e.fatal)).collect::<Vec<_>>(),
        vec![(4, false)]
    );
}

#[test]
fn a_file_of_blank_lines_whitespace_or_only_a_bom_is_empty() {
    for csv in [
        &b""[..],
        b"\n\n",
        b"\r\n\r\n",
        b"\r\r\r",
        b"   \n\t\n",
        b" ; ;\r\n",
        b"\xEF\xBB\xBF",
        b"\xEF\xBB\xBF\r\n  \r\n",
        b"sep=;\r\n\r\n",
    ] {
        assert!(
            matches!(file_error(csv), FileError::Empty),
            "{:?}: {:?}",
            String::from_utf8_lossy(csv),
            file_error(csv)
        );
    }
}

#[test]
fn blank_lines_before_the_header_are_skipped_and_still_counted() {
    let csv = format!("\n  \n{HEADER}\nA-1,Ana,Lima,1,USD\n");
    assert_eq!(lines(&csv), (vec![], vec![4]));
}

#[test]
fn an_excel_sep_line_sets_the_delimiter_and_the_header_is_line_2() {
    // Without the `sep=` line, the header's two commas against one semicolon would pick `,`.
    let csv = "sep=;\r\norder_ref;first_name;last_name;deposit;vid\r\nA-1;Ana;Lima;10,50;USD\r\nA-2;Ana;Lima;1;USD\r\n";
    let reader = CsvOrders::new(
        csv.as_bytes(),
        ProviderKind::AlchemypayVcc,
        &BTreeMap::new(),
    )
    .unwrap();
    assert_eq!(reader.delimiter(), b';');
    assert_eq!(reader.headers().get(0), Some("order_ref"));
    let (orders, errors) = run(ProviderKind::AlchemypayVcc, csv, &[]);
    assert_eq!(
        orders
            .iter()
            .map(|o| (o.line, o.amount_minor))
            .collect::<Vec<_>>(),
        vec![(3, Some(1050))]
    );
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![4]);
}

#[test]
fn a_sep_line_shifts_the_line_of_a_latin1_header() {
    let csv = b"sep=,\norder_ref,first_n\xE3me\n";
    assert!(
        matches!(file_error(csv), FileError::NotUtf8 { line: 2 }),
        "{:?}",
        file_error(csv)
    );
}

#[test]
fn a_latin1_row_names_its_line_once() {
    let mut csv = format!("{HEADER}\r\nA-1,Ana,Lima,10,USD\r\nA-2,Jo").into_bytes();
    csv.extend_from_slice(b"\xE3o,Lima,10,USD\r\n");
    let reader = CsvOrders::new(&csv[..], ProviderKind::AlchemypayVcc, &BTreeMap::new()).unwrap();
    let errors: Vec<RowError> = reader.filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].line, errors[0].fatal), (3, true));
    let message = errors[0].to_string();
    assert!(
        message.starts_with("line 3, first_name: the file is not valid UTF-8"),
        "{message}"
    );
    assert_eq!(message.matches("line 3").count(), 1, "{message}");
}

#[test]
fn a_card_number_in_a_cell_refuses_the_row_but_an_id_may_be_any_number() {
    // Line 2: a PAN in `vid`; line 3: a number passing the Luhn check as `customer_id`.
    let csv = "order_ref,first_name,last_name,deposit,vid,customer_id\n\
               A-1,Ana,Lima,10,4111 1111 1111 1111,c-1\n\
               A-2,Ana,Lima,10,vab_1,4111111111111111\n";
    let (orders, errors) = run(ProviderKind::AlchemypayVcc, csv, &[]);
    assert_eq!(orders.iter().map(|o| o.line).collect::<Vec<_>>(), vec![3]);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].column.as_deref(), Some("vid"));
    let message = errors[0].to_string();
    assert!(message.contains("looks like a card number"), "{message}");
    assert!(!message.contains("4111 1111 1111 1111"), "{message}");
}

#[test]
fn a_card_number_inside_uqpay_metadata_refuses_the_row() {
    let csv = "order_ref,cardholder_id,card_product_id,card_currency,card_limit,metadata\n\
               U-1,25ea804d-7fd5-43d5-8792-0fc0214cdb2f,467e993f-317a-49fc-9ea0-bf49de7d1f76,SGD,10.00,\"{\"\"note\"\":\"\"4111111111111111\"\"}\"\n\
               U-2,25ea804d-7fd5-43d5-8792-0fc0214cdb2f,467e993f-317a-49fc-9ea0-bf49de7d1f76,SGD,10.00,\"{\"\"note\"\":\"\"ok\"\"}\"\n";
    let (orders, errors) = run(ProviderKind::Uqpay, csv, &[]);
    assert_eq!(orders.iter().map(|o| o.line).collect::<Vec<_>>(), vec![3]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].column.as_deref(), Some("metadata"));
}
