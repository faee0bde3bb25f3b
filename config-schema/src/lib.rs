//! The one model of a Zokio runtime configuration.
//!
//! Front ends (the `runtime!` macro, `#[zokio::main]`/`#[zokio::test]`
//! arguments, `zokio.toml` read by `build.rs`, `ZOKIO_<KEY>` environment
//! overrides) turn what the user wrote into [`RawEntry`] lists, each value
//! carrying the front end's own notion of a location. [`resolve`] checks them
//! against the key table in [`keys`] and returns the effective
//! [`RuntimeConfig`] or *every* [`Problem`] found, so a config accepted or
//! rejected by one front end is accepted or rejected by the others with the
//! same message.
//!
//! ```
//! use zokio_config_schema::{resolve_toml, Flavor, Workers};
//!
//! let toml = "flavor = \"multi_thread\"\nworkers = 4\n[scheduler]\nlocal_queue = 512\n";
//! let resolved = resolve_toml(toml, |_| None, Some("linux")).unwrap();
//! assert_eq!(resolved.config.flavor, Flavor::MultiThread);
//! assert_eq!(resolved.config.workers, Workers::Fixed(4));
//! assert_eq!(resolved.config.scheduler.local_queue, 512);
//!
//! let problems = resolve_toml("wrokers = 4\n", |_| None, None).unwrap_err();
//! assert_eq!(problems[0].message, "unknown key `wrokers` in a runtime configuration");
//! assert_eq!(problems[0].help.as_deref(), Some("did you mean `workers`?"));
//! ```

#![warn(missing_docs)]

pub mod keys;
mod model;
mod problem;
mod raw;
mod resolve;
mod schema;
mod toml_source;
pub mod units;

pub use model::{
    Backend, BlockingConfig, Flavor, IoConfig, Preset, RuntimeConfig, SchedulerConfig, TimerConfig,
    Workers, format_duration, format_size,
};
pub use problem::{Problem, did_you_mean};
pub use raw::{RawEntry, RawValue};
pub use resolve::{ResolveOptions, Resolved, resolve};
pub use schema::json_schema;
pub use toml_source::{LineIndex, Origin, apply_env_overrides, parse_toml};

/// The name a `zokio.toml` runtime gets when the file has no `name` key.
pub const DEFAULT_NAME: &str = "AppRuntime";

/// Parses and validates a `zokio.toml` text with `ZOKIO_<KEY>` overrides read
/// through `env`. `target_os` is the compilation target (`CARGO_CFG_TARGET_OS`
/// in a build script).
pub fn resolve_toml(
    text: &str,
    env: impl Fn(&str) -> Option<String>,
    target_os: Option<&str>,
) -> Result<Resolved, Vec<Problem<Origin>>> {
    let entries = apply_env_overrides(parse_toml(text)?, env);
    resolve(
        &entries,
        &ResolveOptions {
            allow_name: true,
            target_os,
            base: None,
        },
    )
}

#[cfg(test)]
mod tests;
