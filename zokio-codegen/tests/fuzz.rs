//! Property-based fuzzing of both configuration front ends (issue 8): the
//! `zokio.toml` path (`resolve_toml`, `generate`, `render_problems`) and the
//! macro path (`zokio_codegen::runtime` on token streams). Whatever the
//! input, nothing panics, and the result is either valid Rust or problems
//! whose spans lie inside the input (on character boundaries, so the
//! renderer can underline them).
//!
//! Inputs are arbitrary text, and text built from the real keys and values
//! with random mutations (so the search reaches validation and code
//! generation, not only the TOML or Rust tokenizer). `ZOKIO_FUZZ_CASES`
//! sets the number of cases per property (256 by default, which keeps CI
//! short); `ZOKIO_FUZZ_CASES=100000 cargo test --release -p zokio-codegen
//! --test fuzz` is a longer run.

use std::str::FromStr;

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

use zokio_codegen::schema_model::keys::{KEYS, KeyKind};
use zokio_codegen::schema_model::{Origin, resolve_toml};

fn config() -> Config {
    let cases = std::env::var("ZOKIO_FUZZ_CASES")
        .ok()
        .and_then(|text| text.replace('_', "").parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        // Failures are reported with the input; nothing written to the tree.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// Values worth trying for a key: valid ones, edge cases and nonsense.
fn value_for(kind: &KeyKind) -> BoxedStrategy<String> {
    let nonsense = prop_oneof![
        Just("\"\"".to_owned()),
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1.5".to_owned()),
        Just("true".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("\"\u{e9}\u{1F600}\"".to_owned()),
        "\"[a-z0-9 ._-]{0,12}\"",
        any::<i64>().prop_map(|n| n.to_string()),
    ];
    let quoted = |names: &'static [&'static str]| {
        prop::sample::select(names)
            .prop_map(|n| format!("\"{n}\""))
            .boxed()
    };
    let plausible = match *kind {
        KeyKind::Group => Just("{}".to_owned()).boxed(),
        KeyKind::Name => quoted(&["AppRuntime", "Rt", "my_runtime", "9lives", "Self"]),
        KeyKind::Preset => quoted(&["low_latency", "throughput", "io_intensive", "latency"]),
        KeyKind::Flavor => quoted(&["multi_thread", "current_thread", "single"]),
        KeyKind::Workers => prop_oneof![
            Just("\"auto\"".to_owned()),
            (0u32..1100).prop_map(|n| n.to_string()),
        ]
        .boxed(),
        KeyKind::Backend => quoted(&["auto", "mio", "io_uring", "epoll"]),
        KeyKind::Bool => prop_oneof![Just("true".to_owned()), Just("false".to_owned())].boxed(),
        KeyKind::Int {
            min,
            max,
            power_of_two,
        } => {
            let (lo, hi) = (min.saturating_sub(1), max.saturating_add(1));
            if power_of_two {
                prop_oneof![
                    (0u32..18).prop_map(|p| (1u64 << p).to_string()),
                    (u64::from(lo)..=u64::from(hi)).prop_map(|n| n.to_string()),
                ]
                .boxed()
            } else {
                (u64::from(lo)..=u64::from(hi))
                    .prop_map(|n| n.to_string())
                    .boxed()
            }
        }
        KeyKind::Duration { .. } => prop_oneof![
            (
                0u64..5000,
                prop::sample::select(&["ns", "us", "ms", "s", "m", "h", "d", ""][..])
            )
                .prop_map(|(n, unit)| format!("\"{n}{unit}\"")),
            Just("\"off\"".to_owned()),
        ]
        .boxed(),
        KeyKind::Size { .. } => prop_oneof![
            (
                0u64..5000,
                prop::sample::select(&["B", "KiB", "MiB", "GiB", "KB", " MiB", ""][..])
            )
                .prop_map(|(n, unit)| format!("\"{n}{unit}\"")),
            (0u64..1 << 40).prop_map(|n| n.to_string()),
        ]
        .boxed(),
    };
    prop_oneof![6 => plausible, 1 => nonsense].boxed()
}

/// One `key = value` assignment with a real key (sometimes misspelt).
fn assignment() -> impl Strategy<Value = (String, String)> {
    (0..KEYS.len(), any::<u8>()).prop_flat_map(|(index, typo)| {
        let key = KEYS[index];
        let path = if typo < 4 {
            // A typo: one character dropped.
            let mut p = key.path.to_owned();
            p.remove((typo as usize) % p.len());
            p
        } else {
            key.path.to_owned()
        };
        value_for(&key.kind).prop_map(move |value| (path.clone(), value))
    })
}

/// A TOML document: top-level keys, then `[group]` tables.
fn toml_document() -> impl Strategy<Value = String> {
    prop::collection::vec(assignment(), 0..10).prop_map(|entries| {
        let mut top = String::new();
        let mut groups: Vec<(String, String)> = Vec::new();
        for (path, value) in entries {
            match path.split_once('.') {
                Some((group, key)) => {
                    let line = format!("{key} = {value}\n");
                    match groups.iter_mut().find(|(g, _)| g == group) {
                        Some((_, body)) => body.push_str(&line),
                        None => groups.push((group.to_owned(), line)),
                    }
                }
                None => top.push_str(&format!("{path} = {value}\n")),
            }
        }
        for (group, body) in groups {
            top.push_str(&format!("\n[{group}]\n{body}"));
        }
        top
    })
}

/// Damages `text` at a few places: deletes, duplicates or inserts bytes
/// (keeping it UTF-8 by working on chars).
fn mutated(text: String) -> impl Strategy<Value = String> {
    let len = text.chars().count().max(1);
    prop::collection::vec((0..len, 0u8..4, any::<char>()), 0..4).prop_map(move |edits| {
        let mut chars: Vec<char> = text.chars().collect();
        for (at, op, c) in edits {
            let at = at.min(chars.len());
            match op {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 if at < chars.len() => {
                    let c = chars[at];
                    chars.insert(at, c);
                }
                2 => chars.insert(at, c),
                _ => chars.insert(at, ['=', '"', '[', ']', '\n', '{', ',', '.'][at % 8]),
            }
        }
        chars.into_iter().collect()
    })
}

fn any_toml() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => toml_document(),
        2 => toml_document().prop_flat_map(mutated),
        1 => "\\PC{0,200}",
        1 => any::<String>(),
    ]
}

