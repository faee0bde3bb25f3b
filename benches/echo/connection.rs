//! The per-connection echo loop both echo servers run, written once against
//! tokio's I/O traits (which zokio's streams implement), so the runtimes are
//! compared on exactly the same code.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read per call; one reusable buffer per connection.
pub const BUFFER: usize = 4096;

/// Echoes until the peer closes; `server` names the program in error logs.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(server: &str, mut stream: S) {
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) => return report(server, &e),
        };
        if let Err(e) = stream.write_all(&buf[..n]).await {
            return report(server, &e);
        }
    }
}

/// Logs a connection error, except a peer going away (the client exits
/// without closing politely when a measurement ends).
pub fn report(server: &str, e: &io::Error) {
    if !matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
    ) {
        eprintln!("{server}: connection: {e}");
    }
}
