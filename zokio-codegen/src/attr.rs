//! `#[zokio::main]` and `#[zokio::test]`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, Visibility};
use zokio_config_schema::{RawValue, ResolveOptions, RuntimeConfig, resolve};

use crate::diagnostics::{Tokens, to_syn_error};
use crate::parse;
use crate::render::RuntimeItem;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[zokio::main]",
            Kind::Test => "#[zokio::test]",
        }
    }
}

/// Expands `#[zokio::main(args)]` on `item`.
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Main, args, item)
}

/// Expands `#[zokio::test(args)]` on `item`.
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args, item)
}

/// Collects errors, never stopping at the first.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let e = syn::Error::new(
                e.span(),
                format!("{} can only be applied to a function", kind.attr()),
            );
            let mut out = e.to_compile_error();
            out.extend(item);
            return out;
        }
    };
    let mut errors = Errors::default();

    check_signature(kind, &func, &mut errors);

    // The runtime: a declared one (`runtime = Path`) or one generated here.
    let runtime = match runtime_for(kind, args) {
        Ok(r) => Some(r),
        Err(e) => {
            errors.push(e);
            None
        }
    };

    if let Some(e) = errors.0 {
        // Emit the function unchanged (minus `async`, so `fn main` still
        // type-checks as an entry point) so IDEs keep working.
        let mut out = e.to_compile_error();
        if kind == Kind::Main {
            func.sig.asyncness = None;
            func.sig.inputs.clear();
            func.sig.generics = Default::default();
            func.block = Box::new(syn::parse_quote!({ ::core::unimplemented!() }));
        }
        out.extend(func.into_token_stream());
        return out;
    }

    let (setup, runtime_ty, start_paused) =
        runtime.expect("no errors means a runtime was resolved");
    let attrs = &func.attrs;
    let vis = &func.vis;
    let mut sig = func.sig.clone();
    sig.asyncness = None;
    let body = &func.block;
    let body_span = body.span();
    let test_attr = match kind {
        Kind::Test => quote!(#[::core::prelude::v1::test]),
        Kind::Main => TokenStream::new(),
    };
    let pause = start_paused.then(|| quote!(::zokio::__private::start_paused::<()>();));
    let run = quote_spanned! {body_span=>
        ::zokio::__private::block_on::<#runtime_ty, _>(async move { #pause #body })
    };
    quote! {
        #test_attr
        #(#attrs)*
        #vis #sig {
            #setup
            #run
        }
    }
}

fn check_signature(kind: Kind, func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            format!(
                "the `async` keyword is missing from the function declaration\n\n= help: {} runs an `async fn`: write `async fn {}(...)`",
                kind.attr(),
                sig.ident
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        let what = match kind {
            Kind::Main => "the `main` function cannot take arguments",
            Kind::Test => "`#[zokio::test]` functions cannot take arguments",
        };
        errors.push(syn::Error::new_spanned(&sig.inputs, what));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("{} functions cannot be generic", kind.attr()),
        ));
    }
    if kind == Kind::Test
        && let Some(attr) = func.attrs.iter().find(|a| a.path().is_ident("test"))
    {
        errors.push(syn::Error::new_spanned(
                attr,
                "a second test attribute is supplied; `#[zokio::test]` already marks the function as a test",
            ));
    }
}

