//! Unix domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`].

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use socket2::{Domain, SockAddr, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::buf::{IoBuf, IoBufMut};
use crate::runtime::io::source::Socket;

/// The address of a Unix socket: a path, an abstract name (Linux) or
/// nothing (an unbound or unnamed socket).
#[derive(Clone, PartialEq, Eq)]
pub struct SocketAddr(Repr);

#[derive(Clone, PartialEq, Eq)]
enum Repr {
    Path(PathBuf),
    Abstract(Vec<u8>),
    Unnamed,
}

impl SocketAddr {
    fn from_sock(addr: &SockAddr) -> SocketAddr {
        if let Some(path) = addr.as_pathname() {
            SocketAddr(Repr::Path(path.to_owned()))
        } else if let Some(name) = addr.as_abstract_namespace() {
            SocketAddr(Repr::Abstract(name.to_vec()))
        } else {
            SocketAddr(Repr::Unnamed)
        }
    }

    /// The path, for a socket bound to one.
    pub fn as_pathname(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Path(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the socket has no address.
    pub fn is_unnamed(&self) -> bool {
        self.0 == Repr::Unnamed
    }

    /// The name in the abstract namespace (Linux), without the leading NUL.
    pub fn as_abstract_name(&self) -> Option<&[u8]> {
        match &self.0 {
            Repr::Abstract(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Debug for SocketAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Path(p) => write!(f, "{p:?} (pathname)"),
            Repr::Abstract(n) => write!(f, "\"{}\" (abstract)", n.escape_ascii()),
            Repr::Unnamed => f.write_str("(unnamed)"),
        }
    }
}

fn unix_socket(ty: Type) -> io::Result<socket2::Socket> {
    socket2::Socket::new(Domain::UNIX, ty, None)
}

/// A Unix stream socket server.
pub struct UnixListener {
    socket: Socket,
}

impl UnixListener {
    /// Binds to `path` and listens. Like tokio's, this is not `async`.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let socket = unix_socket(Type::STREAM)?;
        socket.bind(&SockAddr::unix(path)?)?;
        socket.listen(1024)?;
        Ok(UnixListener {
            socket: Socket::new(socket.into())?,
        })
    }

    /// Takes over a listening std socket.
    #[track_caller]
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            socket: Socket::new(listener.into())?,
        })
    }

    /// Waits for a connection. Errors (including `EMFILE`) leave the
    /// listener working; see [`TcpListener::accept`](super::TcpListener::accept).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for a connection.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        let (fd, addr) = std::task::ready!(self.socket.source.poll_accept(cx, self.socket.raw()))?;
        Poll::Ready(Ok((UnixStream::from_fd(fd)?, SocketAddr::from_sock(&addr))))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sock(&self.socket.sock().local_addr()?))
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.socket.raw())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// A Unix stream connection; implements tokio's `AsyncRead`/`AsyncWrite`.
pub struct UnixStream {
    socket: Arc<Socket>,
}

impl UnixStream {
    /// Connects to the socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let target = SockAddr::unix(path)?;
        let socket = Socket::connect(unix_socket(Type::STREAM)?.into(), &target).await?;
        Ok(UnixStream {
            socket: Arc::new(socket),
        })
    }

    /// A connected pair.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, Type::STREAM, None)?;
        Ok((
            UnixStream::from_fd(a.into())?,
            UnixStream::from_fd(b.into())?,
        ))
    }

    #[track_caller]
    fn from_fd(fd: OwnedFd) -> io::Result<UnixStream> {
        Ok(UnixStream {
            socket: Arc::new(Socket::new(fd)?),
        })
    }

    /// Takes over a connected std stream.
    #[track_caller]
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Self::from_fd(stream.into())
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sock(&self.socket.sock().local_addr()?))
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sock(&self.socket.sock().peer_addr()?))
    }

    /// The credentials of the peer process, as the kernel recorded them
    /// when the connection was made (`SO_PEERCRED` on Linux, `getpeereid`
    /// elsewhere, where the process id is not known).
    pub fn peer_cred(&self) -> io::Result<UCred> {
        UCred::of(self.socket.raw())
    }
}

