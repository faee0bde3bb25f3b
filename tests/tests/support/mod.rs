//! The harness the integration suites share: each test on its own thread
//! under a watchdog, its body under a timeout, and descriptor counting.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread;
use std::time::Duration;

/// How long a test body may run before it fails as hung.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a test, runtime start-up and shutdown included, may run before
/// the watchdog fails it. Longer than `BODY_TIMEOUT`, so a hung body reports
/// through the body timeout and this one catches hangs the timer cannot (a
/// wedged runtime, a shutdown that never returns).
pub const WATCHDOG: Duration = Duration::from_secs(90);

/// Tests that count the process's open file descriptors take this lock for
/// writing; every other test takes it for reading, so no other test opens or
/// closes descriptors while a count is being compared.
pub static FD_GATE: RwLock<()> = RwLock::new(());

/// What a test thread is doing, for the watchdog to report if it hangs.
#[derive(Clone)]
pub struct Stage(Arc<Mutex<&'static str>>);

impl Stage {
    pub fn set(&self, stage: &'static str) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = stage;
    }

    pub fn get(&self) -> &'static str {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs `test` on a fresh thread, holding `FD_GATE` (exclusively if
/// `exclusive`), and fails if it panics or has not finished within
/// `WATCHDOG`, saying at which stage it hung. The panic of the test thread is
/// re-raised here unchanged.
pub fn guarded(exclusive: bool, test: impl FnOnce(&Stage) + Send + 'static) {
    let (_shared, _exclusive) = if exclusive {
        (
            None,
            Some(FD_GATE.write().unwrap_or_else(PoisonError::into_inner)),
        )
    } else {
        (
            Some(FD_GATE.read().unwrap_or_else(PoisonError::into_inner)),
            None,
        )
    };
    let name = thread::current().name().unwrap_or("net test").to_owned();
    let stage = Stage(Arc::new(Mutex::new("starting")));
    let (done, finished) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name(name.clone())
        .spawn({
            let stage = stage.clone();
            move || {
                test(&stage);
                // On a panic `done` is dropped instead, which also wakes the
                // watchdog.
                let _ = done.send(());
            }
        })
        .expect("spawning the test thread");
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(RecvTimeoutError::Timeout) => panic!(
            "{name}: did not finish within {WATCHDOG:?}; hung while {}",
            stage.get()
        ),
    }
}

/// Runs `block_on` on the runtime `rt` (it returns whether the body finished
/// within `BODY_TIMEOUT`), then drops `rt`, recording each stage; a body that
/// panicked or timed out fails the test once the runtime is dropped.
pub fn run_stages<R>(stage: &Stage, rt: R, block_on: impl FnOnce(&R) -> bool) {
    stage.set("running the test body");
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(&rt)));
    stage.set(match outcome {
        Ok(true) => "dropping the runtime after the body finished",
        Ok(false) => "dropping the runtime after the body timed out",
        Err(_) => "dropping the runtime after the body panicked",
    });
    drop(rt);
    match outcome {
        Ok(true) => {}
        Ok(false) => panic!("the test body did not finish within {BODY_TIMEOUT:?} (hung)"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The process's open file descriptors and what each refers to, leaving out
/// the one used to list them.
pub fn open_fds() -> BTreeMap<i32, String> {
    let mut fds = BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("listing /proc/self/fd") {
        let entry = entry.expect("reading /proc/self/fd");
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // The directory's own descriptor is closed by now; it no longer
        // resolves (or resolves to the fd directory itself).
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy().into_owned();
        if target.starts_with("/proc/") && target.ends_with("/fd") {
            continue;
        }
        fds.insert(fd, target);
    }
    fds
}

pub fn assert_same_fds(before: &BTreeMap<i32, String>, after: &BTreeMap<i32, String>, when: &str) {
    if before != after {
        let opened: Vec<_> = after
            .iter()
            .filter(|(fd, _)| !before.contains_key(fd))
            .collect();
        let closed: Vec<_> = before
            .iter()
            .filter(|(fd, _)| !after.contains_key(fd))
            .collect();
        panic!(
            "{when}: open file descriptors changed ({} -> {}); newly open: {opened:?}; \
             closed: {closed:?}",
            before.len(),
            after.len()
        );
    }
}

/// Runs `body` on a fresh runtime `S` under `BODY_TIMEOUT` and the
/// watchdog, then drops the runtime; fails if the body panicked or hung.
pub fn run_on<S, F, Fut>(body: F)
where
    S: zokio::Spec,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    guarded(false, move |stage| {
        stage.set("building the runtime");
        let rt = zokio::Runtime::<S>::build().expect("building the runtime");
        run_stages(stage, rt, |rt| {
            rt.block_on(async { zokio::time::timeout(BODY_TIMEOUT, body()).await.is_ok() })
        });
    });
}

/// [`run_on`] through `#[zokio::main]`'s entry point, which builds the
/// runtime for one driving thread (on io_uring, a `current_thread` ring is
/// then single-issuer with deferred completion work).
pub fn run_on_single_driver<S, F, Fut>(body: F)
where
    S: zokio::Spec,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    guarded(false, move |stage| {
        // The entry point builds, runs and drops the runtime in one call.
        run_stages(stage, (), |()| {
            zokio::__private::block_on::<S, _>(async {
                zokio::time::timeout(BODY_TIMEOUT, body()).await.is_ok()
            })
        });
    });
}

/// Sets `SO_LINGER` to "on, zero seconds", so closing `socket` sends a reset
/// instead of a FIN.
pub fn set_linger_zero(socket: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open (borrowed from a live `TcpStream`), and
    // the option value points to a `linger` that lives for the call, with its
    // exact size passed as the length.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        std::io::Error::last_os_error()
    );
}
