/// Why a price sheet could not be used or an input could not be priced.
///
/// Every variant says where the problem is (the file and key, the row, or the input)
/// and what is wrong, so that its `Display` is a complete one-line error message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    /// The sheet is not valid TOML.
    #[error("price sheet {file}:{line}:{column}: not valid TOML: {message}")]
    SheetSyntax {
        /// The sheet's file name, or `built-in <name>` for an embedded sheet.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What the TOML parser objected to.
        message: String,
    },

    /// The sheet is valid TOML but a key is missing, unknown or holds a wrong value.
    #[error("price sheet {file}: key `{key}`: {problem}")]
    SheetKey {
        /// The sheet's file name, or `built-in <name>` for an embedded sheet.
        file: String,
        /// The dotted key, e.g. `lambda.gb_second.unit`.
        key: String,
        /// What is wrong with it, and what was expected.
        problem: String,
    },

    /// A row name that is not in the set of rows being priced.
    #[error("unknown row `{name}`; known rows: {known}")]
    UnknownRow {
        /// The name as given.
        name: String,
        /// The known row ids, comma-separated.
        known: String,
    },

    /// An input value (a volume, a memory size, a duration) that cannot be priced.
    #[error("invalid {what} `{value}`: {problem}")]
    InvalidInput {
        /// Which input, e.g. `calls per month`.
        what: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it, and what is accepted.
        problem: String,
    },
}
