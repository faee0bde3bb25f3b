//! Macro input → raw entries (one per `key = value`), keeping every value's
//! tokens so errors point at them.

use darling::ast::NestedMeta;
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Expr, ExprLit, ExprUnary, Ident, Lit, Meta, UnOp, Visibility, braced};
use zokio_config_schema::keys::{self, KeyKind};
use zokio_config_schema::{RawEntry, RawValue};

use crate::diagnostics::Tokens;

/// `#[attrs] vis Name { key = value, group(key = value), ... }`
pub(crate) struct RuntimeDecl {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The tokens inside the braces.
    pub(crate) body: TokenStream,
}

impl Parse for RuntimeDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        let ident: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the runtime's type name, as in `zokio::runtime! { pub AppRuntime { workers = 4 } }`",
            )
        })?;
        let content;
        braced!(content in input);
        let body: TokenStream = content.parse()?;
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens after the runtime declaration; declare one runtime per `runtime!`",
            ));
        }
        Ok(RuntimeDecl {
            attrs,
            vis,
            ident,
            body,
        })
    }
}

/// Parses a comma-separated list of `key = value` / `group(...)` / `flag`.
///
/// Syntax mistakes inside one entry are collected and parsing goes on, so
/// the validator still reports every other problem; only a list that cannot
/// be split into entries at all (a missing comma) stops here.
pub(crate) fn entries(tokens: TokenStream) -> (Vec<RawEntry<Tokens>>, Option<syn::Error>) {
    let mut errors = None;
    let out = entries_in("", tokens, &mut errors);
    (out, errors)
}

/// Adds `e` to the accumulated errors.
pub(crate) fn push_error(errors: &mut Option<syn::Error>, e: syn::Error) {
    match errors {
        Some(all) => all.combine(e),
        None => *errors = Some(e),
    }
}

fn entries_in(
    group: &str,
    tokens: TokenStream,
    errors: &mut Option<syn::Error>,
) -> Vec<RawEntry<Tokens>> {
    let metas = match NestedMeta::parse_meta_list(tokens) {
        Ok(m) => m,
        Err(e) => {
            push_error(errors, e);
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(metas.len());
    for meta in metas {
        match entry(group, meta, errors) {
            Ok(e) => out.push(e),
            Err(e) => push_error(errors, e),
        }
    }
    out
}

fn key_name(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

fn entry(
    group: &str,
    meta: NestedMeta,
    errors: &mut Option<syn::Error>,
) -> syn::Result<RawEntry<Tokens>> {
    match meta {
        NestedMeta::Meta(Meta::NameValue(nv)) => Ok(RawEntry {
            key: key_name(&nv.path),
            key_span: nv.path.to_token_stream(),
            value: value(&nv.value),
            value_span: nv.value.to_token_stream(),
        }),
        NestedMeta::Meta(Meta::List(list)) => {
            let key = key_name(&list.path);
            let path = if group.is_empty() {
                key.clone()
            } else {
                format!("{group}.{key}")
            };
            let is_group = keys::key(&path).is_some_and(|k| k.kind == KeyKind::Group);
            // `workers(2)`: the validator explains that `workers` is not a
            // group; the contents' syntax is beside the point then.
            let inner = if is_group {
                entries_in(&path, list.tokens.clone(), errors)
            } else {
                Vec::new()
            };
            Ok(RawEntry {
                key,
                key_span: list.path.to_token_stream(),
                value: RawValue::Group(inner),
                value_span: list.to_token_stream(),
            })
        }
        NestedMeta::Meta(Meta::Path(path)) => Ok(RawEntry {
            key: key_name(&path),
            key_span: path.to_token_stream(),
            value: RawValue::Flag,
            value_span: path.to_token_stream(),
        }),
        NestedMeta::NameValueInvalidExpr(nv) => Ok(RawEntry {
            key: key_name(&nv.path),
            key_span: nv.path.to_token_stream(),
            value: RawValue::Other(format!("`{}`", nv.value)),
            value_span: nv.value,
        }),
        NestedMeta::Lit(lit) => Err(syn::Error::new_spanned(
            &lit,
            "expected `key = value`, found a bare literal; write for example `workers = 4`",
        )),
    }
}

fn value(expr: &Expr) -> RawValue<Tokens> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => literal(lit, false),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => literal(lit, true),
            _ => RawValue::Other(format!("the expression `{}`", expr_text(expr))),
        },
        Expr::Path(p) => RawValue::Other(format!("the path `{}`", expr_text(p))),
        Expr::Group(g) => value(&g.expr),
        Expr::Paren(p) => value(&p.expr),
        other => RawValue::Other(format!("the expression `{}`", expr_text(other))),
    }
}

fn expr_text(e: &impl ToTokens) -> String {
    e.to_token_stream().to_string()
}

fn literal(lit: &Lit, negative: bool) -> RawValue<Tokens> {
    match lit {
        Lit::Int(i) => match i.base10_parse::<i128>() {
            Ok(n) if negative => RawValue::Int(-n),
            Ok(n) => RawValue::Int(n),
            Err(_) => RawValue::Other(format!(
                "the integer {}, which is too large",
                i.base10_digits()
            )),
        },
        Lit::Float(f) => match f.base10_parse::<f64>() {
            Ok(x) if negative => RawValue::Float(-x),
            Ok(x) => RawValue::Float(x),
            Err(_) => RawValue::Other(format!("the number {}", f.base10_digits())),
        },
        Lit::Str(s) if !negative => RawValue::Str(s.value()),
        Lit::Bool(b) if !negative => RawValue::Bool(b.value),
        Lit::Char(c) if !negative => RawValue::Other(format!("the character {:?}", c.value())),
        other => RawValue::Other(format!(
            "`{}{}`",
            if negative { "-" } else { "" },
            expr_text(other)
        )),
    }
}
