//! Test support shared by the project's suites, so that no suite keeps its own copy:
//!
//! - [`contract`]: the counter app's HTTP contract as one check against any base URL;
//! - [`services`]: the local endpoints (`scripts/services start`) a test needs, or a
//!   failure that names the command that starts them.

pub mod contract;
pub mod services;