/// The credentials of a [`UnixStream`]'s peer process:
/// [`UnixStream::peer_cred`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UCred {
    pid: Option<libc::pid_t>,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

impl UCred {
    /// The peer's user id.
    pub fn uid(&self) -> libc::uid_t {
        self.uid
    }

    /// The peer's group id.
    pub fn gid(&self) -> libc::gid_t {
        self.gid
    }

    /// The peer's process id, where the platform reports it (Linux).
    pub fn pid(&self) -> Option<libc::pid_t> {
        self.pid
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn of(fd: RawFd) -> io::Result<UCred> {
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `cred` and `len` are valid for writes; the kernel writes at
        // most `len` bytes of `ucred` into `cred` and the length into `len`.
        let r = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&raw mut cred).cast(),
                &raw mut len,
            )
        };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(UCred {
            pid: Some(cred.pid),
            uid: cred.uid,
            gid: cred.gid,
        })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn of(fd: RawFd) -> io::Result<UCred> {
        let (mut uid, mut gid) = (0, 0);
        // SAFETY: `uid` and `gid` are valid for writes of their types.
        if unsafe { libc::getpeereid(fd, &raw mut uid, &raw mut gid) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(UCred {
            pid: None,
            uid,
            gid,
        })
    }
}

fn local_conv(addr: SockAddr) -> io::Result<SocketAddr> {
    Ok(SocketAddr::from_sock(&addr))
}

super::split::stream_socket!(UnixStream, SocketAddr, local_conv);
super::datagram::datagram_readiness!(UnixDatagram, SocketAddr, local_conv);

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.socket.raw())
            .finish()
    }
}

/// A Unix datagram socket.
pub struct UnixDatagram {
    socket: Socket,
}

impl UnixDatagram {
    /// A socket bound to `path`.
    #[track_caller]
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        let socket = unix_socket(Type::DGRAM)?;
        socket.bind(&SockAddr::unix(path)?)?;
        Self::from_fd(socket.into())
    }

    /// A socket with no address (it can send, and receive replies only if
    /// connected to a peer that can address it).
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        Self::from_fd(unix_socket(Type::DGRAM)?.into())
    }

    /// A connected pair.
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = socket2::Socket::pair(Domain::UNIX, Type::DGRAM, None)?;
        Ok((Self::from_fd(a.into())?, Self::from_fd(b.into())?))
    }

    #[track_caller]
    fn from_fd(fd: OwnedFd) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            socket: Socket::new(fd)?,
        })
    }

    /// Takes over a std socket.
    #[track_caller]
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Self::from_fd(socket.into())
    }

    /// Sets the default peer.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.socket.sock().connect(&SockAddr::unix(path)?)
    }

    /// Sends to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket.send_datagram(buf, None).await
    }

    /// Receives one datagram from the connected peer.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket.recv_datagram(buf).await
    }

    /// Sends a datagram to the socket at `path`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let addr = SockAddr::unix(path)?;
        self.socket.send_datagram(buf, Some(&addr)).await
    }

    /// Receives one datagram and its sender's address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, addr) = self.socket.recv_datagram_from(buf).await?;
        Ok((n, SocketAddr::from_sock(&addr)))
    }

    /// Sends a datagram to the socket at `path` without waiting, or a
    /// `WouldBlock` error when the socket buffer is full.
    pub fn try_send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let addr = SockAddr::unix(path)?;
        self.socket
            .source
            .try_send_to(self.socket.raw(), buf, Some(&addr))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sock(&self.socket.sock().local_addr()?))
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from_sock(&self.socket.sock().peer_addr()?))
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.socket.raw())
            .finish()
    }
}

macro_rules! fd_impls {
    ($($t:ty)*) => {$(
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.socket.raw()
            }
        }
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                // SAFETY: the descriptor stays open while `self` is borrowed.
                unsafe { BorrowedFd::borrow_raw(self.socket.raw()) }
            }
        }
    )*};
}
fd_impls!(UnixListener UnixStream UnixDatagram);
