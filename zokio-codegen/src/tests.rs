use proc_macro2::TokenStream;
use quote::quote;

use super::*;

fn expand(input: TokenStream) -> String {
    runtime(input).to_string()
}

#[test]
fn runtime_macro_and_build_script_render_the_same_tokens() {
    let from_macro = expand(quote! {
        pub AppRuntime { flavor = "multi_thread", workers = 4, scheduler(local_queue = 512), io(uring_entries = 1024) }
    });
    let from_file = generate(
        "flavor = \"multi_thread\"\nworkers = 4\n[scheduler]\nlocal_queue = 512\n[io]\nuring_entries = 1024\n",
        "zokio.toml",
        |_| None,
        Some("linux"),
    )
    .unwrap();
    // The file adds a doc attribute and a header comment; the rest is identical.
    let body_of = |s: &str| {
        s[s.find("pub struct AppRuntime").expect("struct rendered")..]
            .trim()
            .to_owned()
    };
    assert_eq!(body_of(&from_macro), body_of(&from_file));
}

#[test]
fn literals_land_in_const_generic_types() {
    let out = expand(quote! { Rt { scheduler(local_queue = 1024), io(uring_entries = 64) } });
    assert!(out.contains("QueueDepth < 1024usize >"), "{out}");
    assert!(out.contains("RingEntries < 64u32 >"), "{out}");
    assert!(
        out.contains("type Metrics = :: zokio :: spec :: MetricsOff"),
        "{out}"
    );
    assert!(out.contains("assert_valid :: < Rt >"), "{out}");
}

#[test]
fn metrics_on_selects_the_counting_type() {
    let out = expand(quote! { Rt { metrics = true } });
    assert!(
        out.contains("type Metrics = :: zokio :: spec :: MetricsOn"),
        "{out}"
    );
}

#[test]
fn detect_blocking_renders_an_optional_duration() {
    let off = expand(quote! { Rt {} });
    assert!(
        off.contains("const DETECT_BLOCKING : :: core :: option :: Option < :: zokio :: __private :: Duration > = :: core :: option :: Option :: None"),
        "{off}"
    );
    let on = expand(quote! { Rt { detect_blocking = "20ms" } });
    assert!(
        on.contains(
            "Option :: Some (:: zokio :: __private :: Duration :: from_nanos (20000000u64))"
        ),
        "{on}"
    );
}

#[test]
fn invalid_config_still_declares_the_type_next_to_the_errors() {
    let out = expand(quote! { pub Rt { workers = 0, wrokers = 2 } });
    assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    assert!(out.contains("pub struct Rt"), "{out}");
    assert!(out.contains("impl :: zokio :: Spec for Rt"), "{out}");
}

#[test]
fn doc_comments_and_attributes_pass_through() {
    let out = expand(quote! {
        /// The runtime.
        #[allow(dead_code)]
        pub(crate) Rt { }
    });
    assert!(out.contains("# [doc = r\" The runtime.\"]"), "{out}");
    assert!(out.contains("# [allow (dead_code)] # [derive"), "{out}");
    assert!(out.contains("pub (crate) struct Rt"), "{out}");
}

#[test]
fn io_uring_gets_a_target_check_in_macros() {
    let out = expand(quote! { Rt { backend = "io_uring" } });
    assert!(out.contains("cfg (not (target_os = \"linux\"))"), "{out}");
    let out = expand(quote! { Rt { backend = "mio" } });
    assert!(!out.contains("target_os"), "{out}");
}

#[test]
fn build_script_rejects_io_uring_for_other_targets() {
    let err = generate(
        "backend = \"io_uring\"\n",
        "zokio.toml",
        |_| None,
        Some("macos"),
    )
    .unwrap_err();
    assert!(
        err.report().contains("only available on Linux"),
        "{}",
        err.report()
    );
    assert!(
        err.report().contains("--> zokio.toml:1:11"),
        "{}",
        err.report()
    );
}

#[test]
fn build_script_report_lists_every_problem_with_location() {
    let text = "workers = 0\n[timer]\nresolution = \"1 fortnight\"\n";
    let err = generate(text, "zokio.toml", |_| None, None).unwrap_err();
    let report = err.report();
    assert!(report.contains("--> zokio.toml:1:11"), "{report}");
    assert!(report.contains("--> zokio.toml:3:14"), "{report}");
    assert!(report.contains("has 2 problems"), "{report}");
}

#[test]
fn env_override_problems_name_the_variable() {
    let env = |v: &str| (v == "ZOKIO_WORKERS").then(|| "0".to_owned());
    let err = generate("", "zokio.toml", env, None).unwrap_err();
    assert!(
        err.report().contains("environment variable ZOKIO_WORKERS"),
        "{}",
        err.report()
    );
}

