//! [`Interest`] and [`Ready`]: what a `ready` call waits for and what it
//! saw, as tokio's types of the same names.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

/// The directions a `ready` call (`TcpStream::ready`, `UdpSocket::ready`,
/// ...) waits for: readable, writable, or either (`READABLE | WRITABLE`).
///
/// ```
/// use zokio::io::Interest;
///
/// let both = Interest::READABLE | Interest::WRITABLE;
/// assert!(both.is_readable() && both.is_writable());
/// assert_eq!(both.remove(Interest::READABLE), Some(Interest::WRITABLE));
/// assert_eq!(Interest::READABLE.remove(Interest::READABLE), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

const R: u8 = 1;
const W: u8 = 2;

impl Interest {
    /// Readable: bytes or a datagram to receive, end of stream, or an error.
    pub const READABLE: Interest = Interest(R);
    /// Writable: room in the socket buffer, or an error to report.
    pub const WRITABLE: Interest = Interest(W);

    /// Whether this includes [`READABLE`](Self::READABLE).
    pub const fn is_readable(self) -> bool {
        self.0 & R != 0
    }

    /// Whether this includes [`WRITABLE`](Self::WRITABLE).
    pub const fn is_writable(self) -> bool {
        self.0 & W != 0
    }

    /// Both interests (the `|` operator, usable in `const`s).
    #[must_use]
    pub const fn add(self, other: Interest) -> Interest {
        Interest(self.0 | other.0)
    }

    /// This interest without `other`; `None` when nothing is left.
    #[must_use]
    pub const fn remove(self, other: Interest) -> Option<Interest> {
        let left = self.0 & !other.0;
        if left == 0 {
            None
        } else {
            Some(Interest(left))
        }
    }
}

impl BitOr for Interest {
    type Output = Interest;

    fn bitor(self, other: Interest) -> Interest {
        self.add(other)
    }
}

impl BitOrAssign for Interest {
    fn bitor_assign(&mut self, other: Interest) {
        *self = self.add(other);
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(none)"),
        }
    }
}

/// What a `ready` call saw: some of readable, writable, read closed (end of
/// stream), write closed, error. Readiness can be spurious: the
/// non-blocking call that follows may still say `WouldBlock`.
///
/// On io_uring a stream or datagram socket reports only
/// [`READABLE`](Self::READABLE) and [`WRITABLE`](Self::WRITABLE) (end of
/// stream and errors come from the call that follows); on mio all of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ready(u8);

impl Ready {
    /// Nothing.
    pub const EMPTY: Ready = Ready(0);
    /// Readable.
    pub const READABLE: Ready = Ready(1);
    /// Writable.
    pub const WRITABLE: Ready = Ready(1 << 1);
    /// The read direction is closed (end of stream).
    pub const READ_CLOSED: Ready = Ready(1 << 2);
    /// The write direction is closed.
    pub const WRITE_CLOSED: Ready = Ready(1 << 3);
    /// An error is pending.
    pub const ERROR: Ready = Ready(1 << 4);
    /// All of the above.
    pub const ALL: Ready = Ready(0b1_1111);

    /// Whether nothing is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Readable or read closed: a read would not wait.
    pub const fn is_readable(self) -> bool {
        self.0 & (Self::READABLE.0 | Self::READ_CLOSED.0) != 0
    }

    /// Writable or write closed: a write would not wait.
    pub const fn is_writable(self) -> bool {
        self.0 & (Self::WRITABLE.0 | Self::WRITE_CLOSED.0) != 0
    }

    /// The read direction is closed.
    pub const fn is_read_closed(self) -> bool {
        self.0 & Self::READ_CLOSED.0 != 0
    }

    /// The write direction is closed.
    pub const fn is_write_closed(self) -> bool {
        self.0 & Self::WRITE_CLOSED.0 != 0
    }

    /// An error is pending.
    pub const fn is_error(self) -> bool {
        self.0 & Self::ERROR.0 != 0
    }

    /// The readiness bits of a mio registration (same layout: see
    /// `runtime::io::scheduled`).
    pub(crate) const fn from_bits(bits: usize) -> Ready {
        Ready((bits as u8) & Self::ALL.0)
    }
}

impl BitOr for Ready {
    type Output = Ready;

    fn bitor(self, other: Ready) -> Ready {
        Ready(self.0 | other.0)
    }
}

impl BitOrAssign for Ready {
    fn bitor_assign(&mut self, other: Ready) {
        self.0 |= other.0;
    }
}

impl fmt::Debug for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::READABLE, "READABLE"),
            (Self::WRITABLE, "WRITABLE"),
            (Self::READ_CLOSED, "READ_CLOSED"),
            (Self::WRITE_CLOSED, "WRITE_CLOSED"),
            (Self::ERROR, "ERROR"),
        ];
        let mut first = true;
        for (bit, name) in names {
            if self.0 & bit.0 != 0 {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("EMPTY")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::io::scheduled::{ERROR, READ_CLOSED, READABLE, WRITABLE, WRITE_CLOSED};

    #[test]
    fn ready_bits_match_the_registration_bits() {
        assert_eq!(Ready::from_bits(READABLE), Ready::READABLE);
        assert_eq!(Ready::from_bits(WRITABLE), Ready::WRITABLE);
        assert_eq!(Ready::from_bits(READ_CLOSED), Ready::READ_CLOSED);
        assert_eq!(Ready::from_bits(WRITE_CLOSED), Ready::WRITE_CLOSED);
        assert_eq!(Ready::from_bits(ERROR), Ready::ERROR);
        // Bits beyond the readiness ones (the driver's shutdown flag) are
        // not readiness.
        assert!(Ready::from_bits(1 << 5).is_empty());
    }

    #[test]
    fn closed_counts_as_ready_and_debug_names_the_bits() {
        assert!(Ready::READ_CLOSED.is_readable() && !Ready::READ_CLOSED.is_writable());
        assert!(Ready::WRITE_CLOSED.is_writable());
        assert!(!Ready::EMPTY.is_readable() && Ready::EMPTY.is_empty());
        assert_eq!(
            format!("{:?}", Ready::READABLE | Ready::ERROR),
            "READABLE | ERROR"
        );
        assert_eq!(format!("{:?}", Ready::EMPTY), "EMPTY");
        assert_eq!(
            format!("{:?}", Interest::READABLE | Interest::WRITABLE),
            "READABLE | WRITABLE"
        );
    }
}
