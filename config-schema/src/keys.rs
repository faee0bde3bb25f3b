//! The table of every key: its path, what values it takes, and what it means.
//! Validation, suggestions, environment overrides and documentation all read
//! this one table.

use std::time::Duration;

/// What values a key accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A group of keys (`scheduler`, `io`, `timer`, `blocking`).
    Group,
    /// The type's name (TOML only; in macros the name precedes the braces).
    Name,
    /// One of the [`crate::Preset`] names.
    Preset,
    /// One of the [`crate::Flavor`] names.
    Flavor,
    /// An integer in `1..=1024`, or `"auto"`.
    Workers,
    /// One of the [`crate::Backend`] names.
    Backend,
    /// `true` or `false`.
    Bool,
    /// An integer in `min..=max`, optionally required to be a power of two.
    Int {
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
        /// Whether only powers of two are allowed.
        power_of_two: bool,
    },
    /// A duration string in `min..=max`.
    Duration {
        /// Shortest allowed duration.
        min: Duration,
        /// Longest allowed duration.
        max: Duration,
    },
    /// A size string (or a plain byte count) in `min..=max` bytes.
    Size {
        /// Smallest allowed size.
        min: u64,
        /// Largest allowed size.
        max: u64,
    },
}

/// One key of the configuration.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    /// Dotted path: `workers`, `scheduler.local_queue`.
    pub path: &'static str,
    /// What values it takes.
    pub kind: KeyKind,
    /// One line saying what it does.
    pub doc: &'static str,
}

impl KeyDef {
    /// The last segment of the path.
    pub fn name(&self) -> &'static str {
        self.path.rsplit('.').next().unwrap_or(self.path)
    }

    /// The group this key belongs to (`""` for top-level keys).
    pub fn parent(&self) -> &'static str {
        self.path.rsplit_once('.').map_or("", |(p, _)| p)
    }

    /// The environment variable that overrides it in `build.rs`
    /// (`ZOKIO_SCHEDULER_LOCAL_QUEUE`).
    pub fn env_var(&self) -> String {
        format!("ZOKIO_{}", self.path.replace('.', "_").to_ascii_uppercase())
    }
}

/// Worker count bounds.
pub const WORKERS_MAX: u32 = 1024;

const fn int(min: u32, max: u32) -> KeyKind {
    KeyKind::Int {
        min,
        max,
        power_of_two: false,
    }
}

const fn pow2(min: u32, max: u32) -> KeyKind {
    KeyKind::Int {
        min,
        max,
        power_of_two: true,
    }
}

