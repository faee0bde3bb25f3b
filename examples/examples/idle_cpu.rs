//! Measures the CPU an idle `multi_thread` runtime uses: builds a runtime
//! with 2 workers, leaves it idle for 5 seconds, and prints the process CPU
//! time (user + system) over that window, from `/proc/self/stat` (Linux).
//!
//! Run it with `cargo run --release -p zokio-examples --example idle_cpu`.

use std::time::{Duration, Instant};

zokio::runtime! { Idle { flavor = "multi_thread", workers = 2 } }

/// User + system CPU time of this process, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    // Fields after the command name (which is in parentheses).
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    utime + stime
}

fn main() -> std::io::Result<()> {
    let rt = Idle::build()?;
    // Let the workers start and go idle.
    rt.block_on(async { zokio::spawn(async {}).await.expect("task ran") });
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let before = cpu_ticks();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let used = (cpu_ticks() - before) as f64 / ticks_per_sec;
    let wall = start.elapsed().as_secs_f64();
    println!(
        "idle multi_thread runtime, 2 workers: {used:.3}s CPU over {wall:.1}s = {:.2}% of one core",
        100.0 * used / wall
    );
    drop(rt);
    Ok(())
}
