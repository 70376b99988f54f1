//! Price sheets as data, and a pure cost model: what each architecture costs a month,
//! per million calls, and at a given volume, and where serverless and serverful rows
//! break even.
//!
//! Nothing here does I/O, reads the environment, or is async: callers pass sheet text
//! and rows in and get a [`CostReport`] out.
//!
//! ```
//! use latency_cost::{BuiltinSheet, Options, PriceSheet, catalogue, price};
//!
//! let sheet = PriceSheet::builtin(BuiltinSheet::OriginalEra)?;
//! let report = price(&sheet, &catalogue(), &Options::default())?;
//! let ec2 = report.row("ec2").expect("a catalogue row");
//! assert!((ec2.monthly - 10.57).abs() < 0.05); // the study's figure
//! # Ok::<(), latency_cost::CostError>(())
//! ```
//!
//! - [`sheet`]: [`PriceSheet`], parsed strictly from TOML; two sheets are built in.
//! - [`rows`]: what is priced ([`Row`]) and the [`catalogue`]: one row per
//!   [`ArchitectureId`], the same ids `latency lab` and `deploy/` use.
//! - [`model`]: [`price`], [`Overrides`] for memory and billed durations (the lab passes
//!   measured ones), and [`break_even_of`].
//! - [`render_text`] and [`break_even_svg`]: the table and the chart.

pub mod chart;
mod error;
pub mod model;
pub mod render;
pub mod rows;
pub mod sheet;
pub mod volume;

pub use chart::break_even_svg;
pub use error::CostError;
pub use latency_arch::{ArchitectureId, UnknownArchitecture};
pub use model::{
    Billing, BreakEven, CostReport, DEFAULT_CALLS_PER_MONTH, InfracostUsage, Line, LoadBalancer,
    Measured, Options, Overrides, Per, REPORT_JSON_SCHEMA, REPORT_SCHEMA, RowCost, Total,
    break_even_of, measured_billed_duration_ms, price, price_measured,
};
pub use render::render_text;
pub use rows::{
    Function, Kind, Part, Resource, Row, Server, Store, StoreMode, StudyFigure, Workload,
    catalogue, catalogue_row, find_row,
};
pub use sheet::{BuiltinSheet, Figure, Item, PriceSheet};
pub use volume::{format_calls, parse_calls_per_month, parse_volume};
