//! A validation problem: what was wrong, where, and what is allowed.

use std::fmt;

/// One thing wrong with a configuration. Validation collects all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem<S> {
    /// Dotted key path (`scheduler.local_queue`), or empty for the whole input.
    pub path: String,
    /// What is wrong, naming the value and what is allowed.
    pub message: String,
    /// A suggestion ("did you mean `workers`?"), when there is one.
    pub help: Option<String>,
    /// Where the offending token was written, when known.
    pub span: Option<S>,
}

impl<S> Problem<S> {
    pub(crate) fn new(
        path: impl Into<String>,
        message: impl Into<String>,
        span: Option<S>,
    ) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
            help: None,
            span,
        }
    }

    pub(crate) fn with_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The same problem with its span converted by `f`.
    pub fn map_span<T>(self, f: impl FnOnce(S) -> T) -> Problem<T> {
        Problem {
            path: self.path,
            message: self.message,
            help: self.help,
            span: self.span.map(f),
        }
    }
}

impl<S> fmt::Display for Problem<S> {
    /// The message, then the help on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Returns the closest candidate to `input`, if any is close enough to be a
/// plausible typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(input, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let keys = ["workers", "flavor", "backend", "metrics"];
        assert_eq!(did_you_mean("worker", keys), Some("workers"));
        assert_eq!(did_you_mean("flavour", keys), Some("flavor"));
        assert_eq!(did_you_mean("backnd", keys), Some("backend"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }
}
