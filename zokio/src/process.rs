//! Child processes, as tokio's `process`: a [`Command`] spawns a [`Child`]
//! whose exit is awaited without blocking a worker and whose piped
//! standard streams are [`AsyncRead`]/[`AsyncWrite`].
//!
//! On Linux a child's exit is awaited through a pidfd (`pidfd_open`), a
//! descriptor that becomes readable when the process exits, registered
//! like any other ([`AsyncFd`]) on either
//! backend. Where there is no pidfd (macOS, Linux before 5.3) a thread of
//! the blocking pool waits for it. Pipes are registered the same way, in
//! non-blocking mode (the parent's ends only).
//!
//! A `Child` dropped before it was waited on is left running (unless
//! [`Command::kill_on_drop`] said otherwise) and reaped when it exits, by
//! a thread that waits for it, so it does not linger as a zombie.
//!
//! ```
//! use zokio::process::Command;
//!
//! #[zokio::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let output = Command::new("echo").arg("hello").output().await?;
//!     assert!(output.status.success());
//!     assert_eq!(output.stdout, b"hello\n");
//!     Ok(())
//! }
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::process::{ExitStatus, Output, Stdio};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::io::unix::AsyncFd;

/// A process to start: std's `Command` (every builder method passes
/// through), spawned into a [`Child`] whose waits and pipes are
/// asynchronous.
pub struct Command {
    std: std::process::Command,
    kill_on_drop: bool,
    /// Whether `stdin` was set (`output` gives the child an empty input
    /// otherwise).
    stdin_set: bool,
}

