//! A reference echo server with no runtime at all (see `benches/README.md`,
//! "What bounds the network benchmarks"): one thread, one mio `Poll`,
//! edge-triggered reads and writes straight from the event loop.
//!
//! It is not a competitor: it has no tasks, no wake-ups and no second
//! thread, so it is about the least CPU a server can spend per round trip
//! with readiness-based I/O. Run against the same load generator, it shows
//! the ceiling the machine and the load generator allow; a runtime's server
//! that reaches it cannot be beaten by server code on this benchmark.
//!
//! ```text
//! echo_server_floor [--addr 127.0.0.1:0] [--flavor multi_thread|current_thread]
//! ```
//!
//! (`--flavor` is accepted for `echo.py` and ignored.) Once bound it prints
//! `listening on ADDR pid PID`; it serves until killed.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

/// One connection and the echo bytes it could not take yet.
struct Conn {
    stream: TcpStream,
    pending: Vec<u8>,
}

fn serve(addr: SocketAddr) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!(
        "listening on {} pid {}",
        listener.local_addr()?,
        std::process::id()
    );
    let mut conns: HashMap<usize, Conn> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 4096];
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in &events {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let token = Token(next);
                            next += 1;
                            poll.registry().register(
                                &mut stream,
                                token,
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            conns.insert(
                                token.0,
                                Conn {
                                    stream,
                                    pending: Vec::new(),
                                },
                            );
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            eprintln!("echo_server_floor: accept: {e}");
                            break;
                        }
                    }
                }
                continue;
            }
            let id = event.token().0;
            let Some(conn) = conns.get_mut(&id) else {
                continue;
            };
            if !pump(conn, &mut buf) {
                conns.remove(&id);
            }
        }
    }
}

/// Echoes everything readable; returns false once the connection is done.
fn pump(conn: &mut Conn, buf: &mut [u8]) -> bool {
    loop {
        // Flush what the socket could not take before reading more.
        while !conn.pending.is_empty() {
            match conn.stream.write(&conn.pending) {
                Ok(n) => {
                    conn.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        let n = match conn.stream.read(buf) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        match conn.stream.write(&buf[..n]) {
            Ok(sent) => conn.pending.extend_from_slice(&buf[sent..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.pending.extend_from_slice(&buf[..n]);
            }
            Err(_) => return false,
        }
        if n < buf.len() {
            // A short read drained the socket (edge-triggered: the next
            // event says when there is more).
            return true;
        }
    }
}

fn main() -> ExitCode {
    let mut addr: SocketAddr = "127.0.0.1:0".parse().expect("a valid address");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value) {
            ("--addr", Some(v)) => match v.parse() {
                Ok(a) => addr = a,
                Err(e) => {
                    eprintln!("echo_server_floor: --addr {v}: {e}");
                    return ExitCode::from(2);
                }
            },
            ("--flavor", Some(_)) => {}
            _ => {
                eprintln!("usage: echo_server_floor [--addr HOST:PORT] [--flavor F]");
                return ExitCode::from(2);
            }
        }
    }
    match serve(addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server_floor: {e}");
            ExitCode::FAILURE
        }
    }
}
