use std::time::Duration;

use super::*;

/// Spans in these tests are just the entry's position, to check where a
/// problem points.
fn entry(key: &str, value: RawValue<u32>, span: u32) -> RawEntry<u32> {
    RawEntry {
        key: key.to_owned(),
        key_span: span,
        value,
        value_span: span + 1000,
    }
}

fn int(key: &str, n: i128, span: u32) -> RawEntry<u32> {
    entry(key, RawValue::Int(n), span)
}

fn string(key: &str, s: &str, span: u32) -> RawEntry<u32> {
    entry(key, RawValue::Str(s.to_owned()), span)
}

fn group(key: &str, inner: Vec<RawEntry<u32>>, span: u32) -> RawEntry<u32> {
    entry(key, RawValue::Group(inner), span)
}

fn macro_options() -> ResolveOptions<'static> {
    ResolveOptions::default()
}

fn problems(entries: &[RawEntry<u32>]) -> Vec<Problem<u32>> {
    resolve(entries, &macro_options()).expect_err("configuration should be rejected")
}

#[test]
fn empty_input_gives_defaults() {
    let r = resolve::<u32>(&[], &macro_options()).unwrap();
    assert_eq!(r.config, RuntimeConfig::default());
    assert_eq!(r.name, None);
}

#[test]
fn every_key_is_applied() {
    let entries = vec![
        string("flavor", "multi_thread", 1),
        int("workers", 3, 2),
        string("backend", "io_uring", 3),
        entry("metrics", RawValue::Bool(true), 4),
        string("detect_blocking", "25ms", 9),
        group(
            "scheduler",
            vec![
                int("local_queue", 64, 10),
                int("global_queue_interval", 7, 11),
                int("event_interval", 9, 12),
                entry("lifo_slot", RawValue::Bool(false), 13),
                int("budget", 32, 14),
            ],
            5,
        ),
        group(
            "io",
            vec![
                int("events_per_tick", 77, 20),
                int("uring_entries", 512, 21),
            ],
            6,
        ),
        group("timer", vec![string("resolution", "5ms", 30)], 7),
        group(
            "blocking",
            vec![
                int("max_threads", 9, 40),
                string("keep_alive", "1m", 41),
                string("stack_size", "4MiB", 42),
            ],
            8,
        ),
    ];
    let c = resolve(&entries, &macro_options()).unwrap().config;
    assert_eq!(c.workers, Workers::Fixed(3));
    assert_eq!(c.backend, Backend::IoUring);
    assert!(c.metrics);
    assert_eq!(c.detect_blocking, Some(Duration::from_millis(25)));
    assert_eq!(
        c.scheduler,
        SchedulerConfig {
            local_queue: 64,
            global_queue_interval: 7,
            event_interval: 9,
            lifo_slot: false,
            budget: 32
        }
    );
    assert_eq!(c.io.events_per_tick, 77);
    assert_eq!(c.io.uring_entries, 512);
    assert_eq!(c.timer.resolution, Duration::from_millis(5));
    assert_eq!(c.blocking.max_threads, 9);
    assert_eq!(c.blocking.keep_alive, Duration::from_secs(60));
    assert_eq!(c.blocking.stack_size, 4 << 20);
}

#[test]
fn workers_zero_names_key_value_and_range_at_the_value() {
    let p = problems(&[int("workers", 0, 5)]);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].path, "workers");
    assert_eq!(
        p[0].message,
        "`workers = 0` is out of range: must be from 1 to 1024"
    );
    assert_eq!(p[0].span, Some(1005), "points at the value");
}

#[test]
fn all_problems_are_reported_at_once() {
    let p = problems(&[
        int("workers", 0, 1),
        string("flavor", "mutli_thread", 2),
        group(
            "scheduler",
            vec![int("local_queue", 100, 3), int("budget", 0, 4)],
            5,
        ),
        int("wrokers", 2, 6),
    ]);
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "workers",
            "flavor",
            "scheduler.local_queue",
            "scheduler.budget",
            "wrokers"
        ]
    );
}

#[test]
fn misspelt_keys_get_suggestions_at_every_level() {
    let p = problems(&[
        int("worker", 2, 1),
        group("schedular", vec![], 2),
        group("scheduler", vec![int("local_queu", 256, 3)], 4),
    ]);
    assert_eq!(p[0].help.as_deref(), Some("did you mean `workers`?"));
    assert_eq!(p[0].span, Some(1), "points at the key");
    assert_eq!(p[1].help.as_deref(), Some("did you mean `scheduler`?"));
    assert_eq!(p[2].message, "unknown key `local_queu` in `scheduler`");
    assert_eq!(p[2].help.as_deref(), Some("did you mean `local_queue`?"));
}