impl Command {
    /// A command running `program` (looked up in `PATH` when it has no
    /// `/`), with no arguments, the parent's environment and working
    /// directory, and inherited standard streams.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command::from(std::process::Command::new(program))
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.std.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.std.args(args);
        self
    }

    /// Sets an environment variable.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.std.env(key, value);
        self
    }

    /// Sets environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.std.envs(vars);
        self
    }

    /// Removes an environment variable.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.std.env_remove(key);
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.std.env_clear();
        self
    }

    /// Sets the working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.std.current_dir(dir);
        self
    }

    /// The child's standard input (`Stdio::piped()` gives
    /// [`Child::stdin`]).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdin(cfg);
        self.stdin_set = true;
        self
    }

    /// The child's standard output (`Stdio::piped()` gives
    /// [`Child::stdout`]).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stdout(cfg);
        self
    }

    /// The child's standard error (`Stdio::piped()` gives
    /// [`Child::stderr`]).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Command {
        self.std.stderr(cfg);
        self
    }

    /// Whether dropping the [`Child`] before it exited kills it
    /// (`SIGKILL`). Off by default, as in tokio.
    pub fn kill_on_drop(&mut self, kill_on_drop: bool) -> &mut Command {
        self.kill_on_drop = kill_on_drop;
        self
    }

    /// Whether [`kill_on_drop`](Self::kill_on_drop) is set.
    pub fn get_kill_on_drop(&self) -> bool {
        self.kill_on_drop
    }

    /// The child's user id (`setuid` before `exec`).
    pub fn uid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::uid(&mut self.std, id);
        self
    }

    /// The child's group id (`setgid` before `exec`).
    pub fn gid(&mut self, id: u32) -> &mut Command {
        std::os::unix::process::CommandExt::gid(&mut self.std, id);
        self
    }

    /// The child's process group: `pgroup` 0 makes it the leader of a new
    /// group with its own id.
    pub fn process_group(&mut self, pgroup: i32) -> &mut Command {
        std::os::unix::process::CommandExt::process_group(&mut self.std, pgroup);
        self
    }

    /// The child's `argv[0]`, in place of the program's name.
    pub fn arg0(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        std::os::unix::process::CommandExt::arg0(&mut self.std, arg);
        self
    }

    /// Runs `f` in the child after `fork` and before `exec`; an error it
    /// returns fails the spawn.
    ///
    /// # Safety
    ///
    /// As std's `CommandExt::pre_exec`: `f` runs in a copy of the process
    /// with only the calling thread, so it must be async-signal-safe (no
    /// allocation, no locks another thread may have held).
    pub unsafe fn pre_exec<F>(&mut self, f: F) -> &mut Command
    where
        F: FnMut() -> io::Result<()> + Send + Sync + 'static,
    {
        // SAFETY: the caller upholds `pre_exec`'s contract (above).
        unsafe { std::os::unix::process::CommandExt::pre_exec(&mut self.std, f) };
        self
    }

    /// The std command, for settings not mirrored here.
    pub fn as_std(&self) -> &std::process::Command {
        &self.std
    }

    /// The std command, mutably.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.std
    }

    /// The std command (`kill_on_drop` is not a std setting and is lost).
    pub fn into_std(self) -> std::process::Command {
        self.std
    }

    /// Starts the process.
    ///
    /// # Panics
    ///
    /// Outside a runtime (its pipes and its exit are registered with the
    /// current one).
    #[track_caller]
    pub fn spawn(&mut self) -> io::Result<Child> {
        // Outside a runtime, panic before the process exists (not after,
        // which would leave it unwatched).
        drop(crate::runtime::io::current_io());
        let mut child = self.std.spawn()?;
        let stdin = child.stdin.take().map(|p| Pipe::new(p.into())).transpose();
        let stdout = child.stdout.take().map(|p| Pipe::new(p.into())).transpose();
        let stderr = child.stderr.take().map(|p| Pipe::new(p.into())).transpose();
        let exit = ExitWatch::new(&child);
        let mut child = Child {
            stdin: None,
            stdout: None,
            stderr: None,
            inner: Some(child),
            status: None,
            exit: None,
            kill_on_drop: self.kill_on_drop,
        };
        // On an error past this point the child exists: `Child`'s drop
        // reaps it (and kills it if asked to).
        child.stdin = stdin?.map(|pipe| ChildStdin { pipe });
        child.stdout = stdout?.map(|pipe| ChildStdout { pipe });
        child.stderr = stderr?.map(|pipe| ChildStderr { pipe });
        child.exit = Some(exit?);
        Ok(child)
    }

    /// Starts the process now, and returns a future of its exit status
    /// (which does not borrow the command). Its standard streams are
    /// inherited unless set otherwise; pipes set are closed at once.
    #[track_caller]
    pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + use<> {
        let child = self.spawn();
        async move {
            let mut child = child?;
            // No pipes to read: the child would block writing to one.
            drop((child.stdin.take(), child.stdout.take(), child.stderr.take()));
            child.wait().await
        }
    }

    /// Starts the process now, with its output and error captured, and
    /// returns a future of its status and everything it wrote. Its input is
    /// empty unless set otherwise (as std's `output`; tokio's leaves it
    /// inherited, so a child reading it would wait on the terminal).
    #[track_caller]
    pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + use<> {
        if !self.stdin_set {
            self.std.stdin(Stdio::null());
        }
        self.std.stdout(Stdio::piped());
        self.std.stderr(Stdio::piped());
        let child = self.spawn();
        if !self.stdin_set {
            // Only for this call: a later `spawn` inherits again.
            self.std.stdin(Stdio::inherit());
        }
        async move {
            let mut child = child?;
            drop(child.stdin.take());
            child.wait_with_output().await
        }
    }
}

impl From<std::process::Command> for Command {
    fn from(std: std::process::Command) -> Command {
        Command {
            std,
            kill_on_drop: false,
            stdin_set: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.std.fmt(f)
    }
}

/// A running (or exited) child process, from [`Command::spawn`].
pub struct Child {
    /// The child's standard input, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if it was piped.
    pub stderr: Option<ChildStderr>,
    /// `None` only while dropping.
    inner: Option<std::process::Child>,
    /// Set once the child was reaped.
    status: Option<ExitStatus>,
    exit: Option<ExitWatch>,
    kill_on_drop: bool,
}

impl Child {
    /// The child's process id; `None` once it was waited for (the id may
    /// then belong to another process).
    pub fn id(&self) -> Option<u32> {
        match (&self.inner, self.status) {
            (Some(child), None) => Some(child.id()),
            _ => None,
        }
    }

