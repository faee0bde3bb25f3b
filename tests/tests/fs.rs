//! `zokio::fs` on a real runtime, on both backends and both flavors:
//! contents round-trip with checksums across sizes, reads past the end,
//! open errors with the same `io::ErrorKind` as std, in-flight operations
//! dropped 10,000 times with the descriptor count checked, the
//! `AsyncRead`/`AsyncWrite`/`AsyncSeek` adapter, concurrent positional
//! reads of one file, directory operations, `write_atomic` (including a
//! child process killed mid-write), and `watch` events.
//!
//! Like `net.rs`, every test runs on its own thread under a watchdog, with
//! its body under a timeout; nothing synchronises by sleeping.

use std::future::{Future, poll_fn};
use std::io::{self, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

mod support;
use support::*;

use zokio::fs::{self, File, OpenOptions, WatchKind};
use zokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// How many times an in-flight operation is started and dropped.
const DROPS: usize = 10_000;

/// Sizes whose contents must round-trip.
const SIZES: [usize; 4] = [0, 1, 4096, (1 << 20) + 1];

/// A fresh, empty directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "zokio-fs-{}-{}-{}",
            std::process::id(),
            name,
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating the test directory");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic bytes that differ by position and seed.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

/// FNV-1a, for comparing contents by checksum.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Polls `future` once (starting its operation) and drops it.
async fn start_and_drop<F: Future>(future: F) {
    let mut future = pin!(future);
    poll_fn(|cx| {
        let _ = future.as_mut().poll(cx);
        Poll::Ready(())
    })
    .await;
}

// ---------------------------------------------------------------------------
// Test bodies
// ---------------------------------------------------------------------------

async fn contents_round_trip_across_sizes() {
    let dir = TempDir::new("round-trip");
    for (i, &size) in SIZES.iter().enumerate() {
        let data = pattern(size, i as u8);
        let sum = checksum(&data);

        // Whole-file helpers.
        let p = dir.join(&format!("whole-{size}"));
        fs::write(&p, &data).await.unwrap();
        assert_eq!(
            checksum(&std::fs::read(&p).unwrap()),
            sum,
            "fs::write of {size} bytes"
        );
        let back = fs::read(&p).await.unwrap();
        assert_eq!(
            (back.len(), checksum(&back)),
            (size, sum),
            "fs::read of {size} bytes"
        );

        // Owned-buffer positional I/O.
        let p = dir.join(&format!("owned-{size}"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .await
            .unwrap();
        let (r, returned) = file.write_all_at(data.clone(), 0).await;
        r.unwrap();
        assert_eq!(returned, data, "the buffer comes back unchanged");
        let (r, back) = file.read_exact_at(Vec::with_capacity(size), 0).await;
        r.unwrap();
        assert_eq!(
            (back.len(), checksum(&back)),
            (size, sum),
            "read_exact_at of {size} bytes"
        );
        assert_eq!(checksum(&std::fs::read(&p).unwrap()), sum);

        // The AsyncRead/AsyncWrite adapter, at the file position.
        let p = dir.join(&format!("adapter-{size}"));
        let mut file = File::create(&p).await.unwrap();
        for chunk in data.chunks(100_000) {
            file.write_all(chunk).await.unwrap();
        }
        file.flush().await.unwrap();
        drop(file);
        assert_eq!(
            checksum(&std::fs::read(&p).unwrap()),
            sum,
            "AsyncWrite of {size} bytes"
        );
        let mut file = File::open(&p).await.unwrap();
        let mut back = Vec::new();
        file.read_to_end(&mut back).await.unwrap();
        assert_eq!(
            (back.len(), checksum(&back)),
            (size, sum),
            "AsyncRead of {size} bytes"
        );
    }
}

async fn reads_at_and_past_the_end() {
    let dir = TempDir::new("eof");
    let p = dir.join("ten");
    std::fs::write(&p, b"0123456789").unwrap();
    let file = File::open(&p).await.unwrap();
    for offset in [10, 11, 4096, u64::from(u32::MAX) + 7] {
        let (r, buf) = file.read_at(Vec::with_capacity(8), offset).await;
        assert_eq!(r.unwrap(), 0, "read at {offset} of a 10-byte file");
        assert!(buf.is_empty());
    }
    let (r, buf) = file.read_at(Vec::with_capacity(8), 6).await;
    assert_eq!(
        (r.unwrap(), &buf[..]),
        (4, &b"6789"[..]),
        "a read that crosses the end is short"
    );
    let (r, buf) = file.read_exact_at(Vec::with_capacity(8), 5).await;
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(&buf[..], b"56789", "the bytes before the end are kept");
    // A buffer with no spare capacity reads nothing.
    let (r, buf) = file.read_at(b"full".to_vec(), 0).await;
    assert_eq!((r.unwrap(), &buf[..]), (0, &b"full"[..]));
    // The adapter at the end of the file: Ok(0) repeatedly.
    let mut file = File::open(&p).await.unwrap();
    file.seek(SeekFrom::End(0)).await.unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(file.read(&mut byte).await.unwrap(), 0);
    assert_eq!(file.read(&mut byte).await.unwrap(), 0);
}

/// Opens `path` with std and with zokio under the same options and checks
/// both fail with the same kind, which must be `want`.
async fn same_error_as_std(
    path: &Path,
    options: &OpenOptions,
    std_options: &std::fs::OpenOptions,
    want: io::ErrorKind,
) {
    let std_err = std_options.open(path).expect_err("std must fail");
    let zokio_err = options.open(path).await.expect_err("zokio must fail");
    assert_eq!(std_err.kind(), want, "std's kind for {path:?}: {std_err}");
    assert_eq!(
        zokio_err.kind(),
        std_err.kind(),
        "zokio: {zokio_err}; std: {std_err}"
    );
    assert_eq!(zokio_err.raw_os_error(), std_err.raw_os_error());
}

async fn open_errors_match_std() {
    let dir = TempDir::new("errors");
    let mut read = OpenOptions::new();
    read.read(true);
    let mut std_read = std::fs::OpenOptions::new();
    std_read.read(true);
    let mut write = OpenOptions::new();
    write.write(true);
    let mut std_write = std::fs::OpenOptions::new();
    std_write.write(true);

    same_error_as_std(
        &dir.join("missing"),
        &read,
        &std_read,
        io::ErrorKind::NotFound,
    )
    .await;
    same_error_as_std(
        &dir.join("no/such/dir/file"),
        &read,
        &std_read,
        io::ErrorKind::NotFound,
    )
    .await;
    same_error_as_std(&dir.0, &write, &std_write, io::ErrorKind::IsADirectory).await;
    std::fs::write(dir.join("exists"), b"x").unwrap();
    let mut create_new = OpenOptions::new();
    create_new.write(true).create_new(true);
    let mut std_create_new = std::fs::OpenOptions::new();
    std_create_new.write(true).create_new(true);
    same_error_as_std(
        &dir.join("exists"),
        &create_new,
        &std_create_new,
        io::ErrorKind::AlreadyExists,
    )
    .await;
    // Invalid option combinations are rejected before any system call.
    let err = OpenOptions::new()
        .open(dir.join("exists"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    let err = OpenOptions::new()
        .read(true)
        .create(true)
        .open(dir.join("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    let err = fs::read(dir.join("nul\0byte")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    // Path operations too.
    let err = fs::remove_file(dir.join("missing")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    let err = fs::create_dir(&dir.0).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    let err = fs::rename(dir.join("missing"), dir.join("other"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

/// Permission denied needs a user the permissions apply to: as root, the
/// check runs in a child process that switched to `nobody`.
async fn open_permission_denied_matches_std() {
    let dir = TempDir::new("denied");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.join("secret");
    std::fs::write(&secret, b"s").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    // SAFETY: plain getter.
    if unsafe { libc::geteuid() } != 0 {
        let mut read = OpenOptions::new();
        read.read(true);
        let mut std_read = std::fs::OpenOptions::new();
        std_read.read(true);
        same_error_as_std(&secret, &read, &std_read, io::ErrorKind::PermissionDenied).await;
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let output = zokio::task::spawn_blocking(move || {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("--exact")
            .arg("child_checks_permission_denied")
            .arg("--include-ignored")
            .arg("--nocapture")
            .env("ZOKIO_FS_DENIED_PATH", &secret);
        // SAFETY: between fork and exec only async-signal-safe calls
        // (setgid, setuid) run.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.output()
    })
    .await
    .unwrap()
    .expect("running the child as nobody");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The child side of `open_permission_denied_matches_std`, run as nobody.
#[test]
#[ignore = "run by open_permission_denied_matches_std in a child process"]
fn child_checks_permission_denied() {
    let path = PathBuf::from(std::env::var_os("ZOKIO_FS_DENIED_PATH").expect("set by the parent"));
    zokio::runtime! { Child { flavor = "current_thread", backend = "auto" } }
    Child::block_on(async move {
        let mut read = OpenOptions::new();
        read.read(true);
        let mut std_read = std::fs::OpenOptions::new();
        std_read.read(true);
        same_error_as_std(&path, &read, &std_read, io::ErrorKind::PermissionDenied).await;
    });
}

/// 10,000 positional reads and 10,000 adapter reads (plus 2,500 opens and
/// 2,500 statx calls), each started and dropped in flight; the body's caller checks the descriptor
/// count afterwards.
async fn dropped_in_flight_operations() {
    let dir = TempDir::new("drops");
    let p = dir.join("data");
    let data = pattern(256 * 1024, 7);
    std::fs::write(&p, &data).unwrap();
    let file = Arc::new(File::open(&p).await.unwrap());
    for i in 0..DROPS {
        // Each round drops a positional read and an adapter read; every
        // fourth also an open, and every fourth a statx.
        let offset = (i * 4096 % data.len()) as u64;
        start_and_drop(file.read_at(Vec::with_capacity(64 * 1024), offset)).await;
        let mut f = File::open(&p).await.unwrap();
        let mut buf = vec![0u8; 8192];
        start_and_drop(f.read(&mut buf)).await;
        drop(f);
        match i % 4 {
            0 => start_and_drop(File::open(&p)).await,
            2 => start_and_drop(fs::statx(&p)).await,
            _ => {}
        }
    }
    // Everything still works, and reads see the right bytes.
    let (r, buf) = file.read_exact_at(Vec::with_capacity(data.len()), 0).await;
    r.unwrap();
    assert_eq!(checksum(&buf), checksum(&data));
}

/// io_uring only: reads that are surely in the kernel when dropped (a
/// FIFO has no data, so the read waits there), 1,000 times: each `File` is
/// dropped with its read in flight, which cancels it through the ring and
/// closes the descriptor once the cancellation is through.
async fn dropped_reads_waiting_in_the_kernel() {
    assert_eq!(
        zokio::runtime::Handle::current().backend().as_str(),
        "io_uring"
    );
    let dir = TempDir::new("fifo");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: plain mkfifo on a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let other = File::open(std::env::current_exe().unwrap()).await.unwrap();
    for _ in 0..1_000 {
        // Read-write, so opening does not wait for a writer.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        start_and_drop(file.read(&mut buf)).await;
        // A round trip through the ring: the read went to the kernel with
        // (or before) this one.
        other.read_at(Vec::with_capacity(16), 0).await.0.unwrap();
        drop(file);
    }
}

async fn adapter_seek_write_read() {
    let dir = TempDir::new("seek");
    let p = dir.join("f");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .await
        .unwrap();
    file.write_all(b"hello world").await.unwrap();
    assert_eq!(file.seek(SeekFrom::Start(6)).await.unwrap(), 6);
    let mut word = [0u8; 5];
    file.read_exact(&mut word).await.unwrap();
    assert_eq!(&word, b"world");
    assert_eq!(file.seek(SeekFrom::End(-11)).await.unwrap(), 0);
    file.write_all(b"HELLO").await.unwrap();
    assert_eq!(file.stream_position().await.unwrap(), 5);
    // Read ahead a little, then write: the write lands right after what
    // the reader consumed.
    file.seek(SeekFrom::Start(0)).await.unwrap();
    let mut two = [0u8; 2];
    file.read_exact(&mut two).await.unwrap();
    assert_eq!(&two, b"HE");
    file.write_all(b"yy").await.unwrap();
    file.seek(SeekFrom::Current(-4)).await.unwrap();
    let mut rest = String::new();
    file.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "HEyyO world");
    file.sync_all().await.unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"HEyyO world");
    // `into_std` keeps the position.
    file.seek(SeekFrom::Start(3)).await.unwrap();
    let mut std_file = file.into_std().await;
    let mut tail = String::new();
    io::Read::read_to_string(&mut std_file, &mut tail).unwrap();
    assert_eq!(tail, "yO world");
    // set_len, metadata and statx agree with std.
    let mut file = File::from_std(std_file);
    file.set_len(5).await.unwrap();
    assert_eq!(file.metadata().await.unwrap().len(), 5);
    assert_eq!(fs::statx(&p).await.unwrap().len(), 5);
    file.allocate(0, 4096).await.unwrap();
    assert_eq!(fs::metadata(&p).await.unwrap().len(), 4096);
}

async fn concurrent_positional_reads_of_one_file() {
    let dir = TempDir::new("concurrent");
    let p = dir.join("data");
    let data = Arc::new(pattern(1 << 20, 3));
    std::fs::write(&p, &*data).unwrap();
    let file = Arc::new(File::open(&p).await.unwrap());
    let mut tasks = zokio::task::JoinSet::new();
    for t in 0..64u64 {
        let (file, data) = (file.clone(), data.clone());
        tasks.spawn(async move {
            for i in 0..50u64 {
                let offset = ((t * 7919 + i * 104_729) * 4096) % (data.len() as u64 - 4096);
                let (r, buf) = file.read_exact_at(Vec::with_capacity(4096), offset).await;
                r.unwrap();
                let start = offset as usize;
                assert_eq!(
                    buf,
                    data[start..start + 4096],
                    "task {t} read {i} at {offset}"
                );
            }
        });
    }
    let mut finished = 0;
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap();
        finished += 1;
    }
    assert_eq!(finished, 64);
}

async fn directory_and_path_operations() {
    let dir = TempDir::new("paths");
    let nested = dir.join("a/b/c");
    fs::create_dir_all(&nested).await.unwrap();
    fs::create_dir_all(&nested).await.unwrap();
    fs::create_dir(dir.join("d")).await.unwrap();
    assert!(fs::metadata(dir.join("d")).await.unwrap().is_dir());
    assert!(fs::statx(dir.join("d")).await.unwrap().is_dir());

    fs::write(dir.join("f"), b"contents").await.unwrap();
    assert_eq!(fs::copy(dir.join("f"), dir.join("g")).await.unwrap(), 8);
    fs::rename(dir.join("g"), dir.join("d/g")).await.unwrap();
    assert_eq!(
        fs::read_to_string(dir.join("d/g")).await.unwrap(),
        "contents"
    );
    fs::hard_link(dir.join("f"), dir.join("hard"))
        .await
        .unwrap();
    assert_eq!(fs::statx(dir.join("f")).await.unwrap().nlink(), 2);
    fs::symlink("f", dir.join("soft")).await.unwrap();
    assert_eq!(
        fs::read_link(dir.join("soft")).await.unwrap(),
        Path::new("f")
    );
    assert!(
        fs::symlink_statx(dir.join("soft"))
            .await
            .unwrap()
            .is_symlink()
    );
    assert!(
        fs::symlink_metadata(dir.join("soft"))
            .await
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs::canonicalize(dir.join("soft")).await.unwrap(),
        std::fs::canonicalize(dir.join("f")).unwrap()
    );
    fs::set_permissions(dir.join("f"), std::fs::Permissions::from_mode(0o600))
        .await
        .unwrap();
    assert_eq!(
        fs::statx(dir.join("f")).await.unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(fs::try_exists(dir.join("f")).await.unwrap());
    assert!(!fs::try_exists(dir.join("nope")).await.unwrap());

    // A listing larger than one batch from the pool.
    for i in 0..100 {
        fs::write(dir.join(&format!("d/entry-{i:03}")), b"")
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut entries = fs::read_dir(dir.join("d")).await.unwrap();
    while let Some(entry) = entries.next_entry().await.unwrap() {
        assert_eq!(entry.path(), dir.join("d").join(entry.file_name()));
        names.push(entry.file_name().into_string().unwrap());
    }
    names.sort();
    assert_eq!(names.len(), 101);
    assert_eq!(names[0], "entry-000");
    assert_eq!(names[100], "g");
    assert!(
        entries.next_entry().await.unwrap().is_none(),
        "the end stays the end"
    );

    fs::remove_file(dir.join("hard")).await.unwrap();
    fs::remove_dir(dir.join("a/b/c")).await.unwrap();
    let err = fs::remove_dir(dir.join("a")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::DirectoryNotEmpty);
    fs::remove_dir_all(dir.join("a")).await.unwrap();
    assert!(!fs::try_exists(dir.join("a")).await.unwrap());
}

async fn write_atomic_replaces_and_keeps_permissions() {
    let dir = TempDir::new("atomic");
    let p = dir.join("config");
    fs::write_atomic(&p, b"one").await.unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"one");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    fs::write_atomic(&p, b"two").await.unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"two");
    assert_eq!(
        std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o640
    );
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["config"]);
    // A path that names no file is refused with a clear error.
    let err = fs::write_atomic("/", b"x").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("names a file"), "{err}");
}

async fn watch_reports_create_modify_remove() {
    let dir = TempDir::new("watch");
    let mut watch = fs::watch(&dir.0).unwrap();
    let p = dir.join("watched.txt");
    // Each step waits for its own event before the next, so the order is
    // the kernel's.
    let file = File::create(&p).await.unwrap();
    expect_event(&mut watch, WatchKind::Create, &p).await;
    file.write_all_at(b"data".to_vec(), 0).await.0.unwrap();
    expect_event(&mut watch, WatchKind::Modify, &p).await;
    drop(file);
    expect_event(&mut watch, WatchKind::CloseWrite, &p).await;
    fs::rename(&p, dir.join("renamed")).await.unwrap();
    expect_event(&mut watch, WatchKind::MovedFrom, &p).await;
    expect_event(&mut watch, WatchKind::MovedTo, &dir.join("renamed")).await;
    fs::remove_file(dir.join("renamed")).await.unwrap();
    expect_event(&mut watch, WatchKind::Remove, &dir.join("renamed")).await;
}

/// The two contents the killed writer alternates between: large, so that
/// one replacement takes long enough for kills to land inside it.
fn atomic_content(version: usize) -> Vec<u8> {
    pattern(16 << 20, version as u8 % 2 + 1)
}

/// Kills a child process that keeps replacing one file with
/// `write_atomic`, at a different point of a replacement each round, and
/// checks that the file always holds one whole version.
///
/// (Checked once by hand: the same child using plain `fs::write` leaves a
/// truncated file within a few rounds.)
fn write_atomic_survives_kill(backend: &str) {
    use std::io::BufRead;
    let dir = TempDir::new("atomic-kill");
    let target = dir.join("target");
    std::fs::write(&target, atomic_content(0)).unwrap();
    let versions = [checksum(&atomic_content(0)), checksum(&atomic_content(1))];
    for round in 0..20u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_keeps_writing_atomically",
                "--include-ignored",
                "--nocapture",
            ])
            .env("ZOKIO_FS_ATOMIC_TARGET", &target)
            .env("ZOKIO_FS_ATOMIC_BACKEND", backend)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the writer");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        // After its first replacement the child starts the next at once;
        // the kill comes 0 to 19 ms into it. The pause only spreads the
        // kill points over a replacement: the outcome must be a whole
        // version at every one of them, so nothing depends on its length.
        loop {
            let line = lines.next().expect("the writer stopped early").unwrap();
            if line.starts_with("replaced") {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(round));
        child.kill().unwrap();
        child.wait().unwrap();
        let now = std::fs::read(&target).unwrap();
        assert!(
            versions.contains(&checksum(&now)),
            "round {round}: after a kill the file holds neither version ({} bytes)",
            now.len()
        );
    }
}

/// The child side of `write_atomic_survives_kill`: replaces the file
/// forever, alternating versions, reporting each replacement.
#[test]
#[ignore = "run by write_atomic_survives_kill in a child process"]
fn child_keeps_writing_atomically() {
    use std::io::Write;
    let target =
        PathBuf::from(std::env::var_os("ZOKIO_FS_ATOMIC_TARGET").expect("set by the parent"));
    zokio::runtime! { ChildMio { flavor = "current_thread", backend = "mio" } }
    zokio::runtime! { ChildUring { flavor = "current_thread", backend = "io_uring" } }
    let contents = [atomic_content(0), atomic_content(1)];
    let body = async move {
        for version in 1.. {
            fs::write_atomic(&target, &contents[version % 2])
                .await
                .unwrap();
            let mut out = std::io::stdout().lock();
            writeln!(out, "replaced {version}").unwrap();
            out.flush().unwrap();
        }
    };
    match std::env::var("ZOKIO_FS_ATOMIC_BACKEND").as_deref() {
        Ok("io_uring") => ChildUring::block_on(body),
        _ => ChildMio::block_on(body),
    }
}

#[test]
fn write_atomic_survives_kill_mio() {
    guarded(false, |_| write_atomic_survives_kill("mio"));
}

#[test]
fn write_atomic_survives_kill_io_uring() {
    guarded(false, |_| write_atomic_survives_kill("io_uring"));
}

/// Waits for the next event of `kind` on `path`, skipping others (e.g.
/// the `Modify` a create may bring).
async fn expect_event(watch: &mut fs::Watch, kind: WatchKind, path: &Path) {
    loop {
        let event = watch.next_event().await.unwrap();
        if event.kind == kind && event.path == path {
            return;
        }
        assert_ne!(
            event.kind,
            WatchKind::Overflow,
            "the event queue overflowed"
        );
    }
}

// ---------------------------------------------------------------------------
// Instantiation
// ---------------------------------------------------------------------------

/// Instantiates the suite as module `$module` on the runtime configured by
/// the `runtime!` keys that follow.
macro_rules! fs_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            fn run<F, Fut>(exclusive: bool, body: F)
            where
                F: FnOnce() -> Fut + Send + 'static,
                Fut: Future<Output = ()>,
            {
                guarded(exclusive, move |stage| {
                    // Process-wide set-up (the opcode probe) before counting.
                    stage.set("warming up a first runtime");
                    Rt::build().expect("building the runtime").block_on(async {
                        drop(fs::statx("/").await);
                    });
                    let before = open_fds();
                    stage.set("building the runtime");
                    let rt = Rt::build().expect("building the runtime");
                    run_stages(stage, rt, |rt| {
                        rt.block_on(async { zokio::time::timeout(BODY_TIMEOUT, body()).await.is_ok() })
                    });
                    if exclusive {
                        assert_same_fds(&before, &open_fds(), "after dropping the runtime");
                    }
                });
            }

            #[test]
            fn contents_round_trip_across_sizes() {
                run(false, super::contents_round_trip_across_sizes);
            }

            #[test]
            fn reads_at_and_past_the_end() {
                run(false, super::reads_at_and_past_the_end);
            }

            #[test]
            fn open_errors_match_std() {
                run(false, super::open_errors_match_std);
            }

            #[test]
            fn open_permission_denied_matches_std() {
                run(false, super::open_permission_denied_matches_std);
            }

            #[test]
            fn dropped_in_flight_operations_leak_nothing() {
                run(true, super::dropped_in_flight_operations);
            }

            #[test]
            fn adapter_seek_write_read() {
                run(false, super::adapter_seek_write_read);
            }

            #[test]
            fn concurrent_positional_reads_of_one_file() {
                run(false, super::concurrent_positional_reads_of_one_file);
            }

            #[test]
            fn directory_and_path_operations() {
                run(false, super::directory_and_path_operations);
            }

            #[test]
            fn write_atomic_replaces_and_keeps_permissions() {
                run(false, super::write_atomic_replaces_and_keeps_permissions);
            }

            #[test]
            fn watch_reports_create_modify_remove() {
                run(false, super::watch_reports_create_modify_remove);
            }

            #[test]
            fn backend_is_the_configured_one() {
                run(false, || async {
                    let want = if stringify!($module).starts_with("io_uring") { "io_uring" } else { "mio" };
                    assert_eq!(zokio::runtime::Handle::current().backend().as_str(), want);
                });
            }
        }
    };
}

/// Instantiates the io_uring-only tests as module `$module`.
macro_rules! uring_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn dropped_reads_waiting_in_the_kernel_leak_nothing() {
                guarded(true, |stage| {
                    stage.set("warming up a first runtime");
                    Rt::build().expect("building the runtime").block_on(async {
                        drop(fs::statx("/").await);
                    });
                    let before = open_fds();
                    stage.set("building the runtime");
                    let rt = Rt::build().expect("building the runtime");
                    run_stages(stage, rt, |rt| {
                        rt.block_on(async {
                            zokio::time::timeout(BODY_TIMEOUT, super::dropped_reads_waiting_in_the_kernel())
                                .await
                                .is_ok()
                        })
                    });
                    assert_same_fds(&before, &open_fds(), "after dropping the runtime");
                });
            }
        }
    };
}

uring_suite!(
    io_uring_current_thread_kernel,
    flavor = "current_thread",
    backend = "io_uring"
);
uring_suite!(
    io_uring_multi_thread_kernel,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);

fs_suite!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
fs_suite!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
fs_suite!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
fs_suite!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);