#[test]
fn key_in_wrong_group_says_where_it_belongs() {
    let p = problems(&[int("local_queue", 256, 1)]);
    assert_eq!(
        p[0].help.as_deref(),
        Some("`local_queue` belongs in the `scheduler` group")
    );
}

#[test]
fn duplicates_are_rejected_at_the_second_key() {
    let p = problems(&[int("workers", 2, 1), int("workers", 4, 2)]);
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0].message,
        "duplicate key `workers`: it is set more than once"
    );
    assert_eq!(p[0].span, Some(2));
}

#[test]
fn non_power_of_two_suggests_neighbours() {
    let p = problems(&[group("scheduler", vec![int("local_queue", 100, 1)], 2)]);
    assert_eq!(
        p[0].message,
        "`scheduler.local_queue = 100` is out of range: must be a power of two from 4 to 65536"
    );
    assert_eq!(
        p[0].help.as_deref(),
        Some("the nearest allowed values are 64 and 128")
    );
    let p = problems(&[group("io", vec![int("uring_entries", 65536, 1)], 2)]);
    assert!(p[0].message.contains("from 2 to 32768"), "{}", p[0].message);
}

#[test]
fn wrong_types_name_what_was_expected_and_found() {
    let p = problems(&[
        string("metrics", "yes", 1),
        int("flavor", 1, 2),
        group("timer", vec![int("resolution", 10, 3)], 4),
        string("workers", "8", 5),
    ]);
    assert_eq!(
        p[0].message,
        "`metrics` expected `true` or `false`, found the string \"yes\""
    );
    assert_eq!(
        p[1].message,
        "`flavor` expected one of \"current_thread\" or \"multi_thread\", found the integer 1"
    );
    assert!(
        p[2].message.contains("found the integer 10 with no unit"),
        "{}",
        p[2].message
    );
    assert_eq!(
        p[3].help.as_deref(),
        Some("write the number without quotes: `workers = 8`")
    );
}

#[test]
fn detect_blocking_is_off_by_default_and_checked_like_a_duration() {
    assert_eq!(RuntimeConfig::default().detect_blocking, None);
    let p = problems(&[string("detect_blocking", "0ms", 1)]);
    assert!(
        p[0].message
            .starts_with("`detect_blocking = \"0ms\"` is out of range"),
        "{}",
        p[0].message
    );
    let p = problems(&[int("detect_blocking", 10, 1)]);
    assert!(
        p[0].message.contains("found the integer 10 with no unit"),
        "{}",
        p[0].message
    );
    let p = problems(&[string("detect_blocking", "soon", 1)]);
    assert!(
        p[0].message.contains("cannot read \"soon\" as a duration"),
        "{}",
        p[0].message
    );
}

#[test]
fn unknown_words_get_suggestions() {
    let p = problems(&[
        string("backend", "uring", 1),
        string("preset", "throughput!", 2),
    ]);
    assert_eq!(
        p[0].message,
        "unknown backend \"uring\" for `backend`; expected one of \"mio\", \"io_uring\" or \"auto\""
    );
    assert_eq!(p[0].help.as_deref(), Some("did you mean \"io_uring\"?"));
    assert_eq!(p[1].help.as_deref(), Some("did you mean \"throughput\"?"));
}

#[test]
fn durations_and_sizes_are_checked() {
    let p = problems(&[
        group("timer", vec![string("resolution", "1 fortnight", 1)], 2),
        group(
            "blocking",
            vec![
                string("keep_alive", "0s", 3),
                string("stack_size", "16KiB", 4),
            ],
            5,
        ),
    ]);
    assert!(
        p[0].message.contains("`fortnight` is not a unit"),
        "{}",
        p[0].message
    );
    assert!(
        p[1].message
            .starts_with("`blocking.keep_alive = \"0s\"` is out of range"),
        "{}",
        p[1].message
    );
    assert!(
        p[2].message.contains("from \"64KiB\" to \"1GiB\""),
        "{}",
        p[2].message
    );
}

#[test]
fn current_thread_conflicts_with_workers() {
    let p = problems(&[string("flavor", "current_thread", 1), int("workers", 4, 2)]);
    assert_eq!(
        p[0].message,
        "`workers = 4` conflicts with `flavor = \"current_thread\"`, which runs every task on one thread"
    );
    assert_eq!(p[0].span, Some(1002));
    // One worker is consistent with current_thread.
    let ok = resolve(
        &[string("flavor", "current_thread", 1), int("workers", 1, 2)],
        &macro_options(),
    )
    .unwrap();
    assert_eq!(ok.config.workers, Workers::Fixed(1));
}