    /// Waits for the child to exit, and reaps it. Its standard input is
    /// closed first (a child reading it to the end would otherwise wait for
    /// ever), as in tokio.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a later `wait` gets the status.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = try_reap(&mut self.inner, &mut self.status)? {
                return Ok(status);
            }
            match &mut self.exit {
                #[cfg(target_os = "linux")]
                Some(ExitWatch::PidFd(fd)) => {
                    let mut guard = fd.readable().await?;
                    // A pidfd is readable once the process exited, and
                    // stays so. Still running: the readiness was stale (a
                    // new registration counts as ready on io_uring), so the
                    // next wait waits for the exit itself.
                    if try_reap(&mut self.inner, &mut self.status)?.is_none() {
                        guard.clear_ready();
                    }
                }
                Some(ExitWatch::Blocking { pid, exited }) => {
                    // One waiting thread per child, started by the first
                    // `wait` and kept across cancelled ones; detached, so a
                    // runtime shutting down does not wait for it.
                    let pid = *pid;
                    let receiver = exited.get_or_insert_with(|| {
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        let spawned = std::thread::Builder::new()
                            .name("zokio-child-wait".into())
                            .stack_size(WAIT_THREAD_STACK)
                            .spawn(move || {
                                let _ = tx.send(wait_for_exit(pid));
                            });
                        if let Err(e) = spawned {
                            let (tx, rx) = tokio::sync::oneshot::channel();
                            let _ = tx.send(Err(e));
                            return rx;
                        }
                        rx
                    });
                    let result = receiver.await;
                    // Spent: a further wait (there should be none, the child
                    // has exited) starts a new thread.
                    *exited = None;
                    match result {
                        Ok(result) => result?,
                        Err(_) => return Err(io::Error::other("the child's waiting thread died")),
                    }
                }
                None => return Err(io::Error::other("the child's exit cannot be watched")),
            }
        }
    }

    /// The exit status if the child has exited (reaping it), without
    /// waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        try_reap(&mut self.inner, &mut self.status)
    }

    /// Sends `SIGKILL` without waiting for the exit. A child already
    /// waited for is an `InvalidInput` error, as in tokio.
    pub fn start_kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the child has exited and was waited for: nothing to kill",
            ));
        }
        match self.inner.as_mut() {
            Some(child) => child.kill(),
            None => Ok(()),
        }
    }

    /// Sends `SIGKILL` and waits for the child to exit.
    pub async fn kill(&mut self) -> io::Result<()> {
        self.start_kill()?;
        self.wait().await.map(drop)
    }

    /// Waits for the child to exit while reading all of its piped output and
    /// error (at the same time, so a child that fills one pipe while the
    /// other is read does not stall).
    pub async fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let (mut stdout, mut stderr) = (self.stdout.take(), self.stderr.take());
        let (out, err, status) = tokio::join!(
            read_all(stdout.as_mut()),
            read_all(stderr.as_mut()),
            self.wait()
        );
        Ok(Output {
            status: status?,
            stdout: out?,
            stderr: err?,
        })
    }
}

/// Everything a pipe gives until end of file (nothing without a pipe).
async fn read_all<R: AsyncRead + Unpin>(pipe: Option<&mut R>) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if let Some(pipe) = pipe {
        pipe.read_to_end(&mut bytes).await?;
    }
    Ok(bytes)
}

/// [`Child::try_wait`] on the child's fields (so that it can run while a
/// wait borrows the exit watch).
fn try_reap(
    inner: &mut Option<std::process::Child>,
    status: &mut Option<ExitStatus>,
) -> io::Result<Option<ExitStatus>> {
    if status.is_some() {
        return Ok(*status);
    }
    let Some(child) = inner.as_mut() else {
        return Ok(None);
    };
    *status = child.try_wait()?;
    Ok(*status)
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("id", &self.id())
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let Some(mut child) = self.inner.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        if self.kill_on_drop {
            let _ = child.kill();
        }
        // Reaped when it exits, off the runtime (the runtime may be gone
        // by then), so it does not stay a zombie.
        let _ = std::thread::Builder::new()
            .name("zokio-reap".into())
            .stack_size(WAIT_THREAD_STACK)
            .spawn(move || {
                let _ = child.wait();
            });
    }
}