/// Every problem's span is inside `text` and on char boundaries.
fn check_spans(text: &str, problems: &[zokio_codegen::schema_model::Problem<Origin>]) {
    for problem in problems {
        assert!(!problem.message.is_empty(), "a problem without a message");
        if let Some(Origin::File(range)) = &problem.span {
            assert!(
                range.start <= range.end && range.end <= text.len(),
                "span {range:?} outside a text of {} bytes: {problem:?}",
                text.len()
            );
            assert!(
                text.is_char_boundary(range.start) && text.is_char_boundary(range.end),
                "span {range:?} splits a character: {problem:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// `zokio.toml`: valid configurations generate Rust that parses; bad
    /// ones give problems inside the text, which the renderer can draw.
    #[test]
    fn toml_front_end_never_panics(text in any_toml(), linux in any::<bool>()) {
        let target = if linux { Some("linux") } else { Some("macos") };
        match resolve_toml(&text, |_| None, target) {
            Ok(_) => {
                let source = zokio_codegen::generate(&text, "zokio.toml", |_| None, target)
                    .expect("resolve_toml accepted it, generate must too");
                syn::parse_file(&source).expect("the generated source parses as Rust");
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                check_spans(&text, &problems);
                let report = zokio_codegen::render_problems(&text, "zokio.toml", &problems);
                prop_assert!(report.contains("error"), "{report}");
                let err = zokio_codegen::generate(&text, "zokio.toml", |_| None, target)
                    .expect_err("resolve_toml rejected it, generate must too");
                prop_assert_eq!(err.report(), report);
            }
        }
    }

    /// Environment overrides (`ZOKIO_<KEY>`) with arbitrary values.
    #[test]
    fn env_overrides_never_panic(
        text in toml_document(),
        overrides in prop::collection::vec((0..KEYS.len(), "\\PC{0,16}"), 0..4),
    ) {
        let env = |name: &str| {
            overrides
                .iter()
                .find(|(index, _)| KEYS[*index].env_var() == name)
                .map(|(_, value)| value.clone())
        };
        if let Err(problems) = resolve_toml(&text, env, Some("linux")) {
            check_spans(&text, &problems);
            let _ = zokio_codegen::render_problems(&text, "zokio.toml", &problems);
        }
    }

    /// `runtime! { ... }`: any token stream expands to items that parse
    /// (the runtime type, plus `compile_error!`s when the input is wrong).
    #[test]
    fn macro_front_end_never_panics(body in macro_body()) {
        check_macro(&body);
    }

    /// Arbitrary text that happens to tokenize.
    #[test]
    fn macro_front_end_takes_arbitrary_tokens(text in "\\PC{0,120}") {
        check_macro(&text);
    }
}

/// The text of a `runtime!` invocation's input: a name and braces around
/// `key = value` pairs and `group(key = value)` groups.
fn macro_body() -> impl Strategy<Value = String> {
    let pairs =
        prop::collection::vec(assignment(), 0..8).prop_map(|entries: Vec<(String, String)>| {
            let mut top = Vec::new();
            let mut groups: Vec<(String, Vec<String>)> = Vec::new();
            for (path, value) in entries {
                match path.split_once('.') {
                    Some((group, key)) => {
                        let pair = format!("{key} = {value}");
                        match groups.iter_mut().find(|(g, _)| g == group) {
                            Some((_, pairs)) => pairs.push(pair),
                            None => groups.push((group.to_owned(), vec![pair])),
                        }
                    }
                    None => top.push(format!("{path} = {value}")),
                }
            }
            for (group, pairs) in groups {
                top.push(format!("{group}({})", pairs.join(", ")));
            }
            format!("Rt {{ {} }}", top.join(", "))
        });
    let pairs = pairs.boxed();
    prop_oneof![3 => pairs.clone(), 2 => pairs.prop_flat_map(mutated)]
}

fn check_macro(text: &str) {
    // Text that does not tokenize never reaches the macro (rustc rejects it).
    let Ok(tokens) = proc_macro2::TokenStream::from_str(text) else {
        return;
    };
    let out = zokio_codegen::runtime(tokens);
    let file: syn::File = syn::parse2(out.clone())
        .unwrap_or_else(|e| panic!("expansion of {text:?} does not parse ({e}): {out}"));
    for item in &file.items {
        if let syn::Item::Macro(m) = item
            && m.mac
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "compile_error")
        {
            let message: syn::LitStr = m.mac.parse_body().expect("compile_error!(\"...\")");
            assert!(
                !message.value().is_empty(),
                "an empty compile_error! for {text:?}"
            );
        }
    }
}
