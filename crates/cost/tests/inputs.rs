//! The model's inputs: volumes, memory and billed-duration overrides, measured
//! durations, and the errors for bad ones.

use latency_cost::{
    BuiltinSheet, CostError, Options, Overrides, PriceSheet, catalogue, format_calls,
    measured_billed_duration_ms, parse_calls_per_month, price,
};

fn sheet() -> PriceSheet {
    PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("the built-in sheet parses")
}

#[test]
fn volumes_are_read_as_people_write_them() {
    assert_eq!(
        parse_calls_per_month("1e6,1e7,1e8"),
        Ok(vec![1e6, 1e7, 1e8])
    );
    assert_eq!(
        parse_calls_per_month("1000000, 1_000_000 ,500k,2.5M,1B"),
        Ok(vec![1e6, 1e6, 5e5, 2.5e6, 1e9])
    );
}

#[test]
fn bad_volumes_are_named() {
    for (list, bad) in [
        ("1e6,lots", "lots"),
        ("1e6,,1e8", ""),
        ("-5", "-5"),
        ("0", "0"),
        ("NaN", "NaN"),
        ("inf", "inf"),
        ("1e16", "1e16"),
        ("5m", "5m"),
    ] {
        match parse_calls_per_month(list) {
            Err(CostError::InvalidInput { what, value, .. }) => {
                assert_eq!(what, "calls per month");
                assert_eq!(value, bad, "for {list:?}");
            }
            other => panic!("{list:?} should be rejected, got {other:?}"),
        }
    }
    assert!(parse_calls_per_month(" ").is_err());
}

#[test]
fn volumes_print_with_three_significant_figures() {
    assert_eq!(format_calls(3_414_736.0), "3.41M");
    assert_eq!(format_calls(434_000.0), "434k");
    assert_eq!(format_calls(999_999.0), "1M");
    assert_eq!(format_calls(1e9), "1B");
    assert_eq!(format_calls(25.0), "25");
    assert_eq!(format_calls(11_940_000.0), "11.9M");
}

#[test]
fn memory_and_duration_overrides_change_the_gb_seconds() {
    let mut rows = catalogue();
    Overrides {
        memory_mb: Some(1024),
        duration_ms_by_row: vec![("lambda-dynamodb".to_owned(), 10.0)],
        duration_basis: Some("measured".to_owned()),
        ..Overrides::default()
    }
    .apply(&mut rows)
    .expect("applies");
    let report = price(&sheet(), &rows, &Options::default()).expect("prices");
    let rust = report.row("lambda-dynamodb").expect("row");
    let function = rust.function.as_ref().expect("per call");
    assert_eq!(
        (function.memory_mb, function.billed_duration_ms),
        (1024, 10.0)
    );
    assert_eq!(function.duration_basis, "measured");
    // 1 GB x 0.010 s x $0.0000166667 x 1e6 = $0.166667 per million.
    let duration: f64 = rust
        .lines
        .iter()
        .filter(|l| l.item == "lambda.gb_second")
        .map(|l| l.cost)
        .sum();
    assert!((duration - 1.0 * 0.010 * 0.000_016_666_7 * 1e6).abs() < 1e-9);
    // The other rows keep their durations but get the memory.
    let python = report.row("lambda-python-dynamodb").expect("row");
    let function = python.function.as_ref().expect("per call");
    assert_eq!(
        (function.memory_mb, function.billed_duration_ms),
        (1024, 71.0)
    );
}

#[test]
fn a_per_row_value_wins_over_the_value_for_all_rows() {
    let mut rows = catalogue();
    Overrides {
        duration_ms: Some(5.0),
        duration_ms_by_row: vec![("lambda-python-s3".to_owned(), 80.0)],
        memory_mb: Some(256),
        memory_mb_by_row: vec![("lambda-python-s3".to_owned(), 2048)],
        ..Overrides::default()
    }
    .apply(&mut rows)
    .expect("applies");
    let s3 = rows
        .iter()
        .find(|r| r.id == "lambda-python-s3")
        .and_then(|r| r.function())
        .expect("row");
    assert_eq!((s3.memory_mb, s3.billed_duration_ms), (2048, 80.0));
    let rust = rows
        .iter()
        .find(|r| r.id == "lambda-dynamodb")
        .and_then(|r| r.function())
        .expect("row");
    assert_eq!((rust.memory_mb, rust.billed_duration_ms), (256, 5.0));
}

#[test]
fn an_unknown_row_is_an_error_listing_the_known_ones() {
    let mut rows = catalogue();
    let err = Overrides {
        duration_ms_by_row: vec![("lambda-cobol".to_owned(), 5.0)],
        ..Overrides::default()
    }
    .apply(&mut rows)
    .expect_err("no such row");
    let message = err.to_string();
    assert!(message.contains("unknown row `lambda-cobol`"), "{message}");
    assert!(message.contains("lambda-dynamodb"), "{message}");
}

#[test]
fn a_duration_for_a_provisioned_row_is_an_error() {
    let mut rows = catalogue();
    let err = Overrides {
        duration_ms_by_row: vec![("ec2".to_owned(), 5.0)],
        ..Overrides::default()
    }
    .apply(&mut rows)
    .expect_err("ec2 is billed by the month");
    let message = err.to_string();
    assert!(message.contains("billed by the month"), "{message}");
    assert!(
        message.contains("lambda-python-s3"),
        "lists per-call rows: {message}"
    );
}

