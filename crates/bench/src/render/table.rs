//! The comparison as aligned text tables for a terminal, laid out by `comfy-table` (it
//! measures Unicode widths, e.g. of `µs`, and wraps a column to a width budget).

use std::fmt::Write as _;

use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width, presets};

use super::{COLUMNS, Comparison, LOAD_COLUMN, Row, STUDY_COLUMNS, Units, one_line};

/// The columns that may wrap when a table is too wide, with the narrowest each may get:
/// the name, the load description and the counter check. Figures never wrap: a number
/// split over two lines reads as two rows.
fn min_width(column: usize) -> Option<u16> {
    match column {
        0 => Some(24),
        LOAD_COLUMN => Some(12),
        c if c == COLUMNS.len() - 1 => Some(7),
        _ => None,
    }
}

/// The throughput column's header in text: short, so the second table fits.
const THROUGHPUT_COLUMN: usize = 7;

/// How [`Comparison::text`] lays out its tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextOptions {
    /// One table with every column, however wide, instead of the study's columns first
    /// and the rest in a second table.
    pub wide: bool,
    /// The width the tables must fit (unless `wide`), in terminal columns. A column that
    /// can wrap (the load description) wraps to fit; if the table still cannot fit, it
    /// is printed wider rather than cut.
    pub width: u16,
}

impl Default for TextOptions {
    /// Two tables fitting 120 columns.
    fn default() -> Self {
        Self {
            wide: false,
            width: 120,
        }
    }
}

