//! Break-even volumes: where a per-call row and a provisioned row cost the same.

use latency_cost::{
    BuiltinSheet, CostReport, Options, Overrides, PriceSheet, StoreMode, Workload, catalogue, price,
};

fn original_era() -> CostReport {
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("the built-in sheet parses");
    price(&sheet, &catalogue(), &Options::default()).expect("the catalogue prices")
}

/// EC2 against Lambda (Rust) + DynamoDB on the original-era sheet: near 3.4 million
/// calls a month.
///
/// ```text
/// EC2:     730 h x $0.0132 + 8 GB x $0.116                    = $10.564 a month
/// Lambda:  $1.11 + $0.20 + $0.297 + $1.4846 + 1 ms x $0.0020833 = $3.0936833 per million
/// break-even = $10.564 / ($3.0936833 / 1e6)                     = 3,414,700 calls a month
/// ```
#[test]
fn ec2_and_lambda_dynamodb_break_even_near_3_4_million_calls() {
    let ec2_monthly: f64 = 730.0 * 0.0132 + 8.0 * 0.116;
    let lambda_per_million: f64 =
        1.11 + 0.20 + 0.297 + 1.4846 + 0.125 * 0.001 * 0.000_016_666_7 * 1e6;
    let by_hand = ec2_monthly / (lambda_per_million / 1e6);
    assert!(
        (by_hand - 3_414_700.0).abs() < 1.0,
        "hand arithmetic: {by_hand}"
    );

    let report = original_era();
    let point = report
        .break_even_between("lambda-dynamodb", "ec2")
        .expect("a per-call and a provisioned row of the same workload have a break-even entry");
    let computed = point.calls_per_month.expect("the two lines cross");
    assert!(
        (computed - by_hand).abs() / by_hand < 1e-9,
        "model {computed} against hand arithmetic {by_hand}"
    );
    assert!((3.3e6..3.5e6).contains(&computed), "near 3.4 M: {computed}");
    assert_eq!(point.cheaper_below, "lambda-dynamodb");
    assert_eq!(point.cheaper_above, "ec2");
    let cost = point.cost.expect("a crossing has a cost");
    assert!((cost - ec2_monthly).abs() < 1e-9);
}

/// At every break-even volume both rows cost the same, and on either side the row the
/// report names is the cheaper one.
#[test]
fn every_break_even_point_is_where_the_two_totals_meet() {
    for which in BuiltinSheet::ALL {
        let sheet = PriceSheet::builtin(which).expect("the built-in sheet parses");
        for with_load_balancer in [false, true] {
            let options = Options {
                with_load_balancer,
                ..Options::default()
            };
            let report = price(&sheet, &catalogue(), &options).expect("prices");
            assert!(!report.break_even.is_empty());
            for point in &report.break_even {
                let s = report.row(&point.per_call).expect("row");
                let p = report.row(&point.provisioned).expect("row");
                assert_eq!(s.workload, p.workload, "only like is compared with like");
                let v = point.calls_per_month.expect("these rows all cross");
                let (at_s, at_p) = (s.total_at(v), p.total_at(v));
                assert!(
                    (at_s - at_p).abs() < 1e-6 * at_p,
                    "{point:?}: {at_s} vs {at_p}"
                );
                assert!(s.total_at(v * 0.9) < p.total_at(v * 0.9), "{point:?} below");
                assert!(s.total_at(v * 1.1) > p.total_at(v * 1.1), "{point:?} above");
            }
        }
    }
}

/// Every per-call row is paired with every provisioned row of its workload, and with
/// no other.
#[test]
fn pairs_cover_each_workload_and_never_cross_workloads() {
    let report = original_era();
    let count = |workload: Workload, per_call: bool| {
        report
            .rows
            .iter()
            .filter(|r| r.workload == workload && (r.function.is_some() == per_call))
            .count()
    };
    let expected = count(Workload::Hits, true) * count(Workload::Hits, false)
        + count(Workload::CalcJobs, true) * count(Workload::CalcJobs, false);
    assert_eq!(report.break_even.len(), expected);
    assert!(
        report.break_even_between("lambda-sqs", "ec2").is_none(),
        "a calc job is not a GET /hits"
    );
    assert!(
        report
            .break_even_between("lambda-sqs", "workers-rabbitmq")
            .is_some()
    );
}

/// An atomic DynamoDB update drops the read unit, so Lambda stays cheaper longer.
#[test]
fn atomic_store_mode_moves_the_break_even_up() {
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
    let mut rows = catalogue();
    Overrides {
        store_mode: Some(StoreMode::Atomic),
        ..Overrides::default()
    }
    .apply(&mut rows)
    .expect("applies");
    let atomic = price(&sheet, &rows, &Options::default()).expect("prices");
    let rmw = original_era();
    let per_million = |r: &CostReport| r.row("lambda-dynamodb").expect("row").per_million;
    assert!((per_million(&rmw) - per_million(&atomic) - 0.297).abs() < 1e-9);
    let volume = |r: &CostReport| {
        r.break_even_between("lambda-dynamodb", "ec2")
            .and_then(|b| b.calls_per_month)
            .expect("crosses")
    };
    assert!(volume(&atomic) > volume(&rmw));
}

/// When the per-call row costs nothing per call, it is cheaper at every volume: no
/// crossing, and both sides name it.
#[test]
fn a_row_that_is_cheaper_everywhere_has_no_break_even_volume() {
    let report = original_era();
    let mut free = report.row("lambda-dynamodb").expect("row").clone();
    free.per_million = 0.0;
    let ec2 = report.row("ec2").expect("row");
    let point = latency_cost::break_even_of(&free, ec2);
    assert_eq!(point.calls_per_month, None);
    assert_eq!(point.cheaper_below, free.id);
    assert_eq!(point.cheaper_above, free.id);

    let mut dear = ec2.clone();
    dear.monthly = 0.0;
    let point = latency_cost::break_even_of(report.row("lambda-dynamodb").expect("row"), &dear);
    assert_eq!(point.calls_per_month, None);
    assert_eq!(point.cheaper_below, "ec2");
}
