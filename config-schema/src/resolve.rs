//! Raw entries → a [`RuntimeConfig`], collecting every problem on the way.

use std::collections::HashMap;
use std::time::Duration;

use crate::keys::{self, KeyDef, KeyKind, WORKERS_MAX};
use crate::model::{Backend, Flavor, Preset, RuntimeConfig, Workers, format_duration, format_size};
use crate::problem::{Problem, did_you_mean};
use crate::raw::{RawEntry, RawValue};
use crate::units::{self, DURATION_UNIT_NAMES, SIZE_UNIT_NAMES, UnitError};

/// What the front end allows and knows.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions<'a> {
    /// Whether the `name` key may appear (zokio.toml: yes; macros: no, the
    /// name is written before the braces).
    pub allow_name: bool,
    /// The target operating system, when the front end knows it (build
    /// scripts do; proc-macros run on the host and emit a `cfg`'d check
    /// instead).
    pub target_os: Option<&'a str>,
    /// The defaults to start from before any preset or key (a `#[zokio::test]`
    /// starts from a current-thread runtime).
    pub base: Option<RuntimeConfig>,
}

/// The outcome of a successful resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The effective configuration.
    pub config: RuntimeConfig,
    /// The `name` key, when given.
    pub name: Option<String>,
}

/// A checked value, not yet applied.
#[derive(Debug, Clone)]
enum Typed {
    Name(String),
    Preset(Preset),
    Flavor(Flavor),
    Workers(Workers),
    Backend(Backend),
    Bool(bool),
    Int(u32),
    Duration(Duration),
    Size(u64),
}

