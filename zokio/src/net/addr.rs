//! Address arguments, resolved without blocking a worker: literal addresses
//! directly, host names on the blocking pool (DNS lookups block).

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;

/// Anything that names one or more socket addresses: a [`SocketAddr`], an
/// `(ip, port)` pair, a `"host:port"` string, a slice of addresses. Like
/// tokio's, a host name is looked up on the blocking pool, so it never
/// stalls a worker.
pub trait ToSocketAddrs: sealed::Sealed {}

type Resolve = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'static>>;

pub(crate) mod sealed {
    use super::*;

    /// The resolution itself; sealed so the set of types can grow without a
    /// breaking change.
    pub trait Sealed {
        #[doc(hidden)]
        fn resolve(&self) -> Resolved;
    }

    #[doc(hidden)]
    pub enum Resolved {
        Ready(io::Result<Vec<SocketAddr>>),
        Lookup(Resolve),
    }
}

use sealed::{Resolved, Sealed};

/// Every address `addr` names, in order.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    match addr.resolve() {
        Resolved::Ready(r) => r,
        Resolved::Lookup(f) => f.await,
    }
}

/// Every socket address `host` names: a `"name:port"` string or a
/// `(name, port)` pair is looked up on the blocking pool (so the lookup
/// never stalls a worker), a literal address is returned as it is. As
/// tokio's `lookup_host`.
///
/// ```
/// #[zokio::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let addrs: Vec<_> = zokio::net::lookup_host(("localhost", 8080)).await?.collect();
///     assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080));
///     Ok(())
/// }
/// ```
pub async fn lookup_host<T: ToSocketAddrs>(
    host: T,
) -> io::Result<impl Iterator<Item = SocketAddr>> {
    Ok(resolve(&host).await?.into_iter())
}

/// Tries `f` on each address in turn; the last error if none works.
pub(crate) async fn each_addr<A, F, Fut, T>(addr: &A, mut f: F) -> io::Result<T>
where
    A: ToSocketAddrs + ?Sized,
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last = None;
    for a in resolve(addr).await? {
        match f(a).await {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket addresses",
        )
    }))
}

fn lookup(host: String) -> Resolved {
    if let Ok(addr) = host.parse::<SocketAddr>() {
        return Resolved::Ready(Ok(vec![addr]));
    }
    let handle = crate::runtime::Handle::current();
    let job = handle.spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&host).map(|it| it.collect::<Vec<_>>())
    });
    Resolved::Lookup(Box::pin(async move {
        job.await
            .unwrap_or_else(|e| Err(io::Error::other(format!("address lookup failed: {e}"))))
    }))
}

macro_rules! ready_impls {
    ($($t:ty => |$s:ident| $e:expr;)*) => {$(
        impl ToSocketAddrs for $t {}
        impl Sealed for $t {
            fn resolve(&self) -> Resolved {
                let $s = self;
                Resolved::Ready(Ok($e))
            }
        }
    )*};
}

ready_impls! {
    SocketAddr => |s| vec![*s];
    SocketAddrV4 => |s| vec![SocketAddr::V4(*s)];
    SocketAddrV6 => |s| vec![SocketAddr::V6(*s)];
    (IpAddr, u16) => |s| vec![SocketAddr::new(s.0, s.1)];
    (Ipv4Addr, u16) => |s| vec![SocketAddr::new(IpAddr::V4(s.0), s.1)];
    (Ipv6Addr, u16) => |s| vec![SocketAddr::new(IpAddr::V6(s.0), s.1)];
    [SocketAddr] => |s| s.to_vec();
    Vec<SocketAddr> => |s| s.clone();
}

impl<const N: usize> ToSocketAddrs for [SocketAddr; N] {}
impl<const N: usize> Sealed for [SocketAddr; N] {
    fn resolve(&self) -> Resolved {
        Resolved::Ready(Ok(self.to_vec()))
    }
}

impl ToSocketAddrs for str {}
impl Sealed for str {
    fn resolve(&self) -> Resolved {
        lookup(self.to_owned())
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn resolve(&self) -> Resolved {
        lookup(self.clone())
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn resolve(&self) -> Resolved {
        if let Ok(ip) = self.0.parse::<IpAddr>() {
            return Resolved::Ready(Ok(vec![SocketAddr::new(ip, self.1)]));
        }
        lookup(format!("{}:{}", self.0, self.1))
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn resolve(&self) -> Resolved {
        (self.0.as_str(), self.1).resolve()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> Sealed for &T {
    fn resolve(&self) -> Resolved {
        (**self).resolve()
    }
}
