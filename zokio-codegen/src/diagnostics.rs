//! Validation problems → compile errors at the offending tokens.

use proc_macro2::TokenStream;
use zokio_config_schema::Problem;

/// Where a macro input value came from: its tokens, so an error spans all of
/// them (`-1` is two tokens; stable Rust cannot join spans, but `syn::Error`
/// can start at the first token and end at the last).
pub(crate) type Tokens = TokenStream;

/// The text a compile error shows for a problem: the message, then the help
/// as rustc prints it.
pub(crate) fn message<S>(problem: &Problem<S>) -> String {
    match &problem.help {
        Some(help) => format!("{}\n\n= help: {help}", problem.message),
        None => problem.message.clone(),
    }
}

/// Combines every problem into one `syn::Error` (rendered as one
/// `compile_error!` each), falling back to `fallback` for problems without a
/// location.
pub(crate) fn to_syn_error(problems: Vec<Problem<Tokens>>, fallback: &Tokens) -> syn::Error {
    let mut errors = problems.into_iter().map(|p| {
        let text = message(&p);
        let at = p.span.unwrap_or_else(|| fallback.clone());
        syn::Error::new_spanned(at, text)
    });
    let mut first = errors
        .next()
        .unwrap_or_else(|| syn::Error::new_spanned(fallback, "invalid configuration"));
    for e in errors {
        first.combine(e);
    }
    first
}
