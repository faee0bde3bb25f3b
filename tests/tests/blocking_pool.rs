//! The blocking pool: bounded threads, queueing when full, idle exit,
//! panics, and cancellation of queued work at shutdown.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

zokio::runtime! { Two { flavor = "current_thread", blocking(max_threads = 2, keep_alive = "10s") } }
zokio::runtime! { Brief { flavor = "multi_thread", workers = 1, blocking(max_threads = 4, keep_alive = "1ms") } }
zokio::runtime! { One { flavor = "current_thread", blocking(max_threads = 1) } }

/// A latch: jobs wait on it, the test opens it; also counts arrivals.
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Gate {
    fn arrive_and_wait(&self) {
        let mut s = self.state.lock().unwrap();
        s.1 += 1;
        self.changed.notify_all();
        while !s.0 {
            s = self.changed.wait(s).unwrap();
        }
    }

    fn wait_for_arrivals(&self, n: usize) {
        let mut s = self.state.lock().unwrap();
        while s.1 < n {
            s = self.changed.wait(s).unwrap();
        }
    }

    fn open(&self) {
        self.state.lock().unwrap().0 = true;
        self.changed.notify_all();
    }

    fn arrivals(&self) -> usize {
        self.state.lock().unwrap().1
    }
}

#[test]
fn a_full_pool_queues_work_and_never_exceeds_its_limit() {
    let rt = Two::build().unwrap();
    let gate = Arc::new(Gate::default());
    let handles: Vec<_> = (0..5)
        .map(|i| {
            let gate = gate.clone();
            rt.spawn_blocking(move || {
                gate.arrive_and_wait();
                i
            })
        })
        .collect();
    gate.wait_for_arrivals(2);
    let state = rt.handle().blocking_pool_state();
    assert_eq!(state.threads, 2, "{state:?}");
    assert_eq!(state.queued, 3, "{state:?}");
    assert_eq!(gate.arrivals(), 2);
    gate.open();
    let results = rt.block_on(async {
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    });
    assert_eq!(results, [0, 1, 2, 3, 4]);
    assert!(rt.handle().blocking_pool_state().threads <= 2);
}

#[test]
fn idle_threads_exit_after_keep_alive() {
    let rt = Brief::build().unwrap();
    let v = rt.block_on(async { zokio::task::spawn_blocking(|| 3).await.unwrap() });
    assert_eq!(v, 3);
    // Wait for the condition, bounded so a broken pool fails instead of hanging.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rt.handle().blocking_pool_state().threads > 0 {
        assert!(
            Instant::now() < deadline,
            "idle blocking thread never exited"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_panicking_blocking_job_reports_a_panic() {
    let rt = Two::build().unwrap();
    let err = rt.block_on(async {
        zokio::task::spawn_blocking(|| panic!("blocked"))
            .await
            .unwrap_err()
    });
    assert!(err.is_panic());
    // The pool keeps working.
    assert_eq!(
        rt.block_on(async { zokio::task::spawn_blocking(|| 1).await.unwrap() }),
        1
    );
}

#[test]
fn shutdown_cancels_queued_blocking_work() {
    let rt = One::build().unwrap();
    let gate = Arc::new(Gate::default());
    let g = gate.clone();
    let running = rt.spawn_blocking(move || g.arrive_and_wait());
    let queued = rt.spawn_blocking(|| "never runs");
    gate.wait_for_arrivals(1);
    rt.shutdown_background();
    gate.open();
    let other = Two::build().unwrap();
    let err = other.block_on(queued).unwrap_err();
    assert!(err.is_cancelled());
    other.block_on(running).unwrap();
}

#[test]
fn spawn_blocking_outside_a_runtime_panics_with_advice() {
    let result = std::panic::catch_unwind(|| drop(zokio::task::spawn_blocking(|| ())));
    assert!(result.is_err());
}
