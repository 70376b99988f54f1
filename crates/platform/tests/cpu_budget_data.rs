//! The Lambda CPU figures in the code are the ones in `data/lambda-cpu.toml`, where each
//! has its source and the date it was read.

use std::time::Duration;

use latency_platform::FunctionSpec;
use latency_platform::cgroup::{
    LAMBDA_CFS_PERIOD, LAMBDA_INIT_BURST_VCPU, LAMBDA_MB_PER_VCPU, MIN_CFS_QUOTA_US,
};

fn data() -> toml::Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/lambda-cpu.toml");
    let text = std::fs::read_to_string(path).expect("data/lambda-cpu.toml");
    text.parse().expect("valid TOML")
}

fn number(table: &toml::Table, section: &str, key: &str) -> f64 {
    let value = &table[section][key];
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
        .unwrap_or_else(|| panic!("[{section}] {key} is not a number"))
}

#[test]
fn every_figure_has_a_source_and_a_date() {
    let table = data();
    assert!(table.len() >= 4, "{table:?}");
    for (name, section) in &table {
        let source = section["source"].as_str().unwrap_or_default();
        assert!(
            source.contains("https://"),
            "[{name}] needs a source with its address"
        );
        let read = section["read"].as_str().unwrap_or_default();
        let parts: Vec<&str> = read.split('-').collect();
        assert!(
            parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
            "[{name}] read = {read:?} is not a YYYY-MM-DD date"
        );
    }
}

#[test]
fn the_code_applies_the_figures_of_the_data_file() {
    let table = data();
    assert_eq!(LAMBDA_MB_PER_VCPU, number(&table, "mb_per_vcpu", "value"));
    assert_eq!(
        LAMBDA_CFS_PERIOD,
        Duration::from_secs_f64(number(&table, "cpu_period", "value") / 1e3)
    );
    assert_eq!(
        MIN_CFS_QUOTA_US as f64,
        number(&table, "min_quota", "value") * 1e3
    );
    assert_eq!(LAMBDA_INIT_BURST_VCPU, number(&table, "init_burst", "vcpu"));
    let spec = FunctionSpec::new("unused", "/bin/true");
    assert!(
        spec.init_cpu_burst,
        "the burst is on by default, as on Lambda"
    );
    assert_eq!(
        spec.init_timeout,
        Duration::from_secs_f64(number(&table, "init_burst", "max_seconds"))
    );
}
