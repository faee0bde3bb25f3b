//! `zokio::process` on each backend and flavor: output and exit codes,
//! stdin to stdout through `cat` with more bytes than a pipe holds (so
//! both pipes wait on the runtime), `try_wait` before and after exit,
//! `kill`, `kill_on_drop`, a missing program. Nothing here waits on time:
//! each wait is for the child's exit or its pipes.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

mod support;
use support::*;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::process::Command;

macro_rules! process_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn output_and_exit_codes() {
                run_on::<Rt, _, _>(super::output_and_exit_codes);
            }

            #[test]
            fn stdin_to_stdout_through_cat() {
                run_on::<Rt, _, _>(super::stdin_to_stdout_through_cat);
            }

            #[test]
            fn try_wait_kill_and_kill_on_drop() {
                run_on::<Rt, _, _>(super::try_wait_kill_and_kill_on_drop);
            }
        }
    };
}

process_suite!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
process_suite!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
process_suite!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
process_suite!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);

async fn output_and_exit_codes() {
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 3"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");

    // `output` gives the child an empty input: `cat` ends at once.
    let out = Command::new("cat").output().await.unwrap();
    assert!(out.status.success() && out.stdout.is_empty());

    let status = Command::new("sh")
        .args(["-c", "exit 0"])
        .status()
        .await
        .unwrap();
    assert!(status.success());

    // `status` and `output` start the process at once and return futures
    // that own it (as tokio's), so they can be spawned.
    let status = zokio::spawn(Command::new("sh").args(["-c", "exit 4"]).status());
    assert_eq!(status.await.unwrap().unwrap().code(), Some(4));
    let output = zokio::spawn(Command::new("echo").arg("spawned").output());
    assert_eq!(output.await.unwrap().unwrap().stdout, b"spawned\n");

    let e = Command::new("/nonexistent/zokio-no-such-program")
        .spawn()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}

/// 1 MiB through `cat`: far more than a pipe buffer (64 KiB), so the
/// writer waits for the child to read and the reader for it to write.
async fn stdin_to_stdout_through_cat() {
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let writer = {
        let data = data.clone();
        zokio::spawn(async move {
            stdin.write_all(&data).await.unwrap();
            // Dropping `stdin` closes the pipe: `cat` sees end of file.
        })
    };
    let mut got = Vec::new();
    stdout.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "bytes changed on the way through cat");
    assert!(child.wait().await.unwrap().success());
    assert_eq!(child.id(), None, "no id once reaped");
}

async fn try_wait_kill_and_kill_on_drop() {
    let mut child = Command::new("sleep").arg("1000").spawn().unwrap();
    assert!(child.id().is_some());
    assert_eq!(child.try_wait().unwrap(), None, "sleep 1000 has not exited");
    child.kill().await.unwrap();
    let status = child.try_wait().unwrap().expect("exited after kill");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    // A second wait returns the same status; killing it now is an error.
    assert_eq!(child.wait().await.unwrap().signal(), Some(libc::SIGKILL));
    assert_eq!(
        child.start_kill().unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );

    // `kill_on_drop`: the child's end of its output pipe closes when it is
    // killed, so reading the pipe to the end returns.
    let mut child = Command::new("sleep")
        .arg("1000")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    drop(child);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}