/// How a child's exit is awaited: a pidfd on the runtime, or a thread
/// that waits (without reaping) for the exit, started by the first wait.
enum ExitWatch {
    #[cfg(target_os = "linux")]
    PidFd(AsyncFd<OwnedFd>),
    Blocking {
        pid: libc::pid_t,
        exited: Option<tokio::sync::oneshot::Receiver<io::Result<()>>>,
    },
}

/// The stack of the threads that wait for a child or reap a dropped one:
/// they only make one system call.
const WAIT_THREAD_STACK: usize = 64 * 1024;

impl ExitWatch {
    #[track_caller]
    fn new(child: &std::process::Child) -> io::Result<ExitWatch> {
        let pid = libc::pid_t::try_from(child.id())
            .map_err(|_| io::Error::other("a process id out of range"))?;
        #[cfg(target_os = "linux")]
        {
            // SAFETY: `pidfd_open(pid, 0)` takes no pointers; the result,
            // when not negative, is a new descriptor this code owns.
            let fd = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_open,
                    libc::c_long::from(pid),
                    0 as libc::c_long,
                )
            };
            if fd >= 0 {
                let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("a bad pidfd"))?;
                // SAFETY: `fd` was just returned by the kernel and nothing
                // else owns it.
                let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
                return Ok(ExitWatch::PidFd(AsyncFd::new(fd)?));
            }
            // No pidfds (ENOSYS before Linux 5.3, or refused by a seccomp
            // filter): the blocking wait below.
        }
        Ok(ExitWatch::Blocking { pid, exited: None })
    }
}

