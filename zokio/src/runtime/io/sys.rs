//! The socket system calls on the I/O hot path (a stream's `send` and
//! `recv`, a datagram's `sendto`), shared by both backends.
//!
//! On Linux they are made through `syscall(2)` instead of glibc's
//! `send`/`recv`/`sendto`. Those wrappers are thread-cancellation points:
//! in a process with more than one thread each call switches the thread to
//! asynchronous cancellation and back around the system call
//! (`__pthread_enable_asynccancel`, `__pthread_disable_asynccancel`), which
//! was half a percent of the echo server's CPU (benches/RESULTS.md). Zokio
//! never cancels a thread, and Rust code cannot survive `pthread_cancel`
//! anyway, so the bracketing buys nothing. Elsewhere (macOS) the libc
//! functions.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use socket2::SockAddr;
use tokio::io::ReadBuf;

/// `sendto(fd, buf, flags, dest)`: the count the kernel took.
pub(crate) fn send_to(
    fd: RawFd,
    buf: &[u8],
    flags: libc::c_int,
    dest: Option<&SockAddr>,
) -> io::Result<usize> {
    let (addr, len) = match dest {
        Some(a) => (a.as_ptr().cast::<libc::sockaddr>(), a.len()),
        None => (std::ptr::null(), 0),
    };
    #[cfg(target_os = "linux")]
    // SAFETY: `sendto` with `buf` valid for `buf.len()` bytes of reads and
    // `addr` valid for `len` bytes of reads (or null with 0); the kernel
    // reads no further and keeps neither pointer past the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            flags,
            addr,
            len,
        )
    };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: as above, through the libc wrapper.
    let n = unsafe { libc::sendto(fd, buf.as_ptr().cast(), buf.len(), flags, addr, len) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `recv(fd, buf, flags)`: the count written into the front of `buf`
/// (those bytes are initialized on return).
pub(crate) fn recv(
    fd: RawFd,
    buf: &mut [MaybeUninit<u8>],
    flags: libc::c_int,
) -> io::Result<usize> {
    #[cfg(target_os = "linux")]
    // SAFETY: `recvfrom` without an address: `buf` is valid for
    // `buf.len()` bytes of writes, and the kernel writes at most that many
    // and keeps no pointer past the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            flags,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: as above, through the libc wrapper.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `readv` of `bufs` (at most `MAX_IOVECS` of them; the rest wait for the
/// next read, as with std's `read_vectored`).
pub(crate) fn readv(fd: RawFd, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
    let count = bufs.len().min(super::source::MAX_IOVECS);
    // SAFETY: `IoSliceMut` is ABI-compatible with `iovec` on Unix (std
    // documents it), and each of the `count` slices is valid for writes of
    // its length for the duration of the call; the kernel keeps no pointer.
    let n = unsafe {
        libc::readv(
            fd,
            bufs.as_mut_ptr().cast::<libc::iovec>(),
            count as libc::c_int,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// [`recv`] into `buf`'s unfilled part; the bytes received count as
/// filled. Returns their count.
pub(crate) fn recv_buf(fd: RawFd, buf: &mut ReadBuf<'_>, flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: `recv` only writes into the slice; the bytes it reports are
    // marked initialized below, nothing else.
    let n = recv(fd, unsafe { buf.unfilled_mut() }, flags)?;
    // SAFETY: the kernel initialized the first `n` bytes of the unfilled
    // part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(n)
}

/// `recvfrom` into `buf`'s unfilled part; the bytes received count as
/// filled. Returns the sender's address.
pub(crate) fn recv_from_buf(
    fd: RawFd,
    buf: &mut ReadBuf<'_>,
    flags: libc::c_int,
) -> io::Result<SockAddr> {
    // SAFETY: `recv_from_with_flags` only writes into the slice; the bytes
    // it reports are marked initialized below, nothing else.
    let unfilled = unsafe { buf.unfilled_mut() };
    let (n, addr) = super::source::with_sock(fd, |s| s.recv_from_with_flags(unfilled, flags))?;
    // SAFETY: the kernel initialized the first `n` bytes of the unfilled
    // part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn send_and_recv_move_bytes_and_report_errors() {
        let (a, b) = UnixStream::pair().unwrap();
        assert_eq!(send_to(a.as_raw_fd(), b"hello", 0, None).unwrap(), 5);
        let mut buf = [MaybeUninit::<u8>::uninit(); 16];
        let n = recv(b.as_raw_fd(), &mut buf, 0).unwrap();
        assert_eq!(n, 5);
        // SAFETY: `recv` initialized the first `n` bytes.
        let got = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
        assert_eq!(got, b"hello");
        // Nothing waiting: `EAGAIN` comes back as an error, not a count.
        let e = recv(b.as_raw_fd(), &mut buf, libc::MSG_DONTWAIT).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(
            send_to(-1, b"x", 0, None).unwrap_err().raw_os_error(),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn send_to_reaches_the_destination_given() {
        let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let dest = SockAddr::from(rx.local_addr().unwrap());
        assert_eq!(send_to(tx.as_raw_fd(), b"ping", 0, Some(&dest)).unwrap(), 4);
        let mut buf = [0u8; 8];
        let (n, from): (usize, SocketAddr) = rx.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], tx.local_addr().unwrap()));
    }
}