#[test]
fn presets_set_defaults_that_keys_override() {
    let r = resolve(
        &[
            string("preset", "throughput", 1),
            group("scheduler", vec![int("budget", 7, 2)], 3),
        ],
        &macro_options(),
    )
    .unwrap();
    let throughput = Preset::Throughput.config();
    assert_eq!(r.config.preset, Some(Preset::Throughput));
    assert_eq!(
        r.config.scheduler.local_queue,
        throughput.scheduler.local_queue
    );
    assert_eq!(r.config.scheduler.budget, 7);
}

#[test]
fn name_is_only_allowed_where_the_front_end_says_so() {
    let p = problems(&[string("name", "Rt", 1)]);
    assert!(
        p[0].message.starts_with("`name` cannot be set here"),
        "{}",
        p[0].message
    );
    let bad = resolve(
        &[string("name", "fn", 1)],
        &ResolveOptions {
            allow_name: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        bad[0].message,
        "`name = \"fn\"` is not a valid Rust type name"
    );
}

#[test]
fn io_uring_is_rejected_for_non_linux_targets() {
    let opts = ResolveOptions {
        target_os: Some("macos"),
        ..Default::default()
    };
    let p = resolve(&[string("backend", "io_uring", 1)], &opts).unwrap_err();
    assert!(
        p[0].message.contains("only available on Linux"),
        "{}",
        p[0].message
    );
    assert_eq!(p[0].span, Some(1001));
    let linux = ResolveOptions {
        target_os: Some("linux"),
        ..Default::default()
    };
    assert!(resolve(&[string("backend", "io_uring", 1)], &linux).is_ok());
}

#[test]
fn groups_and_scalars_cannot_swap() {
    let p = problems(&[int("scheduler", 5, 1), group("workers", vec![], 2)]);
    assert!(
        p[0].message.starts_with("`scheduler` is a group of keys"),
        "{}",
        p[0].message
    );
    assert!(
        p[1].message.starts_with("`workers` takes a single value"),
        "{}",
        p[1].message
    );
}

#[test]
fn toml_file_resolves_with_name_and_groups() {
    let text = "name = \"MyRt\"\nflavor = \"multi_thread\"\nworkers = 4\nbackend = \"auto\"\n\n[scheduler]\nlocal_queue = 512\n\n[io]\nuring_entries = 1024\n";
    let r = resolve_toml(text, |_| None, Some("linux")).unwrap();
    assert_eq!(r.name.as_deref(), Some("MyRt"));
    assert_eq!(r.config.workers, Workers::Fixed(4));
    assert_eq!(r.config.scheduler.local_queue, 512);
    assert_eq!(r.config.io.uring_entries, 1024);
}

#[test]
fn toml_problems_carry_line_and_column() {
    let text = "flavor = \"multi_thread\"\n\n[scheduler]\nlocal_queu = 256\n";
    let p = resolve_toml(text, |_| None, None).unwrap_err();
    let Some(Origin::File(range)) = &p[0].span else {
        panic!("expected a file span, got {:?}", p[0].span)
    };
    assert_eq!(LineIndex::new(text).line_col(text, range.start), (4, 1));
    assert_eq!(p[0].help.as_deref(), Some("did you mean `local_queue`?"));
}

#[test]
fn toml_duplicate_keys_and_syntax_errors_are_reported() {
    let p = resolve_toml("workers = 2\nworkers = 3\n", |_| None, None).unwrap_err();
    assert!(p[0].message.contains("duplicate key"), "{}", p[0].message);
    let Some(Origin::File(range)) = &p[0].span else {
        panic!()
    };
    let text = "workers = 2\nworkers = 3\n";
    assert_eq!(LineIndex::new(text).line_col(text, range.start).0, 2);
    let p = resolve_toml("workers = \n", |_| None, None).unwrap_err();
    assert!(p[0].message.starts_with("invalid TOML"), "{}", p[0].message);
}

#[test]
fn env_overrides_replace_file_values_and_are_validated() {
    let env = |name: &str| match name {
        "ZOKIO_WORKERS" => Some("8".to_owned()),
        "ZOKIO_SCHEDULER_LOCAL_QUEUE" => Some("1024".to_owned()),
        "ZOKIO_METRICS" => Some("true".to_owned()),
        _ => None,
    };
    let r = resolve_toml("workers = 2\n", env, None).unwrap();
    assert_eq!(r.config.workers, Workers::Fixed(8));
    assert_eq!(r.config.scheduler.local_queue, 1024);
    assert!(r.config.metrics);

    let bad = |name: &str| (name == "ZOKIO_IO_URING_ENTRIES").then(|| "1000".to_owned());
    let p = resolve_toml("", bad, None).unwrap_err();
    assert_eq!(
        p[0].span,
        Some(Origin::Env("ZOKIO_IO_URING_ENTRIES".to_owned()))
    );
    assert!(p[0].message.contains("power of two"), "{}", p[0].message);
}

#[test]
fn toml_integers_in_other_radixes_and_negative() {
    let r = resolve_toml("workers = 0x10\n", |_| None, None).unwrap();
    assert_eq!(r.config.workers, Workers::Fixed(16));
    let p = resolve_toml("workers = -1\n", |_| None, None).unwrap_err();
    assert_eq!(
        p[0].message,
        "`workers = -1` is out of range: must be from 1 to 1024"
    );
}

#[test]
fn every_env_var_name_is_distinct() {
    let mut names: Vec<String> = keys::KEYS.iter().map(|k| k.env_var()).collect();
    let before = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), before);
    assert!(names.contains(&"ZOKIO_SCHEDULER_LOCAL_QUEUE".to_owned()));
}

