//! Whether io_uring can run on this machine.
//!
//! The kernel can refuse io_uring in several ways: it may be built without
//! it, `kernel.io_uring_disabled` may be 1 (only the `io_uring_group` may
//! create rings) or 2 (nobody may), a seccomp filter (containers) may make
//! `io_uring_setup` fail with `EPERM`/`ENOSYS`, or the kernel may be too old
//! for the operations the backend needs. The only reliable test is to try:
//! create a small ring and ask it which opcodes it supports. The answer is
//! computed once per process.

use std::sync::OnceLock;

/// Answers "can io_uring run here?", with the reason when it cannot.
/// Injectable so the `auto` decision can be tested without a kernel that
/// refuses io_uring.
pub(crate) trait Probe {
    fn io_uring(&self) -> Result<(), String>;
}

/// Asks the running kernel.
pub(crate) struct KernelProbe;

impl Probe for KernelProbe {
    fn io_uring(&self) -> Result<(), String> {
        static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
        ANSWER.get_or_init(probe_kernel).clone()
    }
}

/// Set (to anything) in the environment, makes `backend = "auto"` choose mio
/// as if the kernel refused io_uring: for comparing the backends, and for
/// testing the fallback path on a machine where io_uring works.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub const DISABLE_ENV: &str = "ZOKIO_NO_IO_URING";

#[cfg(target_os = "linux")]
fn probe_kernel() -> Result<(), String> {
    if std::env::var_os(DISABLE_ENV).is_some() {
        return Err(format!(
            "io_uring is disabled by the environment variable {DISABLE_ENV}"
        ));
    }
    if let Ok(value) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        && value.trim() == "2"
    {
        return Err("io_uring is disabled by the sysctl kernel.io_uring_disabled = 2".into());
    }
    super::uring::probe_ring()
}

#[cfg(not(target_os = "linux"))]
fn probe_kernel() -> Result<(), String> {
    Err("io_uring exists only on Linux".into())
}
