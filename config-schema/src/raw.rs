//! What a front end (the `runtime!` macro, an attribute, a TOML file, the
//! environment) hands to the validator: keys and values as written, each with
//! the span it came from. `S` is the front end's idea of a location (a
//! `proc_macro2::Span`, a byte range in a file, an environment variable name).

/// A value as written, before it is checked against the key it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue<S> {
    /// An integer literal (negative ones included, so they can be reported).
    Int(i128),
    /// A float literal.
    Float(f64),
    /// A string literal.
    Str(String),
    /// A boolean literal.
    Bool(bool),
    /// A bare key with no value (`metrics` in a macro): read as `true` for
    /// boolean keys and rejected elsewhere.
    Flag,
    /// A nested group of keys (`scheduler(...)` or a `[scheduler]` table).
    Group(Vec<RawEntry<S>>),
    /// Anything else, described for the error message ("an array", "an
    /// expression").
    Other(String),
}

impl<S> RawValue<S> {
    /// A short description of the value for error messages.
    pub fn describe(&self) -> String {
        match self {
            RawValue::Int(i) => format!("the integer {i}"),
            RawValue::Float(x) => format!("the number {x}"),
            RawValue::Str(s) => format!("the string {s:?}"),
            RawValue::Bool(b) => format!("the boolean {b}"),
            RawValue::Flag => "no value".to_owned(),
            RawValue::Group(_) => "a group of keys".to_owned(),
            RawValue::Other(what) => what.clone(),
        }
    }
}

/// One `key = value` as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry<S> {
    /// The key as written.
    pub key: String,
    /// Where the key was written.
    pub key_span: S,
    /// The value as written.
    pub value: RawValue<S>,
    /// Where the value was written.
    pub value_span: S,
}

impl<S: Clone> RawEntry<S> {
    /// An entry whose key and value share one span (environment overrides).
    pub fn new(key: impl Into<String>, value: RawValue<S>, span: S) -> Self {
        RawEntry {
            key: key.into(),
            key_span: span.clone(),
            value,
            value_span: span,
        }
    }
}
