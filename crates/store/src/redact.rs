//! Hiding the secrets a store URL can carry, before the URL is shown anywhere.

use url::Url;

/// What a hidden password is replaced with.
const MASK: &str = "***";

/// `url` with every password in it replaced by `***`: the URL's own
/// (`redis://:secret@host` → `redis://:***@host`), those of URLs nested in its query
/// (`?endpoint=http://user:secret@host`), and the value of any query parameter whose name
/// says it is secret (`password`, `token`, `secret`, `credential`, in any case), for
/// a parameter given by mistake is echoed in the "unknown parameter" error.
///
/// This is the one function that makes a store URL fit for an error message, a log line
/// or a report. It never fails: text that is not a URL is masked by its form
/// (`scheme://user:password@`), so that a URL too broken to parse still does not leak its
/// password. A URL with nothing to hide is returned exactly as given.
pub fn redact_url(url: &str) -> String {
    // The parser finds passwords wherever URL syntax puts them (percent-encoded ones
    // too); the shape-based pass then catches what the parser took for a path, such as
    // `s3://b/k other://user:secret@host`.
    match Url::parse(url) {
        Ok(parsed) => match redact_parsed(&parsed) {
            Some(redacted) => redact_text(redacted.as_str()),
            None => redact_text(url),
        },
        Err(_) => redact_text(url),
    }
}

/// The redacted URL, or `None` when it holds no password.
fn redact_parsed(url: &Url) -> Option<Url> {
    let mut redacted = url.clone();
    let mut changed = false;
    if url.password().is_some() {
        // Only fails for URLs that cannot have a password, and this one has one.
        changed |= redacted.set_password(Some(MASK)).is_ok();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let masked: Vec<(String, String)> = pairs
        .iter()
        .map(|(key, value)| {
            let masked = if names_a_secret(key) {
                MASK.to_owned()
            } else {
                redact_url(value)
            };
            (key.clone(), masked)
        })
        .collect();
    if masked != pairs {
        redacted.query_pairs_mut().clear().extend_pairs(&masked);
        changed = true;
    }
    changed.then_some(redacted)
}

/// Whether a query parameter's name says that its value is a secret.
fn names_a_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["pass", "secret", "token", "credential"]
        .iter()
        .any(|word| name.contains(word))
}

/// Masks `scheme://user:password@` by its shape, for text the URL parser rejects.
fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (head, tail) = rest.split_at(start + 3);
        out.push_str(head);
        // The authority ends at the first of these; its user info at its last `@`.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                let user_info = &authority[..at];
                match user_info.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push(':');
                        out.push_str(MASK);
                    }
                    None => out.push_str(user_info),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_masked_and_nothing_else_changes() {
        for (url, expected) in [
            (
                "redis://:s3cret@127.0.0.1:6379/0",
                "redis://:***@127.0.0.1:6379/0",
            ),
            (
                "postgres://me:s3cret@db/test?table=t",
                "postgres://me:***@db/test?table=t",
            ),
            ("postgres://me@db/test", "postgres://me@db/test"),
            ("memory://", "memory://"),
            (
                "redis://h/?key=k&password=s3cret&X-Amz-Security-Token=s3cret",
                "redis://h/?key=k&password=***&X-Amz-Security-Token=***",
            ),
            ("not a url", "not a url"),
            (
                "s3://b/k?endpoint=http://ak:s3cret@127.0.0.1:9000&create=true",
                "s3://b/k?endpoint=http%3A%2F%2Fak%3A***%40127.0.0.1%3A9000%2F&create=true",
            ),
            // Unparsable (a space in the host), masked by shape.
            ("redis://u:s3cret@bad host:1/", "redis://u:***@bad host:1/"),
            (
                "x y://:s3cret@h and z://u:s3cret@h",
                "x y://:***@h and z://u:***@h",
            ),
        ] {
            assert_eq!(redact_url(url), expected, "{url}");
        }
    }

    #[test]
    fn percent_encoded_nested_passwords_are_masked() {
        let url = "s3://b/k?endpoint=http%3A%2F%2Fak%3As3cret%40127.0.0.1%3A9000";
        let redacted = redact_url(url);
        assert!(!redacted.contains("s3cret"), "{redacted}");
    }
}