#[test]
fn uring_sqpoll_is_off_by_default_and_needs_a_ring() {
    assert_eq!(RuntimeConfig::default().io.uring_sqpoll, None);
    let r = resolve::<u32>(
        &[group("io", vec![string("uring_sqpoll", "2ms", 2)], 1)],
        &macro_options(),
    )
    .unwrap();
    assert_eq!(r.config.io.uring_sqpoll, Some(Duration::from_millis(2)));
    assert!(
        r.config
            .to_string()
            .contains("io(events_per_tick = 1024, uring_entries = 256, uring_sqpoll = \"2ms\")"),
        "{}",
        r.config
    );
    let p = problems(&[group("io", vec![string("uring_sqpoll", "20s", 2)], 1)]);
    assert!(
        p[0].message
            .starts_with("`io.uring_sqpoll = \"20s\"` is out of range"),
        "{}",
        p[0].message
    );
    let p = problems(&[
        string("backend", "mio", 1),
        group("io", vec![string("uring_sqpoll", "2ms", 3)], 2),
    ]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].message
            .contains("`backend = \"mio\"` never creates a ring"),
        "{}",
        p[0].message
    );
    assert_eq!(p[0].span, Some(1003), "points at the setting's value");
}

#[test]
fn tokio_attribute_keys_get_zokio_advice() {
    let p = problems(&[
        int("worker_threads", 4, 1),
        entry("start_paused", RawValue::Bool(true), 2),
        string("crate", "zokio", 3),
    ]);
    assert_eq!(p.len(), 3);
    assert_eq!(
        p[0].help.as_deref(),
        Some("zokio calls it `workers`: `workers = 4`")
    );
    assert!(
        p[1].help
            .as_deref()
            .unwrap()
            .contains("a `#[zokio::test]` setting"),
        "{:?}",
        p[1].help
    );
    assert!(
        p[2].help.as_deref().unwrap().contains("remove `crate`"),
        "{:?}",
        p[2].help
    );
}

#[test]
fn a_bare_word_where_a_string_belongs_suggests_quotes() {
    let p = problems(&[
        entry(
            "flavor",
            RawValue::Other("the path `current_thread`".into()),
            1,
        ),
        entry("backend", RawValue::Other("the path `io_uring`".into()), 2),
        entry("metrics", RawValue::Other("the path `yes`".into()), 3),
    ]);
    assert_eq!(p.len(), 3);
    assert_eq!(
        p[0].help.as_deref(),
        Some("write it as a string: `flavor = \"current_thread\"`")
    );
    assert_eq!(
        p[1].help.as_deref(),
        Some("write it as a string: `backend = \"io_uring\"`")
    );
    assert_eq!(p[2].help, None, "`metrics` takes a bool, not a string");
}

#[test]
fn every_io_uring_key_needs_a_ring() {
    let p = problems(&[
        string("backend", "mio", 1),
        group(
            "io",
            vec![int("uring_entries", 128, 3), int("events_per_tick", 64, 4)],
            2,
        ),
    ]);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(
        p[0].message,
        "`uring_entries` tunes io_uring, and `backend = \"mio\"` never creates a ring"
    );
    assert_eq!(p[0].span, Some(1003), "points at the setting's value");
    // With "auto" the ring may be used, so the key is accepted; presets may set it too.
    let accepted = |entries: &[RawEntry<u32>]| resolve(entries, &macro_options()).is_ok();
    assert!(accepted(&[
        string("backend", "auto", 1),
        group("io", vec![int("uring_entries", 128, 3)], 2),
    ]));
    assert!(accepted(&[
        string("backend", "mio", 1),
        string("preset", "io_intensive", 2)
    ]));
}
