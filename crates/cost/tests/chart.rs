//! The break-even chart is well-formed, self-contained SVG that shows every row and
//! every break-even point in range.

use latency_cost::{
    BuiltinSheet, CostReport, Options, PriceSheet, Workload, break_even_svg, catalogue, price,
};

fn report(with_load_balancer: bool) -> CostReport {
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
    let options = Options {
        with_load_balancer,
        ..Options::default()
    };
    price(&sheet, &catalogue(), &options).expect("prices")
}

#[test]
fn the_chart_is_well_formed_svg_with_a_line_per_row_and_a_dot_per_break_even() {
    for with_load_balancer in [false, true] {
        let report = report(with_load_balancer);
        let svg = break_even_svg(&report, Workload::Hits);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        assert!(root.attribute("viewBox").is_some());

        let hits: Vec<_> = report
            .rows
            .iter()
            .filter(|r| r.workload == Workload::Hits)
            .collect();
        let polylines: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .collect();
        assert_eq!(polylines.len(), hits.len(), "one line per row");
        for row in &hits {
            assert!(
                polylines
                    .iter()
                    .any(|p| p.children().any(|c| c.text() == Some(row.label.as_str()))),
                "no line titled {}",
                row.label
            );
            assert!(
                doc.descendants().any(|n| n.has_tag_name("text")
                    && n.text() == Some(row.label.as_str())
                    || n.has_tag_name("text")
                        && n.first_child().and_then(|c| c.text()).map(str::trim)
                            == Some(row.label.as_str())),
                "{} is not in the legend",
                row.label
            );
        }
        let crossings = report
            .break_even
            .iter()
            .filter(|b| b.workload == Workload::Hits && b.calls_per_month.is_some())
            .count();
        let dots = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle") && n.children().any(|c| c.has_tag_name("title")))
            .count();
        assert_eq!(dots, crossings, "one dot per break-even point");
        // Self-contained: nothing is fetched.
        assert!(!svg.contains("href"), "no external references");
    }
}

/// The EC2 / Lambda Rust + DynamoDB crossing is drawn where the two lines meet: its dot
/// lies on the EC2 line's height.
#[test]
fn a_break_even_dot_sits_on_the_provisioned_line() {
    let report = report(false);
    let svg = break_even_svg(&report, Workload::Hits);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed");
    let dot = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .find(|n| {
            n.first_child()
                .and_then(|t| t.text())
                .is_some_and(|t| t.starts_with("Lambda Rust + DynamoDB = Server + EC2 at 3.41M"))
        })
        .expect("the EC2 / Rust + DynamoDB dot, titled with its volume");
    let cy: f64 = dot
        .attribute("cy")
        .and_then(|v| v.parse().ok())
        .expect("cy");
    let ec2_line = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .find(|n| n.children().any(|c| c.text() == Some("Server + EC2")))
        .expect("the EC2 line");
    let points = ec2_line.attribute("points").expect("points");
    let first_y: f64 = points
        .split_whitespace()
        .next()
        .and_then(|p| p.split(',').nth(1))
        .and_then(|y| y.parse().ok())
        .expect("a point");
    assert!(
        (cy - first_y).abs() < 0.2,
        "dot at y={cy}, EC2 line at y={first_y}"
    );
}

#[test]
fn the_queue_chart_has_its_own_rows_only() {
    let report = report(false);
    let svg = break_even_svg(&report, Workload::CalcJobs);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count(),
        2
    );
    assert!(svg.contains("Lambda + SQS (calc)"));
    assert!(!svg.contains("Server + EC2"));
}

#[test]
fn a_chart_without_rows_says_so() {
    let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra).expect("parses");
    let rows: Vec<_> = catalogue()
        .into_iter()
        .filter(|r| r.workload == Workload::Hits)
        .collect();
    let report = price(&sheet, &rows, &Options::default()).expect("prices");
    let svg = break_even_svg(&report, Workload::CalcJobs);
    roxmltree::Document::parse(&svg).expect("well-formed");
    assert!(svg.contains("no rows to chart"));
}
