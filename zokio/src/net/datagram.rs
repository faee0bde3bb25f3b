//! What UDP and Unix datagram sockets share: the readiness and
//! non-blocking calls, stamped out by one macro.

/// `readable`, `writable`, their `poll_*` forms, `try_recv`,
/// `try_recv_from` and `try_send` for a `$socket { socket: Socket }` whose
/// addresses are `$addr` (converted by `$conv`). `try_send_to` takes each
/// family's own address form, so each type writes it.
macro_rules! datagram_readiness {
    ($socket:ident, $addr:ty, $conv:path) => {
        impl $socket {
            /// Waits until a datagram may be there to receive; then
            /// [`try_recv_from`](Self::try_recv_from) (or `try_recv`) takes
            /// it without waiting. Readiness can be spurious (another task
            /// took the datagram): the `try_*` call then says `WouldBlock`,
            /// and the next `readable` waits for real.
            ///
            /// On io_uring this starts a receive when none is in flight; the
            /// datagram it brings in waits in the socket for the next
            /// receive.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is received.
            pub async fn readable(&self) -> io::Result<()> {
                std::future::poll_fn(|cx| self.poll_recv_ready(cx)).await
            }

            /// The `poll` form of [`readable`](Self::readable). Any number
            /// of tasks may wait at once; each is woken once.
            pub fn poll_recv_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.socket.source.poll_recv_ready(cx, self.socket.raw())
            }

            /// Waits until a datagram may be sent without waiting, then a
            /// `try_send*` call sends it. Readiness can be spurious, as with
            /// [`readable`](Self::readable).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is sent.
            pub async fn writable(&self) -> io::Result<()> {
                std::future::poll_fn(|cx| self.poll_send_ready(cx)).await
            }

            /// The `poll` form of [`writable`](Self::writable), which any
            /// number of tasks may wait in.
            pub fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.socket.source.poll_send_ready(cx, self.socket.raw())
            }

            /// Receives one datagram and its sender without waiting, or a
            /// `WouldBlock` error when none is there. A datagram longer than
            /// `buf` is truncated.
            pub fn try_recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, $addr)> {
                let mut buf = ReadBuf::new(buf);
                let addr = self
                    .socket
                    .source
                    .try_recv_from(self.socket.raw(), &mut buf)?;
                Ok((buf.filled().len(), $conv(addr)?))
            }

            /// Receives one datagram from the connected peer without
            /// waiting, or a `WouldBlock` error when none is there.
            pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<usize> {
                let mut buf = ReadBuf::new(buf);
                self.socket
                    .source
                    .try_recv_from(self.socket.raw(), &mut buf)?;
                Ok(buf.filled().len())
            }

            /// Sends a datagram to the connected peer without waiting, or a
            /// `WouldBlock` error when the socket buffer is full.
            pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
                self.socket.source.try_send_to(self.socket.raw(), buf, None)
            }
        }

        impl $socket {
            /// Receives the next datagram without taking it: the next
            /// receive (or peek) returns it again. Returns its length (as
            /// much as fits in `buf`) and its sender.
            ///
            /// On io_uring the datagram is received into the socket (at
            /// most 64 KiB of it, so a larger Unix datagram is truncated for
            /// the receive that follows too) and kept there for the next
            /// receive; it has left the kernel, so another process sharing
            /// the socket does not see it.
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: nothing is taken.
            pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, $addr)> {
                let mut buf = ReadBuf::new(buf);
                let addr = std::future::poll_fn(|cx| self.poll_peek_from(cx, &mut buf)).await?;
                Ok((buf.filled().len(), addr))
            }

            /// The `poll` form of [`peek_from`](Self::peek_from) (the bytes
            /// are appended to `buf`'s filled part).
            pub fn poll_peek_from(
                &self,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<$addr>> {
                let addr = std::task::ready!(self.socket.source.poll_peek_from(
                    cx,
                    self.socket.raw(),
                    buf
                ))?;
                Poll::Ready($conv(addr))
            }

            /// The sender of the next datagram, which stays for the next
            /// receive.
            pub async fn peek_sender(&self) -> io::Result<$addr> {
                let (_, addr) = self.peek_from(&mut []).await?;
                Ok(addr)
            }
        }

        $crate::net::split::impl_ready!($socket, s => &s.socket, true);
    };
}

pub(crate) use datagram_readiness;