#[test]
fn out_of_range_memory_and_durations_are_errors() {
    for overrides in [
        Overrides {
            memory_mb: Some(64),
            ..Overrides::default()
        },
        Overrides {
            memory_mb_by_row: vec![("lambda-sqs".to_owned(), 20_000)],
            ..Overrides::default()
        },
        Overrides {
            duration_ms: Some(0.0),
            ..Overrides::default()
        },
        Overrides {
            duration_ms_by_row: vec![("lambda-sqs".to_owned(), 1e7)],
            ..Overrides::default()
        },
    ] {
        let mut rows = catalogue();
        let err = overrides.apply(&mut rows).expect_err("out of range");
        assert!(matches!(err, CostError::InvalidInput { .. }), "{err:?}");
    }
}

#[test]
fn measured_durations_are_billed_per_invocation_then_averaged() {
    let sheet = sheet();
    // 0.3 -> 1, 1.0 -> 1, 7.2 -> 8: mean 10 / 3.
    let mean = measured_billed_duration_ms(&sheet, &[0.3, 1.0, 7.2]).expect("measured");
    assert!((mean - 10.0 / 3.0).abs() < 1e-12);
    assert!(measured_billed_duration_ms(&sheet, &[]).is_err());
    assert!(measured_billed_duration_ms(&sheet, &[f64::NAN]).is_err());
    assert!(measured_billed_duration_ms(&sheet, &[-1.0]).is_err());
}

#[test]
fn pricing_rejects_bad_options_and_duplicate_rows() {
    let sheet = sheet();
    let empty = Options {
        calls_per_month: Vec::new(),
        with_load_balancer: false,
    };
    assert!(price(&sheet, &catalogue(), &empty).is_err());
    let mut rows = catalogue();
    rows.push(rows[0].clone());
    let err = price(&sheet, &rows, &Options::default()).expect_err("duplicate");
    assert!(err.to_string().contains("ec2"), "{err}");
}

#[test]
fn totals_add_the_fixed_and_the_per_call_cost_at_each_volume() {
    let options = Options {
        calls_per_month: vec![1e5, 3e6],
        with_load_balancer: true,
    };
    let report = price(&sheet(), &catalogue(), &options).expect("prices");
    for row in &report.rows {
        assert_eq!(row.totals.len(), 2);
        for total in &row.totals {
            let by_hand = row.monthly + row.per_million * total.calls_per_month / 1e6;
            assert!((total.cost - by_hand).abs() < 1e-9, "{}: {total:?}", row.id);
        }
        let lines: f64 = row.lines.iter().map(|l| l.cost).sum();
        assert!(
            (lines - row.monthly - row.per_million).abs() < 1e-9,
            "{}",
            row.id
        );
    }
}

#[test]
fn the_current_sheet_adds_public_ipv4_to_provisioned_rows() {
    let current = PriceSheet::builtin(BuiltinSheet::Current).expect("parses");
    let report = price(&current, &catalogue(), &Options::default()).expect("prices");
    let ec2 = report.row("ec2").expect("row");
    // 730 h x ($0.0132 + $0.005) + 8 GB x $0.116 = $14.214
    assert!((ec2.monthly - (730.0 * (0.0132 + 0.005) + 8.0 * 0.116)).abs() < 1e-9);
    // An ALB and its two addresses: 730 x ($0.0265 + 2 x $0.005) = $26.645
    assert!((report.load_balancer_monthly - 730.0 * (0.0265 + 2.0 * 0.005)).abs() < 1e-9);
    // DynamoDB halved: Rust + DynamoDB read-modify-write per million
    // $1.11 + $0.20 + $0.1485 + $0.7423 + 1 ms x $0.0020833 = $2.2029
    let rust = report.row("lambda-dynamodb").expect("row");
    let by_hand = 1.11 + 0.20 + 0.1485 + 0.7423 + 0.125 * 0.001 * 0.000_016_666_7 * 1e6;
    assert!((rust.per_million - by_hand).abs() < 1e-9);
}

/// The lab's path: its own rows, priced with what its function platform measured.
#[test]
fn the_lab_prices_its_rows_from_measured_durations() {
    use latency_cost::{Measured, Row, Store, StoreMode, Workload, break_even_svg, price_measured};

    let sheet = sheet();
    let mut rows = vec![latency_cost::catalogue_row(
        latency_cost::ArchitectureId::Ec2,
    )];
    rows.push(Row::api_lambda(
        "lambda-dynamodb",
        "Lambda + DynamoDB (Rust, measured)",
        Store::DynamoDb,
        StoreMode::Atomic,
        128,
        1.0,
        "placeholder",
    ));
    let measured = [Measured {
        row: "lambda-dynamodb".to_owned(),
        memory_mb: 256,
        // A cold start and three warm calls: billed 19, 3, 3 and 4 ms, mean 7.25 ms.
        durations_ms: vec![18.2, 2.4, 2.9, 3.1],
    }];
    let report = price_measured(&sheet, &rows, &measured, &Options::default()).expect("prices");
    let row = report.row("lambda-dynamodb").expect("row");
    let function = row.function.as_ref().expect("per call");
    assert_eq!(function.memory_mb, 256);
    assert!((function.billed_duration_ms - 7.25).abs() < 1e-12);
    assert!(function.duration_basis.contains("4 invocations"));
    // $1.11 + $0.20 + one WRU $1.4846 + 0.25 GB x 0.00725 s x $0.0000166667 x 1e6
    let by_hand = 1.11 + 0.20 + 1.4846 + 0.25 * 0.00725 * 0.000_016_666_7 * 1e6;
    assert!((row.per_million - by_hand).abs() < 1e-9);
    assert!(
        report
            .break_even_between("lambda-dynamodb", "ec2")
            .is_some()
    );
    assert!(break_even_svg(&report, Workload::Hits).contains("Lambda + DynamoDB (Rust, measured)"));

    let unknown = [Measured {
        row: "nope".to_owned(),
        memory_mb: 128,
        durations_ms: vec![1.0],
    }];
    assert!(price_measured(&sheet, &rows, &unknown, &Options::default()).is_err());
}
