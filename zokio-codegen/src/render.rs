//! A validated configuration → the runtime type and its `Spec` impl.
//!
//! This is the one rendering function behind `runtime!`, `#[zokio::main]`,
//! `#[zokio::test]` and `build()`: the same configuration gives the same
//! tokens whichever front end it came from.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{Attribute, Ident, Visibility};
use zokio_config_schema::{Backend, Flavor, RuntimeConfig, Workers};

/// The generated runtime type.
pub struct RuntimeItem {
    /// Attributes (doc comments included) passed through to the struct.
    pub attrs: Vec<Attribute>,
    /// The struct's visibility.
    pub vis: Visibility,
    /// The struct's name.
    pub ident: Ident,
    /// The validated configuration.
    pub config: RuntimeConfig,
    /// The tokens of the `backend` value, to aim the non-Linux `io_uring`
    /// error at (proc-macros run on the host, so the target is checked with
    /// a `cfg` in the output).
    pub backend_tokens: Option<TokenStream>,
}

fn duration(d: std::time::Duration) -> TokenStream {
    let nanos = Literal::u64_suffixed(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    quote!(::zokio::__private::Duration::from_nanos(#nanos))
}

impl ToTokens for RuntimeItem {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let RuntimeItem {
            attrs,
            vis,
            ident,
            config: c,
            backend_tokens,
        } = self;
        let name = ident.to_string();
        let preset = match c.preset {
            Some(p) => {
                let p = p.as_str();
                quote!(::core::option::Option::Some(#p))
            }
            None => quote!(::core::option::Option::None),
        };
        let flavor = match c.flavor {
            Flavor::CurrentThread => quote!(::zokio::spec::Flavor::CurrentThread),
            Flavor::MultiThread => quote!(::zokio::spec::Flavor::MultiThread),
        };
        let workers = match c.workers {
            Workers::Auto => quote!(::zokio::spec::Workers::Auto),
            Workers::Fixed(n) => {
                let n = Literal::usize_suffixed(n as usize);
                quote!(::zokio::spec::Workers::Fixed(#n))
            }
        };
        let backend = match c.backend {
            Backend::Mio => quote!(::zokio::spec::Backend::Mio),
            Backend::IoUring => quote!(::zokio::spec::Backend::IoUring),
            Backend::Auto => quote!(::zokio::spec::Backend::Auto),
        };
        let metrics = c.metrics;
        let metrics_ty = if c.metrics {
            quote!(::zokio::spec::MetricsOn)
        } else {
            quote!(::zokio::spec::MetricsOff)
        };
        let detect_blocking = match c.detect_blocking {
            Some(d) => {
                let d = duration(d);
                quote!(::core::option::Option::Some(#d))
            }
            None => quote!(::core::option::Option::None),
        };
        let s = &c.scheduler;
        let local_queue = Literal::usize_suffixed(s.local_queue as usize);
        let global_queue_interval = Literal::u32_suffixed(s.global_queue_interval);
        let event_interval = Literal::u32_suffixed(s.event_interval);
        let lifo_slot = s.lifo_slot;
        let budget = Literal::u32_suffixed(s.budget);
        let events_per_tick = Literal::usize_suffixed(c.io.events_per_tick as usize);
        let uring_entries = Literal::u32_suffixed(c.io.uring_entries);
        let uring_sqpoll = match c.io.uring_sqpoll {
            Some(d) => {
                let d = duration(d);
                quote!(::core::option::Option::Some(#d))
            }
            None => quote!(::core::option::Option::None),
        };
        let resolution = duration(c.timer.resolution);
        let max_threads = Literal::usize_suffixed(c.blocking.max_threads as usize);
        let keep_alive = duration(c.blocking.keep_alive);
        let stack_size = Literal::usize_suffixed(c.blocking.stack_size as usize);

        let io_uring_target_check = match (c.backend, backend_tokens) {
            (Backend::IoUring, Some(at)) => {
                let span = at.clone().into_iter().next().map(|t| t.span());
                let span = span.unwrap_or_else(proc_macro2::Span::call_site);
                quote_spanned! {span=>
                    #[cfg(not(target_os = "linux"))]
                    ::core::compile_error!(
                        "`backend = \"io_uring\"` is only available on Linux\n\n= help: use `backend = \"auto\"` or `backend = \"mio\"`"
                    );
                }
            }
            _ => TokenStream::new(),
        };

        // Inherent copies of the constants, so `AppRuntime::WORKERS` works
        // without importing `Spec`.
        let consts = [
            ("NAME", quote!(&'static str)),
            ("PRESET", quote!(::core::option::Option<&'static str>)),
            ("FLAVOR", quote!(::zokio::spec::Flavor)),
            ("WORKERS", quote!(::zokio::spec::Workers)),
            ("BACKEND", quote!(::zokio::spec::Backend)),
            ("METRICS", quote!(bool)),
            (
                "DETECT_BLOCKING",
                quote!(::core::option::Option<::zokio::__private::Duration>),
            ),
            ("GLOBAL_QUEUE_INTERVAL", quote!(u32)),
            ("EVENT_INTERVAL", quote!(u32)),
            ("LIFO_SLOT", quote!(bool)),
            ("BUDGET", quote!(u32)),
            ("EVENTS_PER_TICK", quote!(usize)),
            (
                "URING_SQPOLL",
                quote!(::core::option::Option<::zokio::__private::Duration>),
            ),
            ("TIMER_RESOLUTION", quote!(::zokio::__private::Duration)),
            ("BLOCKING_MAX_THREADS", quote!(usize)),
            ("BLOCKING_KEEP_ALIVE", quote!(::zokio::__private::Duration)),
            ("THREAD_STACK_SIZE", quote!(usize)),
        ]
        .into_iter()
        .map(|(name, ty)| {
            let id = Ident::new(name, proc_macro2::Span::call_site());
            quote!(pub const #id: #ty = <Self as ::zokio::Spec>::#id;)
        });

        tokens.extend(quote! {
            #(#attrs)*
            #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy, ::core::default::Default)]
            #vis struct #ident;

            impl ::zokio::Spec for #ident {
                const NAME: &'static str = #name;
                const PRESET: ::core::option::Option<&'static str> = #preset;
                const FLAVOR: ::zokio::spec::Flavor = #flavor;
                const WORKERS: ::zokio::spec::Workers = #workers;
                const BACKEND: ::zokio::spec::Backend = #backend;
                const METRICS: bool = #metrics;
                const DETECT_BLOCKING: ::core::option::Option<::zokio::__private::Duration> = #detect_blocking;
                const GLOBAL_QUEUE_INTERVAL: u32 = #global_queue_interval;
                const EVENT_INTERVAL: u32 = #event_interval;
                const LIFO_SLOT: bool = #lifo_slot;
                const BUDGET: u32 = #budget;
                const EVENTS_PER_TICK: usize = #events_per_tick;
                const URING_SQPOLL: ::core::option::Option<::zokio::__private::Duration> = #uring_sqpoll;
                const TIMER_RESOLUTION: ::zokio::__private::Duration = #resolution;
                const BLOCKING_MAX_THREADS: usize = #max_threads;
                const BLOCKING_KEEP_ALIVE: ::zokio::__private::Duration = #keep_alive;
                const THREAD_STACK_SIZE: usize = #stack_size;
                type LocalQueue = ::zokio::spec::QueueDepth<#local_queue>;
                type UringEntries = ::zokio::spec::RingEntries<#uring_entries>;
                type Metrics = #metrics_ty;
            }

            // The validator already checked these; the asserts keep the
            // generated code honest if it is edited or hand-written.
            const _: () = ::zokio::spec::assert_valid::<#ident>();
            const _: () = ::core::assert!(
                (#local_queue).is_power_of_two() && (#uring_entries).is_power_of_two(),
                "queue and ring sizes must be powers of two"
            );

            #io_uring_target_check

            #[allow(dead_code)]
            impl #ident {
                #(#consts)*

                /// Starts this runtime.
                pub fn build() -> ::std::io::Result<::zokio::Runtime<Self>> {
                    ::zokio::Runtime::<Self>::build()
                }

                /// Builds this runtime, runs `future` on it to completion,
                /// and shuts it down.
                ///
                /// # Panics
                ///
                /// Panics when the runtime cannot start (for example when the
                /// operating system refuses to start its threads).
                #[track_caller]
                pub fn block_on<F: ::core::future::Future>(future: F) -> F::Output {
                    ::zokio::__private::block_on::<Self, F>(future)
                }

                /// A readable summary of the effective configuration.
                pub fn describe() -> ::std::string::String {
                    ::zokio::spec::describe::<Self>()
                }
            }
        });
    }
}
