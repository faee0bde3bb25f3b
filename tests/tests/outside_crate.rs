//! Crates outside the workspace that depend on `zokio` by path, built with
//! cargo the way a user would build them: the `runtime!` example runs, bad
//! configurations fail to compile at the offending token, and a bad
//! `zokio.toml` fails the build with `zokio.toml:LINE:COLUMN`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Writes a standalone crate (its own `[workspace]`, the workspace's
/// `Cargo.lock` so versions match and nothing is resolved anew).
fn scaffold(name: &str, build_script: bool, files: &[(&str, &str)]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("outside")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src/bin")).unwrap();
    let root = workspace_root();
    let build_dep = if build_script {
        format!(
            "[build-dependencies]\nzokio-codegen = {{ path = {:?} }}\n",
            root.join("zokio-codegen")
        )
    } else {
        String::new()
    };
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [dependencies]\nzokio = {{ path = {:?} }}\n{build_dep}\n[workspace]\n",
        root.join("zokio")
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    for (path, text) in files {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    dir
}

fn cargo(dir: &Path, args: &[&str]) -> Output {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("outside-target");
    Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("cargo runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const API_EXAMPLE: &str = r#"
zokio::runtime! {
    /// Doc comments and attributes pass through to the generated type.
    pub AppRuntime {
        flavor = "multi_thread",
        workers = 2,
        backend = "auto",
        metrics = true,
        scheduler(local_queue = 256, global_queue_interval = 61, event_interval = 61, lifo_slot = true, budget = 128),
        io(events_per_tick = 1024, uring_entries = 256),
        timer(resolution = "1ms"),
        blocking(max_threads = 512, keep_alive = "10s"),
    }
}

fn main() -> std::io::Result<()> {
    let rt = AppRuntime::build()?;
    let answer = rt.block_on(async {
        zokio::spawn(async { 40 + 2 }).await.unwrap()
    });
    assert_eq!(answer, 42);
    println!("answer = {answer}");
    Ok(())
}
"#;

const MAIN_WITH_RUNTIME: &str = r#"
zokio::runtime! {
    pub AppRuntime { flavor = "multi_thread", workers = 2 }
}

#[zokio::main(runtime = AppRuntime)]
async fn main() {
    let answer = zokio::spawn(async { 40 + 2 }).await.unwrap();
    assert_eq!(answer, 42);
    println!("answer = {answer}");
}
"#;

const MAIN_INLINE: &str = r#"
#[zokio::main(flavor = "current_thread", backend = "mio", scheduler(budget = 64))]
async fn main() {
    let answer = zokio::spawn(async { 40 + 2 }).await.unwrap();
    assert_eq!(answer, 42);
    println!("answer = {answer}");
}
"#;

const WORKERS_ZERO: &str = r#"
zokio::runtime! {
    pub AppRuntime {
        flavor = "multi_thread",
        workers = 0,
    }
}

fn main() {}
"#;

#[test]
fn runtime_and_main_forms_run_in_a_crate_outside_the_workspace() {
    let dir = scaffold(
        "zokio-outside-app",
        false,
        &[
            ("src/bin/api.rs", API_EXAMPLE),
            ("src/bin/main_runtime.rs", MAIN_WITH_RUNTIME),
            ("src/bin/main_inline.rs", MAIN_INLINE),
            ("src/bin/workers_zero.rs", WORKERS_ZERO),
        ],
    );
    for bin in ["api", "main_runtime", "main_inline"] {
        let out = cargo(&dir, &["run", "--quiet", "--bin", bin]);
        assert!(out.status.success(), "{bin} failed:\n{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "answer = 42", "{bin}");
    }

    let out = cargo(&dir, &["build", "--bin", "workers_zero"]);
    assert!(!out.status.success(), "workers = 0 must not compile");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: `workers = 0` is out of range: must be from 1 to 1024"),
        "{stderr}"
    );
    // The caret line sits under the `0` of `workers = 0`.
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("workers = 0,"))
        .unwrap_or_else(|| panic!("no source line in:\n{stderr}"));
    let source = lines[at];
    let carets = lines[at + 1];
    let zero_col = source.find("= 0").unwrap() + 2;
    assert_eq!(
        carets.find('^'),
        Some(zero_col),
        "caret misplaced:\n{source}\n{carets}"
    );
    assert_eq!(
        carets.matches('^').count(),
        1,
        "caret spans more than the 0:\n{carets}"
    );
}

#[test]
fn bad_zokio_toml_fails_the_build_with_line_and_column() {
    let dir = scaffold(
        "zokio-outside-bad-toml",
        true,
        &[
            (
                "build.rs",
                "fn main() { zokio_codegen::build(\"zokio.toml\"); }\n",
            ),
            (
                "zokio.toml",
                "name = \"AppRuntime\"\nflavor = \"multi_thread\"\nwrokers = 4\n\n[scheduler]\nlocal_queue = 100\n",
            ),
            (
                "src/main.rs",
                "zokio::include_runtime!();\nfn main() { AppRuntime::block_on(async {}); }\n",
            ),
        ],
    );
    let out = cargo(&dir, &["build"]);
    assert!(
        !out.status.success(),
        "a bad zokio.toml must fail the build"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "error: unknown key `wrokers` in a runtime configuration\n   --> zokio.toml:3:1"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `workers`?"), "{stderr}");
    assert!(
        stderr.contains(
            "error: `scheduler.local_queue = 100` is out of range: must be a power of two from 4 to 65536\n   --> zokio.toml:6:15"
        ),
        "every problem is reported:\n{stderr}"
    );

    // Fixing the file (the build script reruns on change) makes it build and run.
    std::fs::write(
        dir.join("zokio.toml"),
        "name = \"AppRuntime\"\nflavor = \"multi_thread\"\nworkers = 4\n\n[scheduler]\nlocal_queue = 128\n",
    )
    .unwrap();
    let out = cargo(&dir, &["run", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}
