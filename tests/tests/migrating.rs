//! The "after" program of `docs/MIGRATING.md`, compiled and run here so the
//! guide's example stays true: `the_migrated_program_runs` runs it, and
//! `the_guide_shows_this_program` fails if the guide's copy and this one
//! drift apart.

// --- MIGRATING.md after: begin ---
use std::time::Duration;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};
use zokio::sync::mpsc;
use zokio::task::JoinSet;
use zokio::time::timeout;

#[zokio::main(flavor = "multi_thread", workers = 2)]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (done_tx, mut done_rx) = mpsc::channel::<usize>(16);

    // The server: a task per connection, echoing until the peer closes.
    zokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let done_tx = done_tx.clone();
            zokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let mut echoed = 0;
                // A client silent for 5 s is dropped.
                while let Ok(Ok(n)) = timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                    if n == 0 || stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    echoed += n;
                }
                let _ = done_tx.send(echoed).await;
            });
        }
    });

    // Three clients at once.
    let mut clients = JoinSet::new();
    for i in 0..3 {
        clients.spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            let message = format!("hello from client {i}");
            stream.write_all(message.as_bytes()).await?;
            let mut echo = vec![0; message.len()];
            stream.read_exact(&mut echo).await?;
            assert_eq!(echo, message.as_bytes());
            std::io::Result::Ok(message.len())
        });
    }
    let mut sent = 0;
    while let Some(result) = clients.join_next().await {
        sent += result.expect("a client task panicked")?;
    }
    let mut echoed = 0;
    for _ in 0..3 {
        echoed += done_rx
            .recv()
            .await
            .expect("the server reports each connection");
    }
    assert_eq!(echoed, sent);
    println!("echoed {echoed} bytes");
    Ok(())
}
// --- MIGRATING.md after: end ---

#[test]
fn the_migrated_program_runs() {
    main().expect("the migrated program");
}

/// The lines between the markers in `text`.
fn between_markers(text: &str) -> &str {
    let begin = "// --- MIGRATING.md after: begin ---\n";
    let end = "// --- MIGRATING.md after: end ---";
    let start = text.find(begin).expect("the begin marker") + begin.len();
    let stop = text[start..].find(end).expect("the end marker") + start;
    &text[start..stop]
}

#[test]
fn the_guide_shows_this_program() {
    let guide = include_str!("../../docs/MIGRATING.md");
    let program = between_markers(include_str!("migrating.rs"));
    let block = format!("```rust\n{program}```");
    assert!(
        guide.contains(&block),
        "docs/MIGRATING.md must show the program of tests/tests/migrating.rs \
         (between its markers) in a ```rust block, unchanged"
    );
}
