//! `zokio.toml` → raw entries with byte ranges, and environment overrides.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::keys::{KEYS, KeyKind};
use crate::problem::Problem;
use crate::raw::{RawEntry, RawValue};

/// Where a value in a file-based configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A byte range of the TOML text.
    File(Range<usize>),
    /// An environment variable (`ZOKIO_WORKERS`).
    Env(String),
}

/// Parses TOML text into raw entries. Syntax errors (including duplicate
/// keys, which TOML forbids) come back as problems with their byte range.
pub fn parse_toml(text: &str) -> Result<Vec<RawEntry<Origin>>, Vec<Problem<Origin>>> {
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .into_iter()
            .map(|e| {
                let message = e.message().trim_end().to_owned();
                let message = if message.contains("duplicate key") {
                    format!("{message}: a key may be set only once")
                } else {
                    message
                };
                Problem::new(
                    "",
                    format!("invalid TOML: {message}"),
                    e.span().map(Origin::File),
                )
            })
            .collect());
    }
    Ok(table_entries(table.get_ref()))
}

fn table_entries(table: &DeTable<'_>) -> Vec<RawEntry<Origin>> {
    let mut entries: Vec<RawEntry<Origin>> = table
        .iter()
        .map(|(key, value)| RawEntry {
            key: key.get_ref().to_string(),
            key_span: Origin::File(key.span()),
            value: convert(value.get_ref()),
            value_span: Origin::File(value.span()),
        })
        .collect();
    // Report in source order whatever order the map keeps.
    entries.sort_by_key(|e| match &e.key_span {
        Origin::File(r) => r.start,
        Origin::Env(_) => usize::MAX,
    });
    entries
}

fn convert(value: &DeValue<'_>) -> RawValue<Origin> {
    match value {
        DeValue::String(s) => RawValue::Str(s.to_string()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let (negative, digits) = match digits.strip_prefix('-') {
                Some(rest) => (true, rest.to_owned()),
                None => (false, digits.trim_start_matches('+').to_owned()),
            };
            // `as_str` holds the digits without a `0x`/`0o`/`0b` prefix.
            match i128::from_str_radix(&digits, i.radix()) {
                Ok(n) if negative => RawValue::Int(-n),
                Ok(n) => RawValue::Int(n),
                Err(_) => RawValue::Other(format!("the integer {}", i.as_str())),
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(x) => RawValue::Float(x),
            Err(_) => RawValue::Other(format!("the number {}", f.as_str())),
        },
        DeValue::Boolean(b) => RawValue::Bool(*b),
        DeValue::Datetime(d) => RawValue::Other(format!("the date-time {d}")),
        DeValue::Array(_) => RawValue::Other("an array".to_owned()),
        DeValue::Table(t) => RawValue::Group(table_entries(t)),
    }
}

/// Applies `ZOKIO_<KEY>` overrides read through `lookup` on top of the file's
/// entries. A value that parses as an integer or boolean is taken as one;
/// anything else is a string, validated like a file value.
pub fn apply_env_overrides(
    mut entries: Vec<RawEntry<Origin>>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<RawEntry<Origin>> {
    for def in KEYS.iter().filter(|k| k.kind != KeyKind::Group) {
        let var = def.env_var();
        let Some(text) = lookup(&var) else { continue };
        let value = if let Ok(n) = text.trim().parse::<i128>() {
            RawValue::Int(n)
        } else if let Ok(b) = text.trim().parse::<bool>() {
            RawValue::Bool(b)
        } else {
            RawValue::Str(text.trim().to_owned())
        };
        let entry = RawEntry::new(def.name(), value, Origin::Env(var.clone()));
        let group_entries = if def.parent().is_empty() {
            &mut entries
        } else {
            let pos = match entries.iter().position(|e| e.key == def.parent()) {
                Some(pos) => pos,
                None => {
                    entries.push(RawEntry::new(
                        def.parent(),
                        RawValue::Group(Vec::new()),
                        Origin::Env(var.clone()),
                    ));
                    entries.len() - 1
                }
            };
            match &mut entries[pos].value {
                RawValue::Group(inner) => inner,
                // The file wrote a scalar where a group belongs; validation
                // reports that, and the override has nowhere to go.
                _ => continue,
            }
        };
        // An override replaces the file's value instead of duplicating it.
        group_entries.retain(|e| e.key != def.name());
        group_entries.push(entry);
    }
    entries
}

/// Converts byte offsets into 1-based line and column numbers.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }

    /// The 1-based (line, column) of `offset`; columns count characters.
    pub fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = text[start..offset.min(text.len())].chars().count() + 1;
        (line + 1, column)
    }
}