/// Blocks until process `pid` has exited, leaving it unreaped (`WNOWAIT`),
/// so that std's `try_wait` reaps it afterwards.
fn wait_for_exit(pid: libc::pid_t) -> io::Result<()> {
    loop {
        // SAFETY: all-zero bytes are a valid `siginfo_t`, which `waitid`
        // only writes.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a live `siginfo_t` for the call to fill.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &raw mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The parent's end of a pipe to the child, non-blocking and registered
/// with the runtime.
struct Pipe {
    fd: AsyncFd<OwnedFd>,
}

impl Pipe {
    #[track_caller]
    fn new(fd: OwnedFd) -> io::Result<Pipe> {
        // Only the parent's end becomes non-blocking: the child's end is
        // another open file description.
        set_nonblocking(&fd, true)?;
        Ok(Pipe {
            fd: AsyncFd::new(fd)?,
        })
    }

    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = std::task::ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let result = guard.try_io(|fd| {
                // SAFETY: `unfilled` is valid for `len` bytes of writes.
                let n = unsafe {
                    libc::read(
                        fd.get_ref().as_raw_fd(),
                        unfilled.as_mut_ptr().cast(),
                        unfilled.len(),
                    )
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => {}
            }
        }
    }

    fn poll_write(&self, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = std::task::ready!(self.fd.poll_write_ready(cx))?;
            let result = guard.try_io(|fd| {
                // SAFETY: `bytes` is valid for `len` bytes of reads.
                let n = unsafe {
                    libc::write(fd.get_ref().as_raw_fd(), bytes.as_ptr().cast(), bytes.len())
                };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => {}
            }
        }
    }
}

macro_rules! pipe_type {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            pipe: Pipe,
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.pipe.fd.as_raw_fd()
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.pipe.fd.as_fd()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

/// Turns a registered pipe end back into a plain descriptor, in blocking
/// mode (what another process given it expects).
fn into_blocking_fd(pipe: Pipe) -> io::Result<OwnedFd> {
    let fd = pipe.fd.into_inner();
    set_nonblocking(&fd, false)?;
    Ok(fd)
}

/// Sets or clears `O_NONBLOCK` on `fd`'s open file description.
fn set_nonblocking(fd: &OwnedFd, on: bool) -> io::Result<()> {
    // SAFETY: `fcntl` on a descriptor the caller owns; no pointers.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `from_std`, `into_owned_fd` and the conversion into a [`Stdio`] for the
/// pipe type `$name`, whose std counterpart is `$std`.
macro_rules! pipe_conversions {
    ($name:ident, $std:ty) => {
        impl $name {
            /// Takes over a pipe of a child that std spawned (made
            /// non-blocking and registered with the current runtime).
            ///
            /// # Panics
            ///
            /// Outside a runtime.
            #[track_caller]
            pub fn from_std(inner: $std) -> io::Result<$name> {
                Ok($name {
                    pipe: Pipe::new(inner.into())?,
                })
            }

            /// The pipe's descriptor, deregistered and back in blocking
            /// mode.
            pub fn into_owned_fd(self) -> io::Result<OwnedFd> {
                into_blocking_fd(self.pipe)
            }
        }

        /// The pipe as another child's standard stream (to connect two
        /// children), in blocking mode.
        impl TryFrom<$name> for Stdio {
            type Error = io::Error;

            fn try_from(pipe: $name) -> io::Result<Stdio> {
                pipe.into_owned_fd().map(Stdio::from)
            }
        }
    };
}

pipe_type!(
    ChildStdin,
    "The child's standard input ([`AsyncWrite`]); dropping it closes the \
     pipe, so the child reads end of file."
);
pipe_type!(ChildStdout, "The child's standard output ([`AsyncRead`]).");
pipe_type!(ChildStderr, "The child's standard error ([`AsyncRead`]).");
pipe_conversions!(ChildStdin, std::process::ChildStdin);
pipe_conversions!(ChildStdout, std::process::ChildStdout);
pipe_conversions!(ChildStderr, std::process::ChildStderr);

impl AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Nothing to do: the pipe closes when the `ChildStdin` is dropped.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for ChildStdout {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pipe.poll_read(cx, buf)
    }
}

impl AsyncRead for ChildStderr {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pipe.poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::runtime! { Ct { flavor = "current_thread", backend = "auto" } }

    /// `wait` through the fallback (a thread waiting with `waitid`), as
    /// where there is no pidfd: a `wait` cancelled before the exit leaves
    /// its thread to the next `wait`, which gets the status.
    #[test]
    fn waits_without_a_pidfd_through_one_thread_per_child() {
        Ct::block_on(async {
            let mut child = Command::new("sh")
                .args(["-c", "read line; exit 7"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = libc::pid_t::try_from(child.id().unwrap()).unwrap();
            child.exit = Some(ExitWatch::Blocking { pid, exited: None });
            let mut stdin = child.stdin.take().unwrap();
            {
                // Polled once (the waiting thread starts), then dropped.
                let mut wait = std::pin::pin!(child.wait());
                let first = std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx))).await;
                assert!(first.is_pending(), "the child waits for a line");
            }
            let Some(ExitWatch::Blocking { exited, .. }) = &child.exit else {
                unreachable!()
            };
            assert!(exited.is_some(), "the first wait started the thread");
            tokio::io::AsyncWriteExt::write_all(&mut stdin, b"go\n")
                .await
                .unwrap();
            assert_eq!(child.wait().await.unwrap().code(), Some(7));
        });
    }

    /// The wait used where there is no pidfd returns once the process has
    /// exited and leaves it for std to reap (with its status).
    #[test]
    fn blocking_exit_wait_leaves_the_child_to_reap() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "exit 5"])
            .spawn()
            .unwrap();
        let pid = libc::pid_t::try_from(child.id()).unwrap();
        wait_for_exit(pid).unwrap();
        let status = child
            .try_wait()
            .unwrap()
            .expect("exited, and not reaped yet");
        assert_eq!(status.code(), Some(5));
    }
}
