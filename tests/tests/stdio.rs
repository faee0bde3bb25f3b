//! `zokio::io::{stdin, stdout, stderr}`: this test binary runs itself as a
//! child with its standard streams piped; the child copies its input to
//! its output with `zokio::io::copy` (more bytes than one blocking read or
//! write moves) and reports on its error stream, on two runtime
//! configurations. The parent checks every byte.

use std::io::Write;
use std::process::{Command, Stdio};

use zokio::io::AsyncWriteExt;

/// The child's environment variable naming the runtime to run on.
const CHILD: &str = "ZOKIO_STDIO_CHILD";

zokio::runtime! { MioCt { flavor = "current_thread", backend = "mio" } }
zokio::runtime! { UringMt { flavor = "multi_thread", workers = 2, backend = "io_uring" } }

async fn copy_stdin_to_stdout() {
    let mut out = zokio::io::stdout();
    out.write_all(b"<<BEGIN>>").await.unwrap();
    let n = zokio::io::copy(&mut zokio::io::stdin(), &mut out)
        .await
        .unwrap();
    out.write_all(b"<<END>>").await.unwrap();
    out.flush().await.unwrap();
    let mut err = zokio::io::stderr();
    err.write_all(format!("copied {n} bytes\n").as_bytes())
        .await
        .unwrap();
    err.shutdown().await.unwrap();
}

/// Runs only in a child started by the test below.
#[test]
fn child() {
    match std::env::var(CHILD).as_deref() {
        Ok("mio") => MioCt::block_on(copy_stdin_to_stdout()),
        Ok("io_uring") => UringMt::block_on(copy_stdin_to_stdout()),
        _ => {}
    }
}

fn through_a_child(runtime: &str) {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(CHILD, runtime)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = {
        let data = data.clone();
        std::thread::spawn(move || stdin.write_all(&data).unwrap())
    };
    let output = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = output.stdout;
    let begin = find(&stdout, b"<<BEGIN>>").expect("the child's output starts") + 9;
    let end = find(&stdout, b"<<END>>").expect("the child's output ends");
    assert_eq!(end - begin, data.len(), "bytes lost or added");
    assert!(stdout[begin..end] == data[..], "bytes changed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("copied {} bytes", data.len())),
        "{stderr}"
    );
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn stdin_to_stdout_and_stderr_mio_current_thread() {
    through_a_child("mio");
}

#[test]
fn stdin_to_stdout_and_stderr_io_uring_multi_thread() {
    through_a_child("io_uring");
}
