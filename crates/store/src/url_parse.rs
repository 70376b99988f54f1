//! Store URL parsing shared by every backend.

use url::Url;

use crate::StoreError;

/// A parsed store URL that remembers the text it came from, for error messages.
pub(crate) struct StoreUrl {
    raw: String,
    url: Url,
}

impl StoreUrl {
    pub(crate) fn parse(raw: &str) -> Result<Self, StoreError> {
        let url = Url::parse(raw).map_err(|err| StoreError::InvalidUrl {
            url: raw.to_owned(),
            reason: format!("not a URL ({err})"),
        })?;
        Ok(Self {
            raw: raw.to_owned(),
            url,
        })
    }

    pub(crate) fn scheme(&self) -> &str {
        self.url.scheme()
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// An [`StoreError::InvalidUrl`] for this URL.
    pub(crate) fn invalid(&self, reason: impl Into<String>) -> StoreError {
        StoreError::InvalidUrl {
            url: self.raw.clone(),
            reason: reason.into(),
        }
    }

    /// Fails on any query parameter not in `known`, so that a typo is not silently ignored.
    pub(crate) fn expect_no_params(&self, known: &[&str]) -> Result<(), StoreError> {
        for (key, _) in self.url.query_pairs() {
            if !known.contains(&key.as_ref()) {
                let accepted = if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                };
                return Err(self.invalid(format!(
                    "unknown parameter `{key}` (accepted for {}://: {accepted})",
                    self.scheme()
                )));
            }
        }
        Ok(())
    }

    /// The value of query parameter `key`, if given.
    pub(crate) fn param(&self, key: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// A boolean query parameter: `true`/`false`/`1`/`0`, or `default` when absent.
    pub(crate) fn bool_param(&self, key: &str, default: bool) -> Result<bool, StoreError> {
        match self.param(key).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(self.invalid(format!(
                "parameter `{key}` must be true or false, not `{other}`"
            ))),
        }
    }
}
