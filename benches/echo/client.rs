//! Load generator for the TCP echo benchmark (see `benches/README.md`).
//!
//! Opens `--connections` connections (default 32) to an echo server and runs
//! a closed loop on each: send one `--size`-byte message (default 64), read
//! the echo back, check every byte, send the next. Every server is measured
//! with this same client.
//!
//! It runs on one thread with mio (epoll) directly, not on either runtime
//! under test: the client shares the machine's cores with the server, so it
//! is kept as cheap as possible (one `write` and one `read` per round trip,
//! plus a share of one `epoll_wait`) and neutral.
//!
//! Two modes:
//!
//! - timed (default): `--warmup` seconds, then `--duration` seconds measured;
//! - counted: `--round-trips N` round trips in total, then exit (used to
//!   count the server's system calls per round trip).
//!
//! The last line of output is machine-readable: `round_trips=N seconds=S
//! round_trips_per_sec=R` over the measured window, and `all_round_trips`
//! including the warm-up. Any error (refused
//! connection, wrong echo, server closing, no progress for `--stall-secs`)
//! exits with status 1 and a message on stderr.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

const USAGE: &str = "\
usage: echo_client --addr HOST:PORT [--connections N] [--size BYTES]
                   [--warmup SECS] [--duration SECS] [--round-trips N]
                   [--stall-secs SECS]";

struct Options {
    addr: SocketAddr,
    connections: usize,
    size: usize,
    warmup: Duration,
    duration: Duration,
    round_trips: Option<u64>,
    stall: Duration,
}

fn parse_args() -> Result<Options, String> {
    let mut addr = None;
    let mut options = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        connections: 32,
        size: 64,
        warmup: Duration::from_secs(1),
        duration: Duration::from_secs(5),
        round_trips: None,
        stall: Duration::from_secs(10),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        let secs = |v: &str| -> Result<Duration, String> {
            let s: f64 = v.parse().map_err(|e| bad(&e))?;
            Duration::try_from_secs_f64(s).map_err(|e| bad(&e))
        };
        match flag.as_str() {
            "--addr" => addr = Some(value.parse().map_err(|e| bad(&e))?),
            "--connections" => options.connections = value.parse().map_err(|e| bad(&e))?,
            "--size" => options.size = value.parse().map_err(|e| bad(&e))?,
            "--warmup" => options.warmup = secs(&value)?,
            "--duration" => options.duration = secs(&value)?,
            "--round-trips" => options.round_trips = Some(value.parse().map_err(|e| bad(&e))?),
            "--stall-secs" => options.stall = secs(&value)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    options.addr = addr.ok_or("--addr is required")?;
    if options.connections == 0 || options.size == 0 {
        return Err("--connections and --size must be at least 1".into());
    }
    Ok(options)
}

/// One connection's closed loop: `sent` bytes of `message` are written, then
/// `received` bytes of the echo are read into `echo`.
struct Connection {
    stream: TcpStream,
    message: Vec<u8>,
    echo: Vec<u8>,
    sent: usize,
    received: usize,
    /// Messages started on this connection; makes every message distinct.
    sequence: u64,
    /// Whether a message is in flight (false once the connection is done).
    active: bool,
}

impl Connection {
    /// Fills `message` with a pattern unique to (connection, sequence), so an
    /// echo from the wrong connection or a stale message is detected.
    fn next_message(&mut self, id: usize) {
        self.sequence += 1;
        let seed = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ self.sequence;
        for (i, byte) in self.message.iter_mut().enumerate() {
            *byte = (seed >> ((i % 8) * 8)) as u8 ^ (i as u8);
        }
        self.sent = 0;
        self.received = 0;
        self.active = true;
    }
}

/// Writes and reads on connection `id` until the socket would block; returns
/// the round trips completed meanwhile. A finished round trip starts the next
/// one while `remaining` (round trips that may still be started) allows.
fn drive(id: usize, conn: &mut Connection, remaining: &mut u64) -> io::Result<u64> {
    let size = conn.message.len();
    let mut completed = 0;
    while conn.active {
        if conn.sent < size {
            match conn.stream.write(&conn.message[conn.sent..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0")),
                Ok(n) => conn.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            if conn.sent == size {
                // The echo cannot be there yet: wait for the readiness event
                // instead of spending a `read` that would return EAGAIN.
                break;
            }
            continue;
        }
        match conn.stream.read(&mut conn.echo[conn.received..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "server closed the connection after {} of {size} echoed bytes",
                        conn.received
                    ),
                ));
            }
            Ok(n) => conn.received += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if conn.received == size {
            if conn.echo != conn.message {
                let at = conn
                    .echo
                    .iter()
                    .zip(&conn.message)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "wrong echo on message {}: byte {at} is {:#04x}, expected {:#04x}",
                        conn.sequence, conn.echo[at], conn.message[at]
                    ),
                ));
            }
            completed += 1;
            conn.active = false;
            if *remaining > 0 {
                *remaining -= 1;
                conn.next_message(id);
            }
        }
    }
    Ok(completed)
}

