//! Measures the CPU an idle `multi_thread` runtime uses: for each backend
//! (mio and, on Linux, io_uring), builds a runtime with 2 workers and a
//! listening TCP socket on 127.0.0.1 (so the workers have I/O registered and
//! wait in the I/O driver), leaves it idle for 5 seconds, and prints the
//! process CPU time (user + system) over that window, from
//! `/proc/self/stat` (Linux).
//!
//! Run it with `cargo run --release -p zokio-examples --example idle_cpu`.

use std::time::{Duration, Instant};

zokio::runtime! { IdleMio { flavor = "multi_thread", workers = 2, backend = "mio" } }
#[cfg(target_os = "linux")]
zokio::runtime! { IdleUring { flavor = "multi_thread", workers = 2, backend = "io_uring" } }

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

/// Builds a runtime of `S` with a listener open, lets it go idle, and
/// prints the CPU it used over 5 s.
fn measure<S: zokio::Spec>(name: &str) -> std::io::Result<()> {
    let rt = zokio::Runtime::<S>::build()?;
    // Keep a socket registered with the driver, and let the workers start
    // and go idle.
    let listener = rt.block_on(async {
        let listener = zokio::net::TcpListener::bind("127.0.0.1:0").await?;
        zokio::spawn(async {}).await.expect("task ran");
        Ok::<_, std::io::Error>(listener)
    })?;
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let before = cpu_ticks();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let used = (cpu_ticks() - before) as f64 / ticks_per_sec;
    let wall = start.elapsed().as_secs_f64();
    println!(
        "idle multi_thread runtime, 2 workers, {name}, a listener open: \
         {used:.3}s CPU over {wall:.1}s = {:.2}% of one core",
        100.0 * used / wall
    );
    drop(listener);
    drop(rt);
    Ok(())
}

fn main() -> std::io::Result<()> {
    measure::<IdleMio>("mio")?;
    #[cfg(target_os = "linux")]
    match measure::<IdleUring>("io_uring") {
        Ok(()) => {}
        // A kernel without io_uring (or with it disabled): say so.
        Err(e) => println!("io_uring: not measured: {e}"),
    }
    Ok(())
}
