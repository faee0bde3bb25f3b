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
            /// Receives one datagram and its sender into `buf`'s spare
            /// capacity, advancing `buf` by its length (a `Vec` with no
            /// spare capacity makes room for 64 bytes, as
            /// `BufMut::chunk_mut` does; a longer datagram is truncated).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: a datagram is taken only by the poll that
            /// returns it.
            pub async fn recv_buf_from<B: bytes::BufMut>(
                &self,
                buf: &mut B,
            ) -> io::Result<(usize, $addr)> {
                let (n, addr) = std::future::poll_fn(|cx| self.poll_recv_buf(cx, buf)).await?;
                Ok((n, $conv(addr)?))
            }

            /// [`recv_buf_from`](Self::recv_buf_from) from the connected
            /// peer: the datagram's length.
            pub async fn recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                let (n, _) = std::future::poll_fn(|cx| self.poll_recv_buf(cx, buf)).await?;
                Ok(n)
            }

            /// [`try_recv_from`](Self::try_recv_from) into `buf`'s spare
            /// capacity (as [`recv_buf_from`](Self::recv_buf_from)).
            pub fn try_recv_buf_from<B: bytes::BufMut>(
                &self,
                buf: &mut B,
            ) -> io::Result<(usize, $addr)> {
                let (addr, n) = $crate::net::split::with_spare(buf, |spare| {
                    self.socket.source.try_recv_from(self.socket.raw(), spare)
                })?;
                Ok((n, $conv(addr)?))
            }

            /// [`try_recv`](Self::try_recv) into `buf`'s spare capacity (as
            /// [`recv_buf_from`](Self::recv_buf_from)).
            pub fn try_recv_buf<B: bytes::BufMut>(&self, buf: &mut B) -> io::Result<usize> {
                let (_, n) = $crate::net::split::with_spare(buf, |spare| {
                    self.socket.source.try_recv_from(self.socket.raw(), spare)
                })?;
                Ok(n)
            }

            /// Takes the socket's pending error (`SO_ERROR`), clearing it:
            /// for example "connection refused" for an earlier send on a
            /// connected UDP socket whose peer has no socket bound.
            pub fn take_error(&self) -> io::Result<Option<io::Error>> {
                self.socket.sock().take_error()
            }

            /// One poll of a receive into `buf`'s spare capacity: the
            /// length and the sender once a datagram is taken.
            fn poll_recv_buf<B: bytes::BufMut>(
                &self,
                cx: &mut Context<'_>,
                buf: &mut B,
            ) -> Poll<io::Result<(usize, socket2::SockAddr)>> {
                let polled = $crate::net::split::with_spare(buf, |spare| {
                    match self.socket.source.poll_recv_from(cx, self.socket.raw(), spare) {
                        Poll::Ready(result) => result.map(Some),
                        Poll::Pending => Ok(None),
                    }
                });
                match polled {
                    Ok((Some(addr), n)) => Poll::Ready(Ok((n, addr))),
                    Ok((None, _)) => Poll::Pending,
                    Err(e) => Poll::Ready(Err(e)),
                }
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

            /// [`peek_from`](Self::peek_from) on a connected socket: the
            /// next datagram's length (as much as fits in `buf`).
            pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                let mut buf = ReadBuf::new(buf);
                std::future::poll_fn(|cx| self.poll_peek(cx, &mut buf)).await?;
                Ok(buf.filled().len())
            }

            /// The `poll` form of [`peek`](Self::peek) (the bytes are
            /// appended to `buf`'s filled part).
            pub fn poll_peek(
                &self,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                std::task::ready!(self.socket.source.poll_peek_from(cx, self.socket.raw(), buf))?;
                Poll::Ready(Ok(()))
            }

            /// [`peek`](Self::peek) without waiting, or a `WouldBlock`
            /// error when no datagram is there.
            pub fn try_peek(&self, buf: &mut [u8]) -> io::Result<usize> {
                let mut buf = ReadBuf::new(buf);
                self.socket
                    .source
                    .try_peek_from(self.socket.raw(), &mut buf)?;
                Ok(buf.filled().len())
            }

            /// The sender of the next datagram, which stays for the next
            /// receive.
            pub async fn peek_sender(&self) -> io::Result<$addr> {
                std::future::poll_fn(|cx| self.poll_peek_sender(cx)).await
            }

            /// The `poll` form of [`peek_sender`](Self::peek_sender).
            pub fn poll_peek_sender(&self, cx: &mut Context<'_>) -> Poll<io::Result<$addr>> {
                self.poll_peek_from(cx, &mut ReadBuf::new(&mut []))
            }

            /// [`peek_from`](Self::peek_from) without waiting, or a
            /// `WouldBlock` error when no datagram is there.
            pub fn try_peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, $addr)> {
                let mut buf = ReadBuf::new(buf);
                let addr = self
                    .socket
                    .source
                    .try_peek_from(self.socket.raw(), &mut buf)?;
                Ok((buf.filled().len(), $conv(addr)?))
            }

            /// [`peek_sender`](Self::peek_sender) without waiting, or a
            /// `WouldBlock` error when no datagram is there.
            pub fn try_peek_sender(&self) -> io::Result<$addr> {
                let (_, addr) = self.try_peek_from(&mut [])?;
                Ok(addr)
            }
        }

        $crate::net::split::impl_ready!($socket, s => &s.socket, true);
    };
}

pub(crate) use datagram_readiness;