fn run(options: &Options) -> io::Result<()> {
    let mut poll = Poll::new()?;
    // Round trips that may still be started (unbounded in timed mode).
    let mut remaining = options.round_trips.unwrap_or(u64::MAX);
    let mut conns = Vec::with_capacity(options.connections);
    for id in 0..options.connections {
        let std_stream = std::net::TcpStream::connect(options.addr).map_err(|e| {
            io::Error::new(e.kind(), format!("connecting to {}: {e}", options.addr))
        })?;
        std_stream.set_nodelay(true)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry().register(
            &mut stream,
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns.push(Connection {
            stream,
            message: vec![0; options.size],
            echo: vec![0; options.size],
            sent: 0,
            received: 0,
            sequence: 0,
            active: false,
        });
    }

    let start = Instant::now();
    let mut total: u64 = 0;
    // Start one message per connection (fewer if the budget is smaller).
    for (id, conn) in conns.iter_mut().enumerate() {
        if remaining == 0 {
            break;
        }
        remaining -= 1;
        conn.next_message(id);
        total += drive(id, conn, &mut remaining)?;
    }

    let timed = options.round_trips.is_none();
    let measure_from = start + options.warmup;
    let end = measure_from + options.duration;
    let mut measured_start: Option<(Instant, u64)> = None;
    let mut last_progress = (Instant::now(), total);
    let mut events = Events::with_capacity(options.connections.max(64));
    let finish = loop {
        let now = Instant::now();
        if timed {
            if measured_start.is_none() && now >= measure_from {
                measured_start = Some((now, total));
            }
            if now >= end {
                break now;
            }
        } else if conns.iter().all(|c| !c.active) {
            break now;
        }
        if total != last_progress.1 {
            last_progress = (now, total);
        } else if now - last_progress.0 >= options.stall {
            let waiting = conns.iter().filter(|c| c.active).count();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "no round trip completed for {:.1}s ({total} completed so far, \
                     {waiting} connections waiting for an echo): is the server hung?",
                    options.stall.as_secs_f64()
                ),
            ));
        }
        let timeout = if timed {
            let next = if measured_start.is_none() {
                measure_from
            } else {
                end
            };
            next.saturating_duration_since(now)
                .min(Duration::from_millis(100))
        } else {
            Duration::from_millis(100)
        };
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in &events {
            let id = event.token().0;
            let conn = &mut conns[id];
            if event.is_error() {
                let error = conn
                    .stream
                    .take_error()?
                    .unwrap_or_else(|| io::Error::other("socket error"));
                return Err(io::Error::new(
                    error.kind(),
                    format!("connection {id}: {error}"),
                ));
            }
            total += drive(id, conn, &mut remaining)
                .map_err(|e| io::Error::new(e.kind(), format!("connection {id}: {e}")))?;
        }
    };

    let (from, base) = if timed {
        measured_start.unwrap_or((start, 0))
    } else {
        (start, 0)
    };
    let round_trips = total - base;
    let seconds = (finish - from).as_secs_f64();
    println!(
        "connections={} size={} all_round_trips={total} round_trips={round_trips} \
         seconds={seconds:.3} round_trips_per_sec={:.1}",
        options.connections,
        options.size,
        round_trips as f64 / seconds
    );
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("echo_client: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}
