//! `${name}` templates, as Terraform's `templatestring` reads them.
//!
//! Written here rather than taken from a template crate on purpose: the descriptions must
//! mean the same to Terraform and to the lab, so the lab accepts exactly the subset both
//! share (`${identifier}` and the `$${` escape) and refuses the rest, where a general
//! template engine would accept syntax Terraform reads differently.

use std::collections::BTreeMap;

use crate::DescriptionError;

/// Every variable a template may name, and what each deploying side supplies for it.
pub const TEMPLATE_VARIABLES: &[(&str, &str)] = &[
    (
        "counter_table",
        "the counter table's name (Terraform: `<name>-counter-<id>`; the lab: a fresh name per run)",
    ),
    (
        "counter_bucket",
        "the counter bucket's name (Terraform: generated; the lab: a fresh name per run)",
    ),
    (
        "done_table",
        "the queue's done-counter table (Terraform: `<name>-calc-done`; the lab: a fresh name)",
    ),
    (
        "queue_url",
        "the job queue's URL (Kubernetes: the Secret's amqp URL; the lab: its broker's URL)",
    ),
    (
        "redis_address",
        "Redis's host:port (Kubernetes: the `redis` Service; the lab: 127.0.0.1:6379)",
    ),
    (
        "data_dir",
        "the directory of a file counter (EFS mount, the instance's state directory, the lab's run directory)",
    ),
    (
        "port",
        "the port the server listens on (the lab: 0, any free port)",
    ),
];

/// A piece of a parsed template.
enum Piece<'a> {
    Text(&'a str),
    Variable(&'a str),
}

/// Splits `template` into literal text and `${name}` references (`$${` is the text `${`).
fn parse(template: &str) -> Result<Vec<Piece<'_>>, DescriptionError> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        let consumed = template.len() - rest.len();
        pieces.push(Piece::Text(&rest[..at]));
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            pieces.push(Piece::Text("${"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let malformed = || DescriptionError::MalformedTemplate {
                template: template.to_owned(),
                at: consumed + at,
            };
            let end = after.find('}').ok_or_else(malformed)?;
            let name = &after[..end];
            let identifier = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            if !identifier {
                return Err(malformed());
            }
            pieces.push(Piece::Variable(name));
            rest = &after[end + 1..];
        } else {
            pieces.push(Piece::Text("$"));
            rest = &tail[1..];
        }
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

/// Renders `template`, replacing each `${name}` by `values[name]` and `$${` by `${`.
///
/// # Errors
/// [`DescriptionError::UnknownVariable`] for a name not in `values`;
/// [`DescriptionError::MalformedTemplate`] for an unclosed `${` or an empty or
/// non-identifier name.
pub fn render(template: &str, values: &BTreeMap<&str, String>) -> Result<String, DescriptionError> {
    let mut out = String::with_capacity(template.len());
    for piece in parse(template)? {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Variable(name) => {
                let value = values
                    .get(name)
                    .ok_or_else(|| DescriptionError::UnknownVariable {
                        template: template.to_owned(),
                        name: name.to_owned(),
                        supplied: values.keys().copied().collect::<Vec<_>>().join(", "),
                    })?;
                out.push_str(value);
            }
        }
    }
    Ok(out)
}

/// The names a template uses, in order (for checks that every name is known).
///
/// # Errors
/// [`DescriptionError::MalformedTemplate`] as [`render`].
pub fn variables(template: &str) -> Result<Vec<String>, DescriptionError> {
    Ok(parse(template)?
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Variable(name) => Some(name.to_owned()),
            Piece::Text(_) => None,
        })
        .collect())
}

/// `url` with the local `endpoint` added as a query parameter, for the AWS store and
/// queue URLs (`s3://`, `dynamodb://`, `sqs://`) that the lab points at its local
/// servers; every other URL is returned unchanged. This is the one change the lab makes
/// to a rendered description beyond the template values.
pub fn with_endpoint(url: &str, endpoint: &str) -> String {
    let aws = ["s3://", "dynamodb://", "sqs://"]
        .iter()
        .any(|scheme| url.starts_with(scheme));
    if !aws {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}endpoint={endpoint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<&'static str, String> {
        BTreeMap::from([("counter_table", "t1".to_owned()), ("port", "0".to_owned())])
    }

    #[test]
    fn names_are_replaced_and_the_escape_is_kept_literal() {
        let out = render(
            "dynamodb://${counter_table}?x=$${port}&p=${port}$",
            &values(),
        )
        .expect("renders");
        assert_eq!(out, "dynamodb://t1?x=${port}&p=0$");
    }

    #[test]
    fn an_unknown_name_is_an_error_that_lists_the_supplied_ones() {
        let err = render("s3://${counter_bucket}/hits", &values()).expect_err("unknown");
        let message = err.to_string();
        assert!(message.contains("counter_bucket"), "{message}");
        assert!(message.contains("counter_table, port"), "{message}");
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        for bad in ["${", "${}", "a${port", "${1x}", "${a-b}"] {
            assert!(
                matches!(
                    render(bad, &values()),
                    Err(DescriptionError::MalformedTemplate { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_variables_of_a_template_are_listed() {
        assert_eq!(
            variables("redis://${redis_address}/0?key=hits&d=${data_dir}").expect("parses"),
            vec!["redis_address".to_owned(), "data_dir".to_owned()]
        );
    }

    #[test]
    fn only_aws_urls_get_the_local_endpoint() {
        assert_eq!(
            with_endpoint("dynamodb://t?key=id", "http://127.0.0.1:9"),
            "dynamodb://t?key=id&endpoint=http://127.0.0.1:9"
        );
        assert_eq!(
            with_endpoint("s3://b/hits", "http://127.0.0.1:9"),
            "s3://b/hits?endpoint=http://127.0.0.1:9"
        );
        assert_eq!(with_endpoint("redis://h/0", "x"), "redis://h/0");
        assert_eq!(with_endpoint("info", "x"), "info");
    }
}
