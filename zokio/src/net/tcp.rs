//! TCP: [`TcpListener`], [`TcpStream`] and the stream's halves.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::addr::{ToSocketAddrs, each_addr};
use crate::buf::{IoBuf, IoBufMut};
use crate::runtime::io::source::Socket;

fn inet(addr: SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the kernel returned a non-IP address",
        )
    })
}

fn new_socket(addr: &SocketAddr) -> io::Result<socket2::Socket> {
    // Created blocking: each backend sets the mode it needs.
    socket2::Socket::new(
        Domain::for_address(*addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )
}

/// A TCP socket server, listening for connections.
///
/// ```
/// use zokio::io::{AsyncReadExt, AsyncWriteExt};
/// use zokio::net::{TcpListener, TcpStream};
///
/// #[zokio::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = zokio::spawn(async move {
///         let (mut conn, _) = listener.accept().await?;
///         let mut buf = [0; 5];
///         conn.read_exact(&mut buf).await?;
///         conn.write_all(&buf).await?;
///         std::io::Result::Ok(())
///     });
///     let mut client = TcpStream::connect(addr).await?;
///     client.write_all(b"hello").await?;
///     let mut echo = [0; 5];
///     client.read_exact(&mut echo).await?;
///     assert_eq!(&echo, b"hello");
///     server.await.unwrap()
/// }
/// ```
pub struct TcpListener {
    socket: Socket,
}

impl TcpListener {
    /// Binds to `addr` (the first of its addresses that works) and starts
    /// listening, with `SO_REUSEADDR` set as tokio and mio do.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(&addr, |a| async move { Self::bind_addr(a) }).await
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = new_socket(&addr)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        Self::from_fd(socket.into())
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpListener> {
        Ok(TcpListener {
            socket: Socket::new(fd)?,
        })
    }

    /// Takes over a listening std socket (in blocking or non-blocking mode).
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Self::from_fd(listener.into())
    }

    /// Gives the socket back as a std listener, in blocking mode.
    ///
    /// On io_uring with multishot accept, connections the listener already
    /// took from the kernel (at most 32, only after an `accept` ran) cannot
    /// go back to its backlog and are closed; convert a listener before
    /// accepting on it.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        let fd = self.socket.into_owned_fd();
        socket2::SockRef::from(&fd).set_nonblocking(false)?;
        Ok(fd.into())
    }

    /// Waits for a connection.
    ///
    /// Errors are per connection and leave the listener working: when the
    /// process is out of descriptors (`EMFILE`/`ENFILE`), the error is
    /// returned and a later `accept` succeeds once descriptors are free. A
    /// server loop should log such errors and continue (perhaps after a
    /// short pause), not stop.
    ///
    /// When the error comes differs by backend. With epoll, as with tokio,
    /// `accept` fails at once while the descriptor table is full, even with
    /// no connection waiting. On io_uring with multishot accept, an
    /// `accept` already waiting fails only when the next connection
    /// arrives, and the connection stays in the backlog for a later `accept`.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection (the poll form of [`accept`](Self::accept)).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (fd, addr) = std::task::ready!(self.socket.source.poll_accept(cx, self.socket.raw()))?;
        let addr = inet(addr)?;
        Poll::Ready(Ok((TcpStream::from_fd(fd)?, addr)))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(self.socket.sock().local_addr()?)
    }

    /// The `IP_TTL` option.
    pub fn ttl(&self) -> io::Result<u32> {
        self.socket.sock().ttl_v4()
    }

    /// Sets the `IP_TTL` option.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.sock().set_ttl_v4(ttl)
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.socket.raw())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.raw()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open while `self` is borrowed.
        unsafe { BorrowedFd::borrow_raw(self.socket.raw()) }
    }
}

/// A TCP connection. Implements tokio's [`AsyncRead`] and [`AsyncWrite`]
/// (use [`zokio::io::AsyncReadExt`](crate::io::AsyncReadExt) and
/// friends), and offers owned-buffer reads and writes
/// ([`read_owned`](Self::read_owned)), which on io_uring avoid the copy the
/// `AsyncRead` adapter makes.
pub struct TcpStream {
    socket: Arc<Socket>,
}

impl TcpStream {
    /// Opens a connection to `addr` (each of its addresses in turn until one
    /// accepts).
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(&addr, Self::connect_addr).await
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        Self::connect_fd(new_socket(&addr)?.into(), addr).await
    }

    /// Connects the new socket `fd` to `addr` (for `connect` and
    /// `TcpSocket::connect`).
    pub(crate) async fn connect_fd(fd: OwnedFd, addr: SocketAddr) -> io::Result<TcpStream> {
        let target: SockAddr = addr.into();
        let socket = Socket::connect(fd, &target).await?;
        Ok(TcpStream {
            socket: Arc::new(socket),
        })
    }

    pub(crate) fn from_fd(fd: OwnedFd) -> io::Result<TcpStream> {
        Ok(TcpStream {
            socket: Arc::new(Socket::new(fd)?),
        })
    }

    /// Takes over a connected std stream.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Self::from_fd(stream.into())
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        inet(self.socket.sock().peer_addr()?)
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(self.socket.sock().local_addr()?)
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.socket.sock().set_tcp_nodelay(nodelay)
    }

    /// The `TCP_NODELAY` option.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.socket.sock().tcp_nodelay()
    }

    /// Sets `SO_LINGER`; `Some(Duration::ZERO)` makes close send a reset.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.socket.sock().set_linger(linger)
    }

    /// The `SO_LINGER` option.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.socket.sock().linger()
    }

    /// The `IP_TTL` option.
    pub fn ttl(&self) -> io::Result<u32> {
        self.socket.sock().ttl_v4()
    }

    /// Sets the `IP_TTL` option.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.sock().set_ttl_v4(ttl)
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.socket.raw())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.raw()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open while `self` is borrowed.
        unsafe { BorrowedFd::borrow_raw(self.socket.raw()) }
    }
}

super::split::stream_socket!(TcpStream, SocketAddr, inet);

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket").field("fd", &self.raw()).finish()
    }
}
