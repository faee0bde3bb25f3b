//! The task dump: every live task of a runtime with where it was spawned
//! and what it is doing.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use crate::task::Id;

/// What a task is doing, read from its state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting to be woken.
    Idle,
    /// Woken, in a run queue.
    Scheduled,
    /// Being polled now.
    Running,
    /// Finished; its output (or error) waits for its `JoinHandle`.
    Complete,
}

impl TaskState {
    /// The lower-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskState::Idle => "idle",
            TaskState::Scheduled => "scheduled",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
        }
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One task of a [`TaskDump`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task's id (as in `JoinHandle::id`-style diagnostics and the
    /// blocked-worker warning).
    pub id: Id,
    /// Where `spawn` was called.
    pub location: &'static Location<'static>,
    /// What it is doing.
    pub state: TaskState,
    /// How many times it was polled (`None` with metrics off).
    pub polls: Option<u32>,
    /// How long ago its last poll began, to within the last
    /// [`POLL_TIME_SAMPLE`](crate::metrics::POLL_TIME_SAMPLE) polls of its
    /// worker or its last wake-up (`None` with metrics off or before its
    /// first poll).
    pub since_last_poll: Option<Duration>,
}

/// The live tasks of a runtime: [`Handle::dump`](crate::runtime::Handle::dump).
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let (_tx, rx) = zokio::sync::oneshot::channel::<()>();
///     let line = line!() + 1;
///     let waiting = zokio::spawn(async move { rx.await.ok() });
///     zokio::task::yield_now().await;
///     let dump = zokio::runtime::Handle::current().dump();
///     let task = dump.tasks.iter().find(|t| t.location.line() == line).unwrap();
///     assert_eq!(task.state, zokio::metrics::TaskState::Idle);
///     println!("{dump}");
///     waiting.abort();
/// });
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TaskDump {
    /// The tasks, by id.
    pub tasks: Vec<TaskInfo>,
}

impl fmt::Display for TaskDump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} live task{}",
            self.tasks.len(),
            if self.tasks.len() == 1 { "" } else { "s" }
        )?;
        for t in &self.tasks {
            write!(f, "  task {:<6} {:<9}", t.id.to_string(), t.state)?;
            match t.polls {
                Some(n) => write!(f, " polls {n:<6}")?,
                None => write!(f, " polls -     ")?,
            }
            match t.since_last_poll {
                Some(d) => write!(f, " last poll {:>10} ago", format!("{d:.1?}"))?,
                None => write!(f, " {:>23}", "not polled yet")?,
            }
            writeln!(f, "  spawned at {}", t.location)?;
        }
        Ok(())
    }
}