/// Returns the tokens that declare the runtime (empty for `runtime = Path`),
/// the runtime's type, and whether the test starts with the clock paused
/// (`start_paused = true`, `#[zokio::test]` only).
fn runtime_for(kind: Kind, args: TokenStream) -> syn::Result<(TokenStream, TokenStream, bool)> {
    let all_args = args.clone();
    let (mut entries, syntax_errors) = parse::entries(args);
    // `start_paused` is the test attribute's own key, not a runtime key.
    let start_paused = match entries.iter().position(|e| e.key == "start_paused") {
        Some(pos) if kind == Kind::Test => {
            let entry = entries.remove(pos);
            match entry.value {
                RawValue::Bool(b) => Some((b, entry.key_span)),
                RawValue::Flag => Some((true, entry.key_span)),
                _ => {
                    return Err(syn::Error::new_spanned(
                        &entry.value_span,
                        "`start_paused` expects `true` or `false`",
                    ));
                }
            }
        }
        _ => None,
    };
    if let Some(e) = syntax_errors {
        // Still validate what did parse, so every mistake shows at once.
        let mut all = Some(e);
        if let Err(p) = resolve(
            &entries
                .iter()
                .filter(|e| e.key != "runtime")
                .cloned()
                .collect::<Vec<_>>(),
            &ResolveOptions::default(),
        ) {
            parse::push_error(&mut all, to_syn_error(p, &all_args));
        }
        return Err(all.expect("an error was pushed"));
    }
    if let Some(pos) = entries.iter().position(|e| e.key == "runtime") {
        let runtime = entries.remove(pos);
        let mut errors = Errors::default();
        for other in &entries {
            errors.push(syn::Error::new_spanned(
                &other.key_span,
                format!(
                    "`{}` cannot be combined with `runtime = ...`: the declared runtime already fixes its configuration\n\n= help: move `{}` into the `runtime!` declaration, or remove `runtime = ...`",
                    other.key, other.key
                ),
            ));
        }
        if let Some(e) = errors.0 {
            return Err(e);
        }
        let path: syn::Path = match &runtime.value {
            RawValue::Other(_) => syn::parse2(runtime.value_span.clone()).map_err(|_| {
                syn::Error::new_spanned(
                    &runtime.value_span,
                    "`runtime` expects the path of a type declared with `zokio::runtime!`, such as `runtime = AppRuntime`",
                )
            })?,
            RawValue::Str(_) => {
                return Err(syn::Error::new_spanned(
                    &runtime.value_span,
                    "`runtime` expects a type path, not a string\n\n= help: remove the quotes: `runtime = AppRuntime`",
                ));
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    &runtime.value_span,
                    "`runtime` expects the path of a type declared with `zokio::runtime!`, such as `runtime = AppRuntime`",
                ));
            }
        };
        return Ok((
            TokenStream::new(),
            path.into_token_stream(),
            start_paused.is_some_and(|(on, _)| on),
        ));
    }

    let base = match kind {
        Kind::Main => RuntimeConfig::default(),
        Kind::Test => RuntimeConfig::current_thread(),
    };
    let options = ResolveOptions {
        allow_name: false,
        target_os: None,
        base: Some(base),
    };
    // Checked on the key as written, so it is reported along with any
    // problem in the other keys.
    let multi_thread = entries
        .iter()
        .any(|e| e.key == "flavor" && matches!(&e.value, RawValue::Str(f) if f == "multi_thread"));
    let paused_error = match &start_paused {
        Some((true, span)) if multi_thread => Some(syn::Error::new_spanned(
            span,
            "`start_paused = true` requires `flavor = \"current_thread\"` (the default \
             for `#[zokio::test]`): a `multi_thread` runtime's clock cannot be paused",
        )),
        _ => None,
    };
    let resolved = match resolve(&entries, &options) {
        Ok(resolved) => {
            if let Some(e) = paused_error {
                return Err(e);
            }
            resolved
        }
        Err(p) => {
            let mut e = to_syn_error(p, &all_args);
            if let Some(paused) = paused_error {
                e.combine(paused);
            }
            return Err(e);
        }
    };
    let name = match kind {
        Kind::Main => "ZokioMainRuntime",
        Kind::Test => "ZokioTestRuntime",
    };
    let ident = Ident::new(name, Span::mixed_site());
    let backend_tokens: Option<Tokens> = entries
        .iter()
        .find(|e| e.key == "backend")
        .map(|e| e.value_span.clone());
    let item = RuntimeItem {
        attrs: Vec::new(),
        vis: Visibility::Inherited,
        ident: ident.clone(),
        config: resolved.config,
        backend_tokens,
    };
    Ok((
        item.into_token_stream(),
        ident.into_token_stream(),
        start_paused.is_some_and(|(on, _)| on),
    ))
}
