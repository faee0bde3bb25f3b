//! `zokio_codegen::build("zokio.toml")` for build scripts.

use std::fmt;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use quote::ToTokens;
use syn::{Ident, Visibility};
use zokio_config_schema::keys::{KEYS, KeyKind};
use zokio_config_schema::{DEFAULT_NAME, Origin, Problem, resolve_toml};

use crate::render::RuntimeItem;

/// The file `build` writes into `OUT_DIR` and `include_runtime!()` includes.
pub const GENERATED_FILE: &str = "zokio_runtime.rs";

/// Why a build-script run failed: every diagnostic, already rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    report: String,
}

impl BuildError {
    /// The rendered diagnostics, one block per problem.
    pub fn report(&self) -> &str {
        &self.report
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.report)
    }
}

impl std::error::Error for BuildError {}

/// Reads `path` (relative to the package root), applies `ZOKIO_<KEY>`
/// environment overrides, validates, and writes the runtime type into
/// `OUT_DIR` for `zokio::include_runtime!()`.
///
/// Call it from `build.rs`:
///
/// ```no_run
/// fn main() {
///     zokio_codegen::build("zokio.toml");
/// }
/// ```
///
/// On any problem it prints every diagnostic (`zokio.toml:LINE:COLUMN: ...`
/// with a source snippet) and exits the build script with status 1, which
/// fails the build.
pub fn build(path: impl AsRef<Path>) {
    match try_build(path.as_ref()) {
        Ok(_) => {}
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

/// [`build`], returning the error instead of exiting; also returns the path
/// of the generated file.
pub fn try_build(path: &Path) -> Result<PathBuf, BuildError> {
    println!("cargo:rerun-if-changed={}", path.display());
    for def in KEYS.iter().filter(|k| k.kind != KeyKind::Group) {
        println!("cargo:rerun-if-env-changed={}", def.env_var());
    }
    let text = std::fs::read_to_string(path).map_err(|e| BuildError {
        report: format!(
            "error: cannot read the zokio configuration `{}`: {e}\n  (build scripts run in the package root: {})",
            path.display(),
            std::env::current_dir().map_or_else(|_| "?".to_owned(), |d| d.display().to_string())
        ),
    })?;
    for warning in misspelt_overrides(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()))
    {
        println!("cargo:warning={warning}");
    }
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").ok();
    let code = generate(
        &text,
        &path.display().to_string(),
        |var| std::env::var(var).ok(),
        target_os.as_deref(),
    )?;
    let out_dir = std::env::var_os("OUT_DIR").ok_or_else(|| BuildError {
        report:
            "error: OUT_DIR is not set; `zokio_codegen::build` must be called from a build script"
                .to_owned(),
    })?;
    let out = Path::new(&out_dir).join(GENERATED_FILE);
    std::fs::write(&out, code).map_err(|e| BuildError {
        report: format!("error: cannot write {}: {e}", out.display()),
    })?;
    Ok(out)
}

/// Warnings for environment variables that look like a misspelt
/// `ZOKIO_<KEY>` override (`ZOKIO_WORKRS`): such a variable would otherwise
/// be ignored without a word. Other `ZOKIO_` variables are left alone.
pub fn misspelt_overrides(vars: impl IntoIterator<Item = String>) -> Vec<String> {
    let known: Vec<String> = KEYS
        .iter()
        .filter(|k| k.kind != KeyKind::Group)
        .map(|k| k.env_var())
        .collect();
    let mut warnings = Vec::new();
    for var in vars {
        let Some(suffix) = var.strip_prefix("ZOKIO_") else {
            continue;
        };
        if known.contains(&var) {
            continue;
        }
        // The nearest override within two edits: a typo, not another
        // variable that only shares the prefix.
        let near = known
            .iter()
            .map(|k| &k["ZOKIO_".len()..])
            .map(|k| (edit_distance(suffix, k), k))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d);
        if let Some((_, near)) = near {
            warnings.push(format!(
                "`{var}` is not a zokio configuration override and is ignored; did you mean `ZOKIO_{near}`?"
            ));
        }
    }
    warnings
}

/// The number of single-character insertions, deletions and substitutions
/// that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The generated Rust source for a `zokio.toml` text, or every problem
/// rendered against `file_name`. Pure: reads nothing but its arguments.
pub fn generate(
    text: &str,
    file_name: &str,
    env: impl Fn(&str) -> Option<String>,
    target_os: Option<&str>,
) -> Result<String, BuildError> {
    let resolved = resolve_toml(text, env, target_os).map_err(|problems| BuildError {
        report: render_problems(text, file_name, &problems),
    })?;
    let name = resolved.name.as_deref().unwrap_or(DEFAULT_NAME);
    let item = RuntimeItem {
        attrs: vec![syn::parse_quote!(
            #[doc = "The runtime declared in zokio.toml (generated by `zokio_codegen::build`)."]
        )],
        vis: Visibility::Public(Default::default()),
        ident: Ident::new(name, proc_macro2::Span::call_site()),
        config: resolved.config,
        // The build script knows the target and checked it already.
        backend_tokens: None,
    };
    Ok(format!(
        "// @generated by zokio_codegen::build from {file_name}; edit that file instead.\n{}\n",
        item.into_token_stream()
    ))
}

/// Renders problems the way rustc does: the message, `--> file:line:column`,
/// and the source line with the offending token underlined.
pub fn render_problems(text: &str, file_name: &str, problems: &[Problem<Origin>]) -> String {
    let renderer = Renderer::plain();
    let mut out = String::new();
    for problem in problems {
        match &problem.span {
            Some(Origin::File(range)) => {
                let mut group = Level::ERROR
                    .primary_title(problem.message.as_str())
                    .element(
                        Snippet::source(text)
                            .path(file_name)
                            .annotation(AnnotationKind::Primary.span(range.clone())),
                    );
                if let Some(help) = &problem.help {
                    group = group.element(Level::HELP.message(help.as_str()));
                }
                out.push_str(&renderer.render(&[group]));
                out.push('\n');
            }
            Some(Origin::Env(var)) => {
                out.push_str(&format!(
                    "{file_name}: error: in environment variable {var}: {problem}\n"
                ));
            }
            None => out.push_str(&format!("error: {problem}\n --> {file_name}\n\n")),
        }
    }
    let n = problems.len();
    out.push_str(&format!(
        "error: {file_name} has {n} problem{}; the runtime type was not generated\n",
        if n == 1 { "" } else { "s" }
    ));
    out
}