/// Every key, in documentation order.
pub const KEYS: &[KeyDef] = &[
    KeyDef {
        path: "name",
        kind: KeyKind::Name,
        doc: "Name of the generated type (zokio.toml only; default \"AppRuntime\").",
    },
    KeyDef {
        path: "preset",
        kind: KeyKind::Preset,
        doc: "A bundle of defaults: \"low_latency\", \"throughput\" or \"io_intensive\". Explicit keys override it.",
    },
    KeyDef {
        path: "flavor",
        kind: KeyKind::Flavor,
        doc: "\"multi_thread\" (default) or \"current_thread\".",
    },
    KeyDef {
        path: "workers",
        kind: KeyKind::Workers,
        doc: "Worker threads: 1..=1024, or \"auto\" for the available parallelism (default).",
    },
    KeyDef {
        path: "backend",
        kind: KeyKind::Backend,
        doc: "I/O driver: \"mio\", \"io_uring\" (Linux) or \"auto\" (default: io_uring when the kernel allows it).",
    },
    KeyDef {
        path: "metrics",
        kind: KeyKind::Bool,
        doc: "Compile in per-worker counters (default false: they compile to nothing).",
    },
    KeyDef {
        path: "detect_blocking",
        kind: KeyKind::Duration {
            min: Duration::from_millis(1),
            max: Duration::from_secs(3600),
        },
        doc: "Warn (log target \"zokio\") when one task poll runs longer than this, 1ms..=1h, naming the task and where it was spawned (default: off).",
    },
    KeyDef {
        path: "scheduler",
        kind: KeyKind::Group,
        doc: "Scheduler tuning.",
    },
    KeyDef {
        path: "scheduler.local_queue",
        kind: pow2(4, 65536),
        doc: "Slots in each worker's local run queue, a power of two (default 256).",
    },
    KeyDef {
        path: "scheduler.global_queue_interval",
        kind: int(1, 65535),
        doc: "Ticks between checks of the global queue (default 31).",
    },
    KeyDef {
        path: "scheduler.event_interval",
        kind: int(1, 65535),
        doc: "Ticks between polls of the I/O and timer drivers (default 61).",
    },
    KeyDef {
        path: "scheduler.lifo_slot",
        kind: KeyKind::Bool,
        doc: "Run the task woken by the running task next (default true).",
    },
    KeyDef {
        path: "scheduler.budget",
        kind: int(1, 65535),
        doc: "Operations a task may do per poll before it must yield (default 128).",
    },
    KeyDef {
        path: "io",
        kind: KeyKind::Group,
        doc: "I/O driver tuning.",
    },
    KeyDef {
        path: "io.events_per_tick",
        kind: int(1, 65536),
        doc: "Events taken from the driver per poll (default 1024).",
    },
    KeyDef {
        path: "io.uring_entries",
        kind: pow2(2, 32768),
        doc: "Submission queue entries per io_uring, a power of two (default 256). io_uring only: an error with backend = \"mio\".",
    },
    KeyDef {
        path: "io.uring_sqpoll",
        kind: KeyKind::Duration {
            min: Duration::from_millis(1),
            max: Duration::from_secs(10),
        },
        doc: "io_uring only (an error with backend = \"mio\"): a kernel thread polls the rings' submission queues (IORING_SETUP_SQPOLL, one thread shared by the runtime's rings) and sleeps after this long without work, 1ms..=10s (default: off). Worth it only with a core to spare for that thread.",
    },
    KeyDef {
        path: "timer",
        kind: KeyKind::Group,
        doc: "Timer tuning.",
    },
    KeyDef {
        path: "timer.resolution",
        kind: KeyKind::Duration {
            min: Duration::from_millis(1),
            max: Duration::from_secs(1),
        },
        doc: "Granularity of the timing wheel, 1ms..=1s (default \"1ms\").",
    },
    KeyDef {
        path: "blocking",
        kind: KeyKind::Group,
        doc: "Blocking pool tuning.",
    },
    KeyDef {
        path: "blocking.max_threads",
        kind: int(1, 65536),
        doc: "Most threads the blocking pool starts (default 512).",
    },
    KeyDef {
        path: "blocking.keep_alive",
        kind: KeyKind::Duration {
            min: Duration::from_millis(1),
            max: Duration::from_secs(24 * 3600),
        },
        doc: "How long an idle blocking thread lives, 1ms..=24h (default \"10s\").",
    },
    KeyDef {
        path: "blocking.stack_size",
        kind: KeyKind::Size {
            min: 64 << 10,
            max: 1 << 30,
        },
        doc: "Stack size of every runtime thread, 64KiB..=1GiB (default \"2MiB\").",
    },
];

/// Looks a key up by its dotted path.
pub fn key(path: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.path == path)
}

/// The keys directly inside `group` (`""` for the top level).
pub fn keys_in(group: &str) -> impl Iterator<Item = &'static KeyDef> + '_ {
    KEYS.iter().filter(move |k| k.parent() == group)
}

/// The reference of every key as a Markdown document: `docs/CONFIG.md` is
/// this text (a test keeps it current).
pub fn keys_markdown() -> String {
    let mut out = String::from(
        "# Configuration keys\n\n\
         <!-- Generated from `config-schema/src/keys.rs` by `zokio_config_schema::keys::keys_markdown`; \
         regenerate with `ZOKIO_BLESS=1 cargo test -p zokio-config-schema --test schema_file`. -->\n\n\
         Every key a runtime takes, in `zokio::runtime!`, `#[zokio::main(...)]`, \
         `#[zokio::test(...)]` and `zokio.toml`. A key inside a group is written \
         `group(key = value)` in the macros and under `[group]` in `zokio.toml`; in \
         `build.rs`, an environment variable overrides the file. Values out of range \
         are compile errors that point at the value.\n\n\
         | key | in the macros | values | `build.rs` override | what it does |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for def in KEYS.iter().filter(|d| d.kind != KeyKind::Group) {
        let macro_form = match (def.kind, def.parent()) {
            (KeyKind::Name, _) => "the name before `{`".to_owned(),
            (_, "") => format!("`{} = ...`", def.name()),
            (_, group) => format!("`{group}({} = ...)`", def.name()),
        };
        let values = crate::resolve::expectation(def);
        let values = values.strip_prefix("expected ").unwrap_or(&values);
        out.push_str(&format!(
            "| `{}` | {macro_form} | {} | `{}` | {} |\n",
            def.path,
            values.replace('|', "\\|"),
            def.env_var(),
            def.doc.replace('|', "\\|"),
        ));
    }
    out
}
