//! UDP: [`UdpSocket`].

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{Context, Poll};

use socket2::{Domain, Protocol, SockAddr, Type};
use tokio::io::ReadBuf;

use super::addr::{ToSocketAddrs, each_addr, resolve};
use crate::runtime::io::source::Socket;

fn inet(addr: SockAddr) -> io::Result<SocketAddr> {
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "the kernel returned a non-IP address",
        )
    })
}

/// A UDP socket.
///
/// ```
/// use zokio::net::UdpSocket;
///
/// #[zokio::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 16];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     Ok(())
/// }
/// ```
pub struct UdpSocket {
    socket: Socket,
}

impl UdpSocket {
    /// Binds to `addr` (the first of its addresses that works).
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(&addr, |a| async move {
            let socket =
                socket2::Socket::new(Domain::for_address(a), Type::DGRAM, Some(Protocol::UDP))?;
            socket.bind(&a.into())?;
            Self::from_fd(socket.into())
        })
        .await
    }

    fn from_fd(fd: OwnedFd) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            socket: Socket::new(fd)?,
        })
    }

    /// Takes over a bound std socket.
    ///
    /// # Panics
    ///
    /// Outside a runtime.
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Self::from_fd(socket.into())
    }

    /// Sets the default destination of [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let sock = self.socket.sock();
        each_addr(&addr, |a| {
            let r = sock.connect(&a.into());
            async move { r }
        })
        .await
    }

    /// Sends to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.socket.send_datagram(buf, None).await
    }

    /// Polls to send to the connected peer.
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.socket
            .source
            .poll_send_to(cx, self.socket.raw(), buf, None)
    }

    /// Receives one datagram from the connected peer; a datagram longer than
    /// `buf` is truncated.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.socket.recv_datagram(buf).await
    }

    /// Polls to receive one datagram from the connected peer.
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.socket.source.poll_recv(cx, self.socket.raw(), buf)
    }

    /// Sends a datagram to `target` (its first address).
    pub async fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], target: A) -> io::Result<usize> {
        let addr =
            resolve(&target).await?.into_iter().next().ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no address to send to")
            })?;
        self.socket.send_datagram(buf, Some(&addr.into())).await
    }

    /// Receives one datagram and the address it came from.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, addr) = self.socket.recv_datagram_from(buf).await?;
        Ok((n, inet(addr)?))
    }

    /// Polls to receive one datagram and its source.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<SocketAddr>> {
        let addr = std::task::ready!(self.socket.source.poll_recv_from(
            cx,
            self.socket.raw(),
            buf
        ))?;
        Poll::Ready(inet(addr))
    }

    /// Polls to send a datagram to `target`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.socket
            .source
            .poll_send_to(cx, self.socket.raw(), buf, Some(&target.into()))
    }

    /// Sends a datagram to `target` without waiting, or a `WouldBlock`
    /// error when the socket buffer is full.
    pub fn try_send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.socket
            .source
            .try_send_to(self.socket.raw(), buf, Some(&target.into()))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(self.socket.sock().local_addr()?)
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        inet(self.socket.sock().peer_addr()?)
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.socket.sock().set_broadcast(on)
    }

    /// The `SO_BROADCAST` option.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.socket.sock().broadcast()
    }

    /// Sets the `IP_TTL` option.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.socket.sock().set_ttl_v4(ttl)
    }

    /// The `IP_TTL` option.
    pub fn ttl(&self) -> io::Result<u32> {
        self.socket.sock().ttl_v4()
    }

    /// The `IP_TOS` option (type of service, as DSCP and ECN bits).
    pub fn tos_v4(&self) -> io::Result<u32> {
        self.socket.sock().tos_v4()
    }

    /// Sets `IP_TOS` for the datagrams this socket sends.
    pub fn set_tos_v4(&self, tos: u32) -> io::Result<()> {
        self.socket.sock().set_tos_v4(tos)
    }

    /// The `IPV6_TCLASS` option (traffic class), on an IPv6 socket.
    pub fn tclass_v6(&self) -> io::Result<u32> {
        self.socket.sock().tclass_v6()
    }

    /// Sets `IPV6_TCLASS` for the datagrams this IPv6 socket sends.
    pub fn set_tclass_v6(&self, tclass: u32) -> io::Result<()> {
        self.socket.sock().set_tclass_v6(tclass)
    }

    /// The interface the socket is bound to (`SO_BINDTODEVICE`), if any.
    #[cfg(target_os = "linux")]
    pub fn device(&self) -> io::Result<Option<Vec<u8>>> {
        self.socket.sock().device()
    }

    /// Binds the socket to the interface named `interface` (`None`:
    /// unbinds), so it sends and receives through that interface only
    /// (`SO_BINDTODEVICE`; usually needs `CAP_NET_RAW`).
    #[cfg(target_os = "linux")]
    pub fn bind_device(&self, interface: Option<&[u8]>) -> io::Result<()> {
        self.socket.sock().bind_device(interface)
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`Ipv4Addr::UNSPECIFIED`: the system's choice)
    /// (`IP_ADD_MEMBERSHIP`).
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.socket.sock().join_multicast_v4(&multiaddr, &interface)
    }

    /// Leaves a group joined with
    /// [`join_multicast_v4`](Self::join_multicast_v4)
    /// (`IP_DROP_MEMBERSHIP`).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.socket
            .sock()
            .leave_multicast_v4(&multiaddr, &interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with
    /// index `interface` (0: the system's choice) (`IPV6_ADD_MEMBERSHIP`).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.socket.sock().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves a group joined with
    /// [`join_multicast_v6`](Self::join_multicast_v6)
    /// (`IPV6_DROP_MEMBERSHIP`).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.socket.sock().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether this host's own members of a
    /// group receive what this socket sends to it.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.socket.sock().set_multicast_loop_v4(on)
    }

    /// The `IP_MULTICAST_LOOP` option.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.socket.sock().multicast_loop_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`, as
    /// [`set_multicast_loop_v4`](Self::set_multicast_loop_v4) for IPv6.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.socket.sock().set_multicast_loop_v6(on)
    }

    /// The `IPV6_MULTICAST_LOOP` option.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.socket.sock().multicast_loop_v6()
    }

    /// Sets `IP_MULTICAST_TTL`: how many hops multicast datagrams sent by
    /// this socket may take (1, the default, keeps them on the local
    /// network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.socket.sock().set_multicast_ttl_v4(ttl)
    }

    /// The `IP_MULTICAST_TTL` option.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.socket.sock().multicast_ttl_v4()
    }
}

super::datagram::datagram_readiness!(UdpSocket, SocketAddr, inet);

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.socket.raw())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.socket.raw()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor stays open while `self` is borrowed.
        unsafe { BorrowedFd::borrow_raw(self.socket.raw()) }
    }
}
