//! Store URL parsing shared by every backend.

use url::Url;

use crate::redact::redact_url;
use crate::{StoreError, StoreScheme};

/// A parsed store URL of a known scheme that this build can open, whose query holds only
/// parameters the scheme accepts. It remembers its text, redacted, for error messages.
pub(crate) struct StoreUrl {
    shown: String,
    scheme: StoreScheme,
    url: Url,
}

impl StoreUrl {
    pub(crate) fn parse(raw: &str) -> Result<Self, StoreError> {
        let shown = redact_url(raw);
        let invalid = |reason: String| StoreError::InvalidUrl {
            url: shown.clone(),
            reason,
        };
        let url = Url::parse(raw).map_err(|err| invalid(format!("not a URL ({err})")))?;
        let scheme = url
            .scheme()
            .parse::<StoreScheme>()
            .map_err(|err| invalid(err.to_string()))?;
        if let (Some(feature), false) = (scheme.feature(), scheme.is_built()) {
            return Err(invalid(format!(
                "this build has no `{scheme}://` store; rebuild with the cargo feature `{feature}` \
                 (the released `latency` binary has every store)"
            )));
        }
        let parsed = Self { shown, scheme, url };
        parsed.expect_known_params()?;
        Ok(parsed)
    }

    pub(crate) fn scheme(&self) -> StoreScheme {
        self.scheme
    }

    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// An [`StoreError::InvalidUrl`] for this URL, which it shows redacted.
    pub(crate) fn invalid(&self, reason: impl Into<String>) -> StoreError {
        StoreError::InvalidUrl {
            url: self.shown.clone(),
            reason: reason.into(),
        }
    }

    /// Fails on any query parameter the scheme does not accept, so that a typo is not
    /// silently ignored.
    fn expect_known_params(&self) -> Result<(), StoreError> {
        let known = self.scheme.params();
        for (key, _) in self.url.query_pairs() {
            if !known.iter().any(|param| param.name == key) {
                let accepted = if known.is_empty() {
                    "none".to_owned()
                } else {
                    let names: Vec<&str> = known.iter().map(|param| param.name).collect();
                    names.join(", ")
                };
                return Err(self.invalid(format!(
                    "unknown parameter `{key}` (accepted for {}://: {accepted})",
                    self.scheme
                )));
            }
        }
        Ok(())
    }

    /// The value of query parameter `key`: as given, else its default from
    /// [`StoreScheme::params`], else `None`.
    pub(crate) fn param(&self, key: &str) -> Option<String> {
        debug_assert!(
            self.scheme.params().iter().any(|param| param.name == key),
            "{key} is not a parameter of {}",
            self.scheme
        );
        self.url
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .or_else(|| {
                self.scheme
                    .params()
                    .iter()
                    .find(|param| param.name == key)
                    .and_then(|param| param.default.map(str::to_owned))
            })
    }

    /// A boolean query parameter: `true`/`false`/`1`/`0` (absent: its default).
    pub(crate) fn bool_param(&self, key: &str) -> Result<bool, StoreError> {
        match self.param(key).as_deref() {
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            other => Err(self.invalid(format!(
                "parameter `{key}` must be true or false, not `{}`",
                other.unwrap_or_default()
            ))),
        }
    }
}