pub(super) fn text(cmp: &Comparison, options: &TextOptions) -> String {
    let (mut header, rows) = cmp.cells(Units::Auto);
    header[THROUGHPUT_COLUMN] = "req/s";
    let mut out = String::new();
    if options.wide {
        let all: Vec<usize> = (0..header.len()).collect();
        out.push_str(&table(&header, &rows, &all, None));
    } else {
        let study: Vec<usize> = (0..STUDY_COLUMNS).collect();
        out.push_str(&table(&header, &rows, &study, Some(options.width)));
        // The second table repeats the name column and leaves out skipped rows, which
        // have nothing in these columns (their reason is in the notes).
        let measured: Vec<Vec<String>> = cmp
            .rows
            .iter()
            .zip(&rows)
            .filter(|(row, _)| matches!(row, Row::Measured(_)))
            .map(|(_, cells)| cells.clone())
            .collect();
        if !measured.is_empty() {
            let rest: Vec<usize> = std::iter::once(0)
                .chain(STUDY_COLUMNS..header.len())
                .collect();
            out.push('\n');
            out.push_str(&table(&header, &measured, &rest, Some(options.width)));
        }
    }
    let notes = cmp.footnotes();
    if !notes.is_empty() {
        out.push_str("\nNotes:\n");
        // Wrapped to the width too, with a hanging indent under the bullet.
        // Lines break at spaces only: a date or a URL is never split at its hyphens.
        let wrap = textwrap::Options::new(if options.wide {
            usize::MAX
        } else {
            usize::from(options.width)
        })
        .initial_indent("- ")
        .subsequent_indent("  ")
        .break_words(false)
        .word_splitter(textwrap::WordSplitter::NoHyphenation);
        for n in notes {
            for line in textwrap::wrap(&one_line(&n), &wrap) {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    out
}

/// One aligned table of the `columns` of `rows`. Names and the load description align
/// left, figures right.
fn table(header: &[&str], rows: &[Vec<String>], columns: &[usize], width: Option<u16>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::ASCII_MARKDOWN);
    match width {
        Some(w) => {
            t.set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(w);
        }
        None => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t.set_header(columns.iter().map(|&c| header[c]));
    for row in rows {
        t.add_row(columns.iter().map(|&c| one_line(&row[c])));
    }
    for (i, &c) in columns.iter().enumerate() {
        if let Some(col) = t.column_mut(i) {
            col.set_constraint(match min_width(c) {
                Some(w) => ColumnConstraint::LowerBoundary(Width::Fixed(w)),
                None => ColumnConstraint::ContentWidth,
            });
            col.set_cell_alignment(if c == 0 || c == LOAD_COLUMN {
                CellAlignment::Left
            } else {
                CellAlignment::Right
            });
        }
    }
    let mut s = t.to_string();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Report;

    fn fixture(name: &str) -> Report {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        Report::read(std::path::Path::new(&path)).expect("fixture")
    }

    /// The lab's shape: each architecture twice (sequential, then concurrent) with the
    /// same note on both phases, plus a skipped row.
    fn lab_like() -> Comparison {
        let mut rows = Vec::new();
        for (name, file) in [
            ("Server + VM (EC2)", "server-vm.json"),
            // As long as the lab's longest name with its phase suffix.
            ("Kubernetes (3 replicas) with Redis", "fargate-efs.json"),
        ] {
            let mut seq = fixture(file);
            seq.target.label = Some(name.into());
            seq.plan.connections = 1;
            seq.notes = vec!["ran without a CPU quota".into()];
            let mut conc = seq.clone();
            conc.target.label = Some(format!("{name}, 32 concurrent"));
            conc.plan.connections = 32;
            // A failed check and errors make the widest cells the lab prints.
            conc.results.counter.verdict = crate::Verdict::Fail;
            conc.results.counter.duplicates = 1;
            conc.results.counter.gaps = 26;
            conc.results.errors.insert("http_5xx".into(), 373);
            conc.results.error_rate = 0.622;
            rows.push(seq);
            rows.push(conc);
        }
        let mut cmp = Comparison::new(rows);
        cmp.skip(
            "Lambda + S3",
            "needs moto; run: scripts/services start moto",
        );
        cmp
    }

    #[test]
    fn default_tables_fit_120_columns_with_study_columns_first() {
        let text = lab_like().text(&TextOptions::default());
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest <= 120, "a line is {widest} columns wide:\n{text}");
        let headers: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| Architecture"))
            .collect();
        assert_eq!(headers.len(), 2, "two tables:\n{text}");
        assert!(
            headers[0].contains("Average latency") && headers[0].contains("Cost per million"),
            "{}",
            headers[0]
        );
        assert!(!headers[0].contains("p99"), "{}", headers[0]);
        assert!(headers[1].contains("p99") && headers[1].contains("Counter"));
        // The load description wraps at word boundaries, never to a sliver.
        assert!(
            text.contains("sequential") && text.contains("closed loop,"),
            "{text}"
        );
        // Columns align: every row of a table has its `|` at the same places.
        for block in text.split("\n\n").filter(|b| b.starts_with("| ")) {
            let bars = |l: &str| {
                l.char_indices()
                    .filter(|(_, c)| *c == '|')
                    .map(|(i, _)| l[..i].chars().count())
                    .collect::<Vec<_>>()
            };
            let first = bars(block.lines().next().unwrap_or_default());
            for line in block.lines() {
                assert_eq!(bars(line), first, "misaligned:\n{block}");
            }
        }
    }

    #[test]
    fn wide_is_one_table_and_durations_are_auto_scaled() {
        let text = lab_like().text(&TextOptions {
            wide: true,
            ..TextOptions::default()
        });
        let header = text.lines().next().unwrap_or_default();
        assert!(header.contains("Average latency") && header.contains("Counter check"));
        assert_eq!(text.matches("| Architecture").count(), 1, "{text}");
        // server-vm's warm latencies are about 0.15 ms: printed in µs, never as 0.15ms.
        assert!(text.contains("µs"), "{text}");
        assert!(!text.contains("0.1ms") && !text.contains("(ms)"), "{text}");
    }

    #[test]
    fn a_note_shared_by_both_phases_is_printed_once_per_architecture() {
        let text = lab_like().text(&TextOptions::default());
        assert_eq!(
            text.matches("ran without a CPU quota").count(),
            2,
            "once per architecture:\n{text}"
        );
        assert!(text.contains("- Server + VM (EC2): ran without a CPU quota"));
        // A long note wraps at spaces, under its bullet.
        let measured = text
            .lines()
            .position(|l| l.starts_with("- Measured on"))
            .expect("a Measured line");
        let next = text.lines().nth(measured + 1).unwrap_or_default();
        assert!(next.is_empty() || next.starts_with("  "), "{next}");
        assert!(text.contains("- Lambda + S3: skipped — needs moto"));
    }
}
