//! Code generation for Zokio runtimes.
//!
//! Turns `zokio::runtime!` input, `#[zokio::main]`/`#[zokio::test]`
//! arguments and `zokio.toml` files into the model of
//! [`zokio_config_schema`], validates it there, and renders the runtime type
//! with one function ([`RuntimeItem`]) whichever front end it came from.
//!
//! Build scripts use [`build`]:
//!
//! ```no_run
//! // build.rs
//! fn main() {
//!     zokio_codegen::build("zokio.toml");
//! }
//! ```
//!
//! and the crate includes the result with `zokio::include_runtime!();`.

#![warn(missing_docs)]
// The examples show build scripts and programs, where `fn main` is the point.
#![allow(clippy::needless_doctest_main)]

mod attr;
mod build_script;
mod diagnostics;
mod parse;
mod render;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use zokio_config_schema::{ResolveOptions, RuntimeConfig, resolve};

pub use attr::{main, test};
pub use build_script::{BuildError, GENERATED_FILE, build, generate, render_problems, try_build};
pub use render::RuntimeItem;
pub use zokio_config_schema as schema_model;

/// The JSON Schema of `zokio.toml` (the committed
/// `config-schema/zokio.schema.json` is this text).
pub fn schema() -> String {
    zokio_config_schema::json_schema()
}

/// Expands `zokio::runtime! { ... }`.
///
/// On errors the output still declares the type (with default settings) so
/// that code using it keeps type-checking in an IDE, next to one
/// `compile_error!` per problem.
pub fn runtime(input: TokenStream) -> TokenStream {
    let decl: parse::RuntimeDecl = match syn::parse2(input) {
        Ok(d) => d,
        Err(e) => return e.to_compile_error(),
    };
    let body = decl.body.clone();
    let (entries, mut errors) = parse::entries(decl.body.clone());
    let backend_tokens = entries
        .iter()
        .find(|e| e.key == "backend")
        .map(|e| e.value_span.clone());
    let config = match resolve(&entries, &ResolveOptions::default()) {
        Ok(r) if errors.is_none() => r.config,
        Ok(_) => RuntimeConfig::default(),
        Err(p) => {
            parse::push_error(&mut errors, diagnostics::to_syn_error(p, &body));
            RuntimeConfig::default()
        }
    };
    let (backend_tokens, errors) = match errors {
        Some(e) => (None, Some(e.to_compile_error())),
        None => (backend_tokens, None),
    };
    let item = RuntimeItem {
        attrs: decl.attrs,
        vis: decl.vis,
        ident: decl.ident,
        config,
        backend_tokens,
    };
    let mut out = errors.unwrap_or_default();
    item.to_tokens(&mut out);
    out
}

/// Expands `zokio::include_runtime!()`.
pub fn include_runtime(input: TokenStream) -> TokenStream {
    if !input.is_empty() {
        return syn::Error::new_spanned(
            input,
            "`include_runtime!()` takes no arguments: it includes the runtime that `zokio_codegen::build` generated from zokio.toml",
        )
        .to_compile_error();
    }
    let file = format!("/{GENERATED_FILE}");
    quote! {
        ::core::include!(::core::concat!(
            ::core::env!(
                "OUT_DIR",
                "`zokio::include_runtime!()` needs a build script that calls `zokio_codegen::build(\"zokio.toml\")`: add `build.rs` with `fn main() { zokio_codegen::build(\"zokio.toml\"); }` and `zokio-codegen` under [build-dependencies]"
            ),
            #file
        ));
    }
}

#[cfg(test)]
mod tests;