/// Validates `entries` and produces the effective configuration, or every
/// problem found (never only the first).
pub fn resolve<S: Clone>(
    entries: &[RawEntry<S>],
    options: &ResolveOptions<'_>,
) -> Result<Resolved, Vec<Problem<S>>> {
    let mut problems = Vec::new();
    let mut typed: Vec<(&'static KeyDef, Typed, S)> = Vec::new();
    collect("", entries, options, &mut typed, &mut problems);

    let preset = typed.iter().find_map(|(_, v, _)| match v {
        Typed::Preset(p) => Some(*p),
        _ => None,
    });
    let mut config = match preset {
        Some(p) => RuntimeConfig {
            flavor: options
                .base
                .as_ref()
                .map_or(p.config().flavor, |b| b.flavor),
            workers: options
                .base
                .as_ref()
                .map_or(p.config().workers, |b| b.workers),
            ..p.config()
        },
        None => options.base.clone().unwrap_or_default(),
    };
    let mut name = None;
    for (def, value, _) in &typed {
        apply(&mut config, &mut name, def.path, value.clone());
    }

    // Cross-key rules.
    let flavor_explicit = typed.iter().any(|(d, _, _)| d.path == "flavor");
    if config.flavor == Flavor::CurrentThread {
        if let Some((_, Typed::Workers(w), span)) =
            typed.iter().find(|(d, _, _)| d.path == "workers")
            && *w != Workers::Fixed(1)
        {
            let why = if flavor_explicit {
                "`flavor = \"current_thread\"`"
            } else {
                "the current_thread flavor (the default here)"
            };
            problems.push(
                Problem::new(
                    "workers",
                    format!(
                        "`workers = {w}` conflicts with {why}, which runs every task on one thread"
                    ),
                    Some(span.clone()),
                )
                .with_help(Some(
                    "remove `workers`, or use `flavor = \"multi_thread\"` to run several workers"
                        .to_owned(),
                )),
            );
        }
        config.workers = Workers::Fixed(1);
    }
    if config.backend == Backend::Mio {
        // Keys that only tune io_uring would be silently ignored.
        for (def, _, span) in typed
            .iter()
            .filter(|(d, _, _)| d.path.starts_with("io.uring_"))
        {
            let name = def.name();
            problems.push(
                Problem::new(
                    def.path,
                    format!(
                        "`{name}` tunes io_uring, and `backend = \"mio\"` never creates a ring"
                    ),
                    Some(span.clone()),
                )
                .with_help(Some(format!(
                    "remove `{name}`, or use `backend = \"io_uring\"` (or \"auto\")"
                ))),
            );
        }
    }
    if let (Some(os), Backend::IoUring) = (options.target_os, config.backend)
        && os != "linux"
    {
        let span = typed
            .iter()
            .find(|(d, _, _)| d.path == "backend")
            .map(|(_, _, s)| s.clone());
        problems.push(
                Problem::new(
                    "backend",
                    format!("`backend = \"io_uring\"` is only available on Linux, but the target OS is `{os}`"),
                    span,
                )
                .with_help(Some("use `backend = \"auto\"` or `backend = \"mio\"`".to_owned())),
            );
    }

    if problems.is_empty() {
        Ok(Resolved { config, name })
    } else {
        Err(problems)
    }
}

fn join(group: &str, key: &str) -> String {
    if group.is_empty() {
        key.to_owned()
    } else {
        format!("{group}.{key}")
    }
}

fn collect<S: Clone>(
    group: &str,
    entries: &[RawEntry<S>],
    options: &ResolveOptions<'_>,
    typed: &mut Vec<(&'static KeyDef, Typed, S)>,
    problems: &mut Vec<Problem<S>>,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for entry in entries {
        let path = join(group, &entry.key);
        let Some(def) = keys::key(&path).filter(|d| options.allow_name || d.kind != KeyKind::Name)
        else {
            problems.push(unknown_key(group, &path, entry, options));
            continue;
        };
        let count = seen.entry(def.name()).or_default();
        *count += 1;
        if *count > 1 {
            problems.push(
                Problem::new(
                    path.clone(),
                    format!("duplicate key `{path}`: it is set more than once"),
                    Some(entry.key_span.clone()),
                )
                .with_help(Some("keep one of the settings".to_owned())),
            );
            continue;
        }
        match (&def.kind, &entry.value) {
            (KeyKind::Group, RawValue::Group(inner)) => {
                collect(&path, inner, options, typed, problems)
            }
            (KeyKind::Group, other) => {
                let inner: Vec<_> = keys::keys_in(&path).map(|k| k.name()).collect();
                problems.push(Problem::new(
                    path.clone(),
                    format!(
                        "`{path}` is a group of keys, not a single value (found {}); its keys are: {}",
                        other.describe(),
                        inner.join(", ")
                    ),
                    Some(entry.value_span.clone()),
                ));
            }
            (_, RawValue::Group(_)) => problems.push(Problem::new(
                path.clone(),
                format!(
                    "`{path}` takes a single value, not a group of keys; {}",
                    expectation(def)
                ),
                Some(entry.key_span.clone()),
            )),
            (kind, value) => match check_value(def, kind, value) {
                Ok(v) => typed.push((def, v, entry.value_span.clone())),
                Err((message, help)) => {
                    problems.push(
                        Problem::new(path, message, Some(entry.value_span.clone())).with_help(help),
                    );
                }
            },
        }
    }
}

fn unknown_key<S: Clone>(
    group: &str,
    path: &str,
    entry: &RawEntry<S>,
    options: &ResolveOptions<'_>,
) -> Problem<S> {
    if path == "name" {
        return Problem::new(
            path,
            "`name` cannot be set here: the type's name is written before the braces, as in `runtime! { pub AppRuntime { ... } }`",
            Some(entry.key_span.clone()),
        );
    }
    let candidates: Vec<&str> = keys::keys_in(group)
        .filter(|k| options.allow_name || k.kind != KeyKind::Name)
        .map(|k| k.name())
        .collect();
    let where_ = if group.is_empty() {
        "a runtime configuration".to_owned()
    } else {
        format!("`{group}`")
    };
    // A key from another group written at the wrong level is a likely mistake.
    let elsewhere = keys::KEYS
        .iter()
        .find(|k| k.name() == entry.key && k.parent() != group && k.kind != KeyKind::Group);
    // tokio's attribute keys, which a port brings along.
    let from_tokio = match (group, entry.key.as_str()) {
        ("", "worker_threads") => Some(match &entry.value {
            RawValue::Int(n) => format!("zokio calls it `workers`: `workers = {n}`"),
            _ => "zokio calls it `workers`".to_owned(),
        }),
        ("", "start_paused") => Some(
            "`start_paused` is a `#[zokio::test]` setting (with zokio's `test-util` \
             feature), not a runtime key; elsewhere call `zokio::time::pause()`"
                .to_owned(),
        ),
        ("", "crate") => {
            Some("the generated code always names the crate `::zokio`; remove `crate`".to_owned())
        }
        _ => None,
    };
    let help = match (
        did_you_mean(&entry.key, candidates.iter().copied()),
        elsewhere,
    ) {
        _ if from_tokio.is_some() => from_tokio,
        (Some(s), _) => Some(format!("did you mean `{s}`?")),
        (None, Some(k)) => Some(format!(
            "`{}` belongs in the `{}` group",
            k.name(),
            k.parent()
        )),
        (None, None) => Some(format!(
            "the keys of {where_} are: {}",
            candidates.join(", ")
        )),
    };
    Problem::new(
        path,
        format!("unknown key `{}` in {where_}", entry.key),
        Some(entry.key_span.clone()),
    )
    .with_help(help)
}

/// What the key accepts, as a phrase for messages.
pub(crate) fn expectation(def: &KeyDef) -> String {
    match def.kind {
        KeyKind::Group => format!("`{}` is a group of keys", def.path),
        KeyKind::Name => "expected a Rust identifier such as \"AppRuntime\"".to_owned(),
        KeyKind::Preset => format!("expected one of {}", quoted(Preset::ALLOWED)),
        KeyKind::Flavor => format!("expected one of {}", quoted(Flavor::ALLOWED)),
        KeyKind::Backend => format!("expected one of {}", quoted(Backend::ALLOWED)),
        KeyKind::Workers => format!("expected an integer from 1 to {WORKERS_MAX}, or \"auto\""),
        KeyKind::Bool => "expected `true` or `false`".to_owned(),
        KeyKind::Int {
            min,
            max,
            power_of_two: false,
        } => format!("expected an integer from {min} to {max}"),
        KeyKind::Int {
            min,
            max,
            power_of_two: true,
        } => format!("expected a power of two from {min} to {max}"),
        KeyKind::Duration { min, max } => format!(
            "expected a duration from \"{}\" to \"{}\" such as \"{}\" (units: {DURATION_UNIT_NAMES})",
            format_duration(min),
            format_duration(max),
            format_duration(min.max(Duration::from_millis(10)).min(max)),
        ),
        KeyKind::Size { min, max } => format!(
            "expected a size from \"{}\" to \"{}\" such as \"2MiB\" (units: {SIZE_UNIT_NAMES})",
            format_size(min),
            format_size(max)
        ),
    }
}

fn quoted(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    match q.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

type CheckError = (String, Option<String>);

fn wrong_type<S>(def: &KeyDef, value: &RawValue<S>) -> CheckError {
    // A bare word where a string belongs (`flavor = current_thread`, from a
    // macro): the fix is the quotes.
    let takes_string = matches!(
        def.kind,
        KeyKind::Name
            | KeyKind::Preset
            | KeyKind::Flavor
            | KeyKind::Backend
            | KeyKind::Workers
            | KeyKind::Duration { .. }
            | KeyKind::Size { .. }
    );
    let help = match value {
        RawValue::Other(what) if takes_string => what
            .strip_prefix("the path `")
            .and_then(|rest| rest.strip_suffix('`'))
            .filter(|word| is_identifier(word))
            .map(|word| format!("write it as a string: `{} = \"{word}\"`", def.name())),
        _ => None,
    };
    (
        format!(
            "`{}` {}, found {}",
            def.path,
            expectation(def),
            value.describe()
        ),
        help,
    )
}

fn pick_word(def: &KeyDef, what: &str, text: &str, allowed: &[&str]) -> CheckError {
    let help =
        did_you_mean(text, allowed.iter().copied()).map(|s| format!("did you mean \"{s}\"?"));
    (
        format!(
            "unknown {what} \"{text}\" for `{}`; expected one of {}",
            def.path,
            quoted(allowed)
        ),
        help,
    )
}

fn check_value<S>(def: &KeyDef, kind: &KeyKind, value: &RawValue<S>) -> Result<Typed, CheckError> {
    match (kind, value) {
        (KeyKind::Name, RawValue::Str(s)) => {
            if is_identifier(s) {
                Ok(Typed::Name(s.clone()))
            } else {
                Err((
                    format!("`name = \"{s}\"` is not a valid Rust type name"),
                    Some("use an identifier such as \"AppRuntime\"".to_owned()),
                ))
            }
        }
        (KeyKind::Preset, RawValue::Str(s)) => Preset::parse(s)
            .map(Typed::Preset)
            .ok_or_else(|| pick_word(def, "preset", s, Preset::ALLOWED)),
        (KeyKind::Flavor, RawValue::Str(s)) => Flavor::parse(s)
            .map(Typed::Flavor)
            .ok_or_else(|| pick_word(def, "flavor", s, Flavor::ALLOWED)),
        (KeyKind::Backend, RawValue::Str(s)) => Backend::parse(s)
            .map(Typed::Backend)
            .ok_or_else(|| pick_word(def, "backend", s, Backend::ALLOWED)),
        (KeyKind::Workers, RawValue::Str(s)) if s == "auto" => Ok(Typed::Workers(Workers::Auto)),
        (KeyKind::Workers, RawValue::Str(s)) => Err((
            format!("`workers` {}, found the string {s:?}", expectation(def)),
            s.parse::<u32>()
                .ok()
                .map(|n| format!("write the number without quotes: `workers = {n}`")),
        )),
        (KeyKind::Workers, RawValue::Int(n)) => {
            check_range(def, *n, 1, WORKERS_MAX, false).map(|n| Typed::Workers(Workers::Fixed(n)))
        }
        (KeyKind::Bool, RawValue::Bool(b)) => Ok(Typed::Bool(*b)),
        (KeyKind::Bool, RawValue::Flag) => Ok(Typed::Bool(true)),
        (KeyKind::Bool, RawValue::Str(s)) if s == "true" || s == "false" => Err((
            format!(
                "`{}` {}, found the string {s:?}",
                def.path,
                expectation(def)
            ),
            Some(format!("remove the quotes: `{} = {s}`", def.name())),
        )),
        (
            &KeyKind::Int {
                min,
                max,
                power_of_two,
            },
            RawValue::Int(n),
        ) => check_range(def, *n, min, max, power_of_two).map(Typed::Int),
        (KeyKind::Int { .. }, RawValue::Str(s)) if s.parse::<i128>().is_ok() => Err((
            format!(
                "`{}` {}, found the string {s:?}",
                def.path,
                expectation(def)
            ),
            Some(format!("remove the quotes: `{} = {s}`", def.name())),
        )),
        (&KeyKind::Duration { min, max }, RawValue::Str(s)) => match units::parse_duration(s) {
            Ok(d) if d >= min && d <= max => Ok(Typed::Duration(d)),
            Ok(d) => Err((
                format!(
                    "`{} = \"{s}\"` is out of range: {} (found {})",
                    def.path,
                    expectation(def),
                    format_duration(d)
                ),
                None,
            )),
            Err(e) => Err((
                format!(
                    "`{}` cannot read \"{s}\" as a duration: {}",
                    def.path,
                    unit_error(&e, DURATION_UNIT_NAMES)
                ),
                Some(
                    "write a number followed by a unit, for example \"10ms\", \"10s\" or \"1m30s\""
                        .to_owned(),
                ),
            )),
        },
        (&KeyKind::Duration { min, max }, RawValue::Int(n)) => {
            // Suggest only the spellings that would be accepted.
            let fits: Vec<String> = [("ms", 1_000_000u128), ("s", 1_000_000_000)]
                .into_iter()
                .filter(|(_, scale)| {
                    u128::try_from(*n).is_ok_and(|n| {
                        let nanos = n.saturating_mul(*scale);
                        nanos >= min.as_nanos() && nanos <= max.as_nanos()
                    })
                })
                .map(|(unit, _)| format!("`{} = \"{n}{unit}\"`", def.name()))
                .collect();
            let help = if fits.is_empty() {
                "durations are strings with a unit, such as \"10ms\"".to_owned()
            } else {
                format!("add a unit: {}", fits.join(" or "))
            };
            Err((
                format!(
                    "`{}` {}, found the integer {n} with no unit",
                    def.path,
                    expectation(def)
                ),
                Some(help),
            ))
        }
        (&KeyKind::Size { min, max }, RawValue::Str(s)) => match units::parse_size(s) {
            Ok(b) if b >= min && b <= max => Ok(Typed::Size(b)),
            Ok(b) => Err((
                format!(
                    "`{} = \"{s}\"` is out of range: {} (found {})",
                    def.path,
                    expectation(def),
                    format_size(b)
                ),
                None,
            )),
            Err(e) => Err((
                format!(
                    "`{}` cannot read \"{s}\" as a size: {}",
                    def.path,
                    unit_error(&e, SIZE_UNIT_NAMES)
                ),
                Some(
                    "write a number followed by a unit, for example \"2MiB\" or \"512KiB\""
                        .to_owned(),
                ),
            )),
        },
        (&KeyKind::Size { min, max }, RawValue::Int(n)) => {
            // A plain integer is a byte count.
            match u64::try_from(*n) {
                Ok(b) if b >= min && b <= max => Ok(Typed::Size(b)),
                _ => Err((
                    format!("`{} = {n}` is out of range: {}", def.path, expectation(def)),
                    None,
                )),
            }
        }
        (_, RawValue::Flag) => Err((
            format!("`{}` needs a value: {}", def.path, expectation(def)),
            None,
        )),
        (_, value) => Err(wrong_type(def, value)),
    }
}

fn unit_error(e: &UnitError, units: &str) -> String {
    match e {
        UnitError::Empty => "the text is empty".to_owned(),
        UnitError::MissingNumber(_) => "expected a number".to_owned(),
        UnitError::MissingUnit(_) => format!("the number has no unit (units: {units})"),
        UnitError::UnknownUnit(u) => format!("`{u}` is not a unit (units: {units})"),
        UnitError::Overflow => "the value is too large".to_owned(),
    }
}

fn check_range(
    def: &KeyDef,
    n: i128,
    min: u32,
    max: u32,
    power_of_two: bool,
) -> Result<u32, CheckError> {
    let in_range = n >= i128::from(min) && n <= i128::from(max);
    let pow2_ok = !power_of_two || (n > 0 && (n as u128).is_power_of_two());
    if in_range && pow2_ok {
        return Ok(n as u32);
    }
    let allowed = if power_of_two {
        format!("a power of two from {min} to {max}")
    } else {
        format!("from {min} to {max}")
    };
    let help = if power_of_two && in_range {
        let below = 1u64 << (63 - (n as u64).leading_zeros());
        let above = below * 2;
        let mut options: Vec<String> = Vec::new();
        if below >= u64::from(min) {
            options.push(below.to_string());
        }
        if above <= u64::from(max) {
            options.push(above.to_string());
        }
        Some(format!(
            "the nearest allowed values are {}",
            options.join(" and ")
        ))
    } else if def.path == "workers" && n == 0 {
        Some("use `workers = \"auto\"` for one worker per available CPU".to_owned())
    } else {
        None
    };
    Err((
        format!("`{} = {n}` is out of range: must be {allowed}", def.path),
        help,
    ))
}

fn is_identifier(s: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait",
        "true", "type", "unsafe", "use", "where", "while", "gen",
    ];
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s != "_"
        && !KEYWORDS.contains(&s)
}

fn apply(config: &mut RuntimeConfig, name: &mut Option<String>, path: &str, value: Typed) {
    match (path, value) {
        ("name", Typed::Name(n)) => *name = Some(n),
        ("preset", Typed::Preset(p)) => config.preset = Some(p),
        ("flavor", Typed::Flavor(f)) => config.flavor = f,
        ("workers", Typed::Workers(w)) => config.workers = w,
        ("backend", Typed::Backend(b)) => config.backend = b,
        ("metrics", Typed::Bool(b)) => config.metrics = b,
        ("detect_blocking", Typed::Duration(d)) => config.detect_blocking = Some(d),
        ("scheduler.local_queue", Typed::Int(n)) => config.scheduler.local_queue = n,
        ("scheduler.global_queue_interval", Typed::Int(n)) => {
            config.scheduler.global_queue_interval = n
        }
        ("scheduler.event_interval", Typed::Int(n)) => config.scheduler.event_interval = n,
        ("scheduler.lifo_slot", Typed::Bool(b)) => config.scheduler.lifo_slot = b,
        ("scheduler.budget", Typed::Int(n)) => config.scheduler.budget = n,
        ("io.events_per_tick", Typed::Int(n)) => config.io.events_per_tick = n,
        ("io.uring_entries", Typed::Int(n)) => config.io.uring_entries = n,
        ("io.uring_sqpoll", Typed::Duration(d)) => config.io.uring_sqpoll = Some(d),
        ("timer.resolution", Typed::Duration(d)) => config.timer.resolution = d,
        ("blocking.max_threads", Typed::Int(n)) => config.blocking.max_threads = n,
        ("blocking.keep_alive", Typed::Duration(d)) => config.blocking.keep_alive = d,
        ("blocking.stack_size", Typed::Size(s)) => config.blocking.stack_size = s,
        (path, value) => unreachable!("key table and apply() disagree on `{path}` ({value:?})"),
    }
}