#[test]
fn name_key_names_the_type() {
    let code = generate("name = \"Custom\"\n", "zokio.toml", |_| None, None).unwrap();
    assert!(code.contains("pub struct Custom"), "{code}");
    let code = generate("", "zokio.toml", |_| None, None).unwrap();
    assert!(code.contains("pub struct AppRuntime"), "{code}");
}

#[test]
fn main_attribute_wraps_the_body() {
    let out = main(
        quote!(flavor = "current_thread"),
        quote!(
            async fn main() {
                run().await
            }
        ),
    )
    .to_string();
    assert!(out.contains("fn main ()"), "{out}");
    assert!(!out.contains("async fn"), "{out}");
    assert!(
        out.contains("block_on :: < ZokioMainRuntime , _ >"),
        "{out}"
    );
    assert!(out.contains("Flavor :: CurrentThread"), "{out}");
}

#[test]
fn main_with_declared_runtime_declares_nothing() {
    let out = main(
        quote!(runtime = AppRuntime),
        quote!(
            async fn main() {}
        ),
    )
    .to_string();
    assert!(out.contains("block_on :: < AppRuntime , _ >"), "{out}");
    assert!(!out.contains("impl :: zokio :: Spec"), "{out}");
}

#[test]
fn test_attribute_defaults_to_current_thread_and_marks_a_test() {
    let out = test(
        TokenStream::new(),
        quote!(
            async fn it_works() {}
        ),
    )
    .to_string();
    assert!(
        out.contains("# [:: core :: prelude :: v1 :: test]"),
        "{out}"
    );
    assert!(out.contains("Flavor :: CurrentThread"), "{out}");
    let out = test(
        quote!(flavor = "multi_thread", workers = 2),
        quote!(
            async fn it_works() {}
        ),
    )
    .to_string();
    assert!(out.contains("Workers :: Fixed (2usize)"), "{out}");
}

#[test]
fn attribute_errors_keep_the_function() {
    let out = main(
        TokenStream::new(),
        quote!(
            fn main() {}
        ),
    )
    .to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("fn main ()"), "{out}");
}

#[test]
fn include_runtime_reads_out_dir() {
    let out = include_runtime(TokenStream::new()).to_string();
    assert!(out.contains("\"OUT_DIR\""), "{out}");
    assert!(out.contains("\"/zokio_runtime.rs\""), "{out}");
    assert!(
        include_runtime(quote!(x))
            .to_string()
            .contains("compile_error")
    );
}

#[test]
fn schema_is_exposed() {
    assert!(schema().contains("\"local_queue\""));
}

#[test]
fn a_syntax_mistake_does_not_hide_the_other_problems() {
    let out = expand(quote! { Rt { 5, workers = 0 } });
    assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    assert!(out.contains("bare literal"), "{out}");
    assert!(out.contains("`workers = 0` is out of range"), "{out}");
}

#[test]
fn a_scalar_key_written_as_a_group_says_so() {
    let out = expand(quote! { Rt { workers(2) } });
    assert!(
        out.contains("`workers` takes a single value, not a group of keys"),
        "{out}"
    );
    assert!(!out.contains("bare literal"), "{out}");
}

#[test]
fn misspelt_overrides_are_named_and_other_variables_left_alone() {
    let vars = [
        "ZOKIO_WORKRS",
        "ZOKIO_SCHEDULER_LOCAL_QUEU",
        "ZOKIO_IO_URNIG_ENTRIES",
        "ZOKIO_WORKERS",
        "PATH",
        // Variables of zokio's own tests and benchmarks.
        "ZOKIO_NO_IO_URING",
        "ZOKIO_BLESS",
        "ZOKIO_STRESS_SEED",
        "ZOKIO_STRESS_TASKS",
        "ZOKIO_STRESS_TIMERS",
        "ZOKIO_STRESS_CONNECTIONS",
        "ZOKIO_FS_DENIED_PATH",
        "ZOKIO_FS_ATOMIC_TARGET",
        "ZOKIO_FS_ATOMIC_BACKEND",
        "ZOKIO_BENCH_DIR",
        "ZOKIO_BENCH_COUNT",
        "ZOKIO_BENCH_STALL_SECS",
        "ZOKIO_FUZZ_CASES",
        "ZOKIO_FALLBACK_CHILD",
        "ZOKIO_EMFILE_CASE",
    ];
    let warnings = crate::build_script::misspelt_overrides(vars.iter().map(|v| (*v).to_owned()));
    assert_eq!(
        warnings,
        [
            "`ZOKIO_WORKRS` is not a zokio configuration override and is ignored; did you mean `ZOKIO_WORKERS`?",
            "`ZOKIO_SCHEDULER_LOCAL_QUEU` is not a zokio configuration override and is ignored; did you mean `ZOKIO_SCHEDULER_LOCAL_QUEUE`?",
            "`ZOKIO_IO_URNIG_ENTRIES` is not a zokio configuration override and is ignored; did you mean `ZOKIO_IO_URING_ENTRIES`?",
        ]
    );
}
