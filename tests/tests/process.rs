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

            #[test]
            fn one_childs_output_piped_into_another() {
                run_on::<Rt, _, _>(super::one_childs_output_piped_into_another);
            }

            #[test]
            fn from_std_takes_over_a_std_childs_pipes() {
                run_on::<Rt, _, _>(super::from_std_takes_over_a_std_childs_pipes);
            }

            #[test]
            fn command_unix_settings_reach_the_child() {
                run_on::<Rt, _, _>(super::command_unix_settings_reach_the_child);
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

/// A child's `ChildStdout`, turned into a `Stdio`, is the next child's
/// input (`echo ... | tr a-z A-Z`); the descriptor handed over is back in
/// blocking mode, as a program reading its input expects.
async fn one_childs_output_piped_into_another() {
    let mut first = Command::new("echo")
        .arg("piped from one child to the next")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = first.stdout.take().unwrap();
    let fd = stdout.into_owned_fd().unwrap();
    // SAFETY: `fcntl` on a descriptor this test owns; no pointers.
    let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_GETFL) };
    assert_eq!(flags & libc::O_NONBLOCK, 0, "handed over in blocking mode");
    let second = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(Stdio::from(fd))
        .output();
    assert!(first.wait().await.unwrap().success());
    let output = second.await.unwrap();
    assert!(output.status.success());
    assert_eq!(output.stdout, b"PIPED FROM ONE CHILD TO THE NEXT\n");

    // The same through `TryFrom<ChildStdout> for Stdio`.
    let mut first = Command::new("echo")
        .arg("again")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdio: Stdio = first.stdout.take().unwrap().try_into().unwrap();
    let output = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(stdio)
        .output()
        .await;
    assert_eq!(output.unwrap().stdout, b"AGAIN\n");
    assert!(first.wait().await.unwrap().success());
}

/// `ChildStdin::from_std` and `ChildStdout::from_std` take over the pipes
/// of a child std spawned: bytes written through one come back through
/// `cat` on the other.
async fn from_std_takes_over_a_std_childs_pipes() {
    let mut child = std::process::Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = zokio::process::ChildStdin::from_std(child.stdin.take().unwrap()).unwrap();
    let mut stdout = zokio::process::ChildStdout::from_std(child.stdout.take().unwrap()).unwrap();
    stdin.write_all(b"through std's pipes").await.unwrap();
    drop(stdin);
    let mut got = Vec::new();
    stdout.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"through std's pipes");
    assert!(child.wait().unwrap().success());
}

/// `arg0`, `process_group`, `uid`/`gid` and `pre_exec` reach the child:
/// the shell sees its `argv[0]`, leads a new process group, runs as the
/// ids asked for; a `pre_exec` error fails the spawn with that error.
async fn command_unix_settings_reach_the_child() {
    let output = Command::new("sh")
        .arg0("custom-argv0")
        .args(["-c", "echo $0"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.stdout, b"custom-argv0\n");

    let mut child = Command::new("sh")
        .args(["-c", "cut -d' ' -f5 /proc/$$/stat"])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut pgid = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut pgid)
        .await
        .unwrap();
    assert!(child.wait().await.unwrap().success());
    assert_eq!(
        pgid.trim(),
        pid.to_string(),
        "the child leads its own group"
    );

    // As root, another user; otherwise the test's own ids (still set by
    // `setuid`/`setgid` in the child).
    // SAFETY: these calls cannot fail and touch no memory.
    let (uid, gid) = unsafe {
        if libc::geteuid() == 0 {
            (65534, 65534)
        } else {
            (libc::getuid(), libc::getgid())
        }
    };
    let output = Command::new("sh")
        .args(["-c", "echo $(id -u) $(id -g)"])
        .uid(uid)
        .gid(gid)
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{uid} {gid}\n")
    );

    let mut command = Command::new("true");
    // SAFETY: the closure only builds an error from a number: no
    // allocation, no locks.
    unsafe {
        command.pre_exec(|| Err(std::io::Error::from_raw_os_error(libc::EPERM)));
    }
    let err = command
        .spawn()
        .expect_err("pre_exec's error fails the spawn");
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    assert!(!command.get_kill_on_drop());
    assert!(command.kill_on_drop(true).get_kill_on_drop());
}
