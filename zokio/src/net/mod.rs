//! Networking: TCP, UDP and Unix domain sockets, on either backend.
//!
//! The types are tokio's in shape: `async` constructors and operations,
//! tokio's `AsyncRead`/`AsyncWrite` on the streams. They work the same on the
//! `mio` and the `io_uring` backend; which one runs is the runtime's
//! `backend` setting. Streams also offer owned-buffer reads and writes
//! (`read_owned`, `write_owned`), the form io_uring needs to avoid a copy.

mod addr;
mod datagram;
#[cfg(feature = "futures-io")]
mod futures_io;
mod split;
pub mod tcp;
mod tcp_socket;
mod udp;
pub mod unix;

pub use addr::{ToSocketAddrs, lookup_host};
pub use tcp::{TcpListener, TcpStream};
pub use tcp_socket::TcpSocket;
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
