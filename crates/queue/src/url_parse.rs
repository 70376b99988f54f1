//! URL parsing shared by the queue and done-counter backends.

use url::Url;

use crate::QueueError;

/// The queue URL schemes, one backend each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueScheme {
    /// `memory://`: in this process.
    Memory,
    /// `amqp://`: RabbitMQ through lapin (feature `amqp`).
    Amqp,
    /// `sqs://`: Amazon SQS or moto through aws-sdk-sqs (feature `sqs`).
    Sqs,
}

impl QueueScheme {
    /// Every scheme, in the order help texts list them.
    pub const ALL: [QueueScheme; 3] = [Self::Memory, Self::Amqp, Self::Sqs];

    /// The scheme for a URL's scheme text, if it is a queue scheme.
    pub fn parse(scheme: &str) -> Option<Self> {
        match scheme {
            "memory" => Some(Self::Memory),
            "amqp" | "amqps" => Some(Self::Amqp),
            "sqs" => Some(Self::Sqs),
            _ => None,
        }
    }

    /// The cargo feature that builds this backend, if any.
    pub fn feature(self) -> Option<&'static str> {
        match self {
            Self::Memory => None,
            Self::Amqp => Some("amqp"),
            Self::Sqs => Some("sqs"),
        }
    }

    /// Whether this build can open the scheme.
    pub fn is_built(self) -> bool {
        match self {
            Self::Memory => true,
            Self::Amqp => cfg!(feature = "amqp"),
            Self::Sqs => cfg!(feature = "sqs"),
        }
    }

    /// One line describing the URL form, for help texts.
    pub fn form(self) -> String {
        let text = match self {
            Self::Memory => {
                "memory://                      in this process (embedded runs; lost on exit)"
            }
            Self::Amqp => {
                "amqp://user:pass@host:5672/%2f  a RabbitMQ quorum queue, manual acks, prefetch, dead-letter exchange (?queue=latency-calc)"
            }
            Self::Sqs => {
                "sqs://queue-name               an SQS queue with a redrive policy to queue-name-dlq (?endpoint=URL ?region=R)"
            }
        };
        match self.feature() {
            Some(feature) if !self.is_built() => {
                format!("{text} [not in this build: enable cargo feature `{feature}`]")
            }
            _ => text.to_owned(),
        }
    }
}

/// A parsed queue or counter URL that remembers its (masked) text for error messages.
pub(crate) struct QueueUrl {
    pub(crate) scheme: QueueScheme,
    pub(crate) url: Url,
    raw: String,
    what: &'static str,
}

impl QueueUrl {
    pub(crate) fn parse(raw: &str) -> Result<Self, QueueError> {
        let url = parse_any(raw, "queue")?;
        let scheme = QueueScheme::parse(url.scheme()).ok_or_else(|| QueueError::InvalidUrl {
            what: "queue",
            url: mask(&url),
            reason: format!(
                "unknown queue scheme `{}://`; accepted forms:\n  {}",
                url.scheme(),
                crate::accepted_forms().join("\n  ")
            ),
        })?;
        Ok(Self {
            scheme,
            raw: mask(&url),
            url,
            what: "queue",
        })
    }

    pub(crate) fn invalid(&self, reason: impl Into<String>) -> QueueError {
        QueueError::InvalidUrl {
            what: self.what,
            url: self.raw.clone(),
            reason: reason.into(),
        }
    }

    #[cfg(not(all(feature = "amqp", feature = "sqs")))]
    pub(crate) fn not_built(&self, feature: &str) -> QueueError {
        self.invalid(format!(
            "this build has no `{}://` queue; rebuild with the cargo feature `{feature}`",
            self.url.scheme()
        ))
    }

    /// Fails on any query parameter not in `known`, so that a typo is not silently ignored.
    pub(crate) fn expect_no_params(&self, known: &[&str]) -> Result<(), QueueError> {
        expect_params(&self.url, known).map_err(|reason| self.invalid(reason))
    }

    // Only the AMQP backend reads parameters through this; a build without it still parses URLs.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn param(&self, key: &str) -> Option<String> {
        param(&self.url, key)
    }

    /// The masked URL text, for logs and messages.
    #[cfg_attr(not(feature = "amqp"), allow(dead_code))]
    pub(crate) fn display(&self) -> &str {
        &self.raw
    }
}

/// Parses `raw` as a URL, or says why it is not one.
pub(crate) fn parse_any(raw: &str, what: &'static str) -> Result<Url, QueueError> {
    Url::parse(raw).map_err(|err| QueueError::InvalidUrl {
        what,
        // An unparsable URL may hold a password in any position: show none of it.
        url: "<unparsable>".to_owned(),
        reason: format!("not a URL ({err})"),
    })
}

pub(crate) fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn expect_params(url: &Url, known: &[&str]) -> Result<(), String> {
    for (key, _) in url.query_pairs() {
        if !known.contains(&key.as_ref()) {
            let accepted = if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            };
            return Err(format!(
                "unknown parameter `{key}` (accepted for {}://: {accepted})",
                url.scheme()
            ));
        }
    }
    Ok(())
}

/// The URL with its password replaced by `***`, so that it can be logged.
pub(crate) fn mask(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}
