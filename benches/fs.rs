//! File benchmarks, zokio beside tokio::fs and raw io_uring in one run.
//!
//! - `fs_random_read`: random 4 KiB reads (4 KiB-aligned offsets) from a
//!   64 MiB file that is in the page cache, 64 operations in flight (64
//!   tasks, or 64 SQEs for raw io_uring). One iteration is `READS` reads;
//!   criterion's throughput is reads per second.
//!   - `zokio_uring_owned`: `File::read_at` (owned buffer, the kernel reads
//!     straight into it), one shared `File`, io_uring, 2 workers.
//!   - `zokio_uring_asyncread`: `seek` + `read_exact` through tokio's
//!     `AsyncRead`/`AsyncSeek` on a zokio `File` per task, io_uring.
//!   - `zokio_mio_owned`: `File::read_at` on the mio backend (each read
//!     on the blocking pool, as tokio::fs does).
//!   - `tokio_fs`: `seek` + `read_exact` on a tokio::fs `File` per task,
//!     tokio multi_thread with 2 workers.
//!   - `raw_uring`: one thread, one ring, 64 `IORING_OP_READ`s kept in
//!     flight: the limit.
//!   - `zokio_uring_fixed`: `zokio_uring_owned` with `FixedBuf`s from a
//!     registered `FixedBufPool` (`READ_FIXED`).
//! - `fs_random_read_direct`: the same reads with `O_DIRECT` (page-aligned
//!   buffers; every read goes to the device, and the kernel pins the
//!   buffer's pages for each one unless they are registered):
//!   - `zokio_uring_fixed`: `File::read_at` with registered `FixedBuf`s.
//!   - `zokio_uring_unregistered`: the same code with `FixedBuf`s of a pool
//!     made on a mio runtime, so not registered (`READ`).
//!   - `tokio_blocking`: `spawn_blocking` + `pread` into an aligned buffer,
//!     which is how a tokio program does `O_DIRECT`.
//!   - `raw_uring`, `raw_uring_fixed`: one thread, one ring, 64 reads in
//!     flight, plain and registered buffers.
//! - `fs_seq_write_1g`: 1 GiB written sequentially in 1 MiB writes, then
//!   `fsync`; throughput is bytes per second.
//!
//! Run: `cargo bench -p zokio-benches --bench fs`, then
//! `python3 benches/compare.py --fs`.

use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The file read at random.
const FILE_SIZE: u64 = 64 << 20;
/// Operations in flight.
const IN_FLIGHT: usize = 64;
/// Reads per task per iteration.
const PER_TASK: usize = 256;
/// Reads per iteration.
const READS: usize = IN_FLIGHT * PER_TASK;
const BLOCK: usize = 4096;
/// Bytes per sequential-write iteration.
const SEQ_TOTAL: u64 = 1 << 30;
const SEQ_CHUNK: usize = 1 << 20;

zokio::runtime! { UringRt { flavor = "multi_thread", workers = 2, backend = "io_uring" } }
zokio::runtime! { MioRt { flavor = "multi_thread", workers = 2, backend = "mio" } }
zokio::runtime! { MioCt { flavor = "current_thread", backend = "mio" } }

/// A deterministic 4 KiB-aligned offset sequence per task.
struct Offsets(u64);

impl Offsets {
    fn new(task: usize, round: u64) -> Offsets {
        Offsets((task as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round)
    }

    fn next_offset(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (r % (FILE_SIZE / BLOCK as u64)) * BLOCK as u64
    }
}

/// Creates the 64 MiB file (once) and reads it, so it is in the page cache.
fn data_file() -> PathBuf {
    let dir = std::env::var_os("ZOKIO_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let path = dir.join("zokio-bench-random-read.dat");
    let ok = std::fs::metadata(&path).is_ok_and(|m| m.len() == FILE_SIZE);
    if !ok {
        let chunk: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(31) >> 3) as u8)
            .collect();
        let mut f = std::fs::File::create(&path).expect("creating the bench file");
        for _ in 0..FILE_SIZE / chunk.len() as u64 {
            std::io::Write::write_all(&mut f, &chunk).unwrap();
        }
    }
    let bytes = std::fs::read(&path).expect("warming the page cache");
    assert_eq!(bytes.len() as u64, FILE_SIZE);
    path
}

/// `IN_FLIGHT` tasks, each doing `PER_TASK` `File::read_at`s of `BLOCK`
/// bytes into its own buffer from `make` (emptied by `clear` before each).
fn zokio_reads<S: zokio::Spec, B: zokio::io::IoBufMut>(
    rt: &zokio::Runtime<S>,
    file: &Arc<zokio::fs::File>,
    round: u64,
    mut make: impl FnMut() -> B,
    clear: fn(&mut B),
) {
    rt.block_on(async {
        let mut tasks = zokio::task::JoinSet::new();
        for t in 0..IN_FLIGHT {
            let file = file.clone();
            let mut buf = make();
            tasks.spawn(async move {
                let mut offsets = Offsets::new(t, round);
                for _ in 0..PER_TASK {
                    clear(&mut buf);
                    let (r, b) = file.read_at(buf, offsets.next_offset()).await;
                    assert_eq!(r.unwrap(), BLOCK);
                    buf = black_box(b);
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
    });
}

/// [`zokio_reads`] into a `Vec` per task.
fn zokio_owned<S: zokio::Spec>(rt: &zokio::Runtime<S>, file: &Arc<zokio::fs::File>, round: u64) {
    zokio_reads(rt, file, round, || Vec::with_capacity(BLOCK), Vec::clear);
}

/// Reads done by `zokio_pooled` and `raw_uring` in this process, printed at
/// the end of `fs_random_read_direct` when `ZOKIO_BENCH_COUNT` is set: with
/// `perf stat -e task-clock` around a `--profile-time` run of one id, the
/// CPU time per read (benches/RESULTS.md).
static READS_DONE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count_reads() {
    READS_DONE.fetch_add(READS as u64, std::sync::atomic::Ordering::Relaxed);
}

/// [`zokio_reads`] into a buffer per task from `pool` (registered or not).
fn zokio_pooled<S: zokio::Spec>(
    rt: &zokio::Runtime<S>,
    file: &Arc<zokio::fs::File>,
    pool: &zokio::io::FixedBufPool,
    round: u64,
) {
    let make = || pool.try_get().expect("a buffer per task");
    zokio_reads(rt, file, round, make, zokio::io::FixedBuf::clear);
    count_reads();
}

/// `O_DIRECT` reads on tokio: `pread` on the blocking pool into a
/// page-aligned block of a buffer the task owns.
fn tokio_direct(rt: &tokio::runtime::Runtime, file: &Arc<std::fs::File>, round: u64) {
    use std::os::unix::fs::FileExt;
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for t in 0..IN_FLIGHT {
            let file = file.clone();
            tasks.spawn(async move {
                let mut offsets = Offsets::new(t, round);
                let mut buf = vec![0u8; 2 * BLOCK];
                for _ in 0..PER_TASK {
                    let offset = offsets.next_offset();
                    let file = file.clone();
                    let (n, b) = tokio::task::spawn_blocking(move || {
                        let start = buf.as_ptr().align_offset(BLOCK);
                        let n = file.read_at(&mut buf[start..start + BLOCK], offset);
                        (n, buf)
                    })
                    .await
                    .unwrap();
                    assert_eq!(n.unwrap(), BLOCK);
                    buf = black_box(b);
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
    });
}

/// `seek` + `read_exact` from a `File` per task: one body for zokio's and
/// tokio's types (`$krate` is `zokio` or `tokio`), so both run the same code.
macro_rules! seek_and_read {
    ($rt:expr, $path:expr, $round:expr, $krate:ident) => {{
        use $krate::io::{AsyncReadExt, AsyncSeekExt};
        $rt.block_on(async {
            let mut tasks = $krate::task::JoinSet::new();
            for t in 0..IN_FLIGHT {
                let path = $path.to_owned();
                tasks.spawn(async move {
                    let mut file = $krate::fs::File::open(&path).await.unwrap();
                    let mut offsets = Offsets::new(t, $round);
                    let mut buf = [0u8; BLOCK];
                    for _ in 0..PER_TASK {
                        file.seek(std::io::SeekFrom::Start(offsets.next_offset()))
                            .await
                            .unwrap();
                        file.read_exact(&mut buf).await.unwrap();
                        black_box(&buf);
                    }
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
        })
    }};
}

fn zokio_asyncread<S: zokio::Spec>(rt: &zokio::Runtime<S>, path: &Path, round: u64) {
    seek_and_read!(rt, path, round, zokio)
}

fn tokio_fs(rt: &tokio::runtime::Runtime, path: &Path, round: u64) {
    seek_and_read!(rt, path, round, tokio)
}

/// 64 reads kept in flight on one ring, one thread: `READS` reads, into
/// `bufs[slot]` (`BLOCK` bytes each; with `fixed`, registered at index 0
/// as one region starting at `bufs[0]`).
fn raw_uring(
    ring: &mut io_uring::IoUring,
    file: &std::fs::File,
    bufs: &[*mut u8],
    fixed: bool,
    round: u64,
) {
    use io_uring::{opcode, types};
    let fd = types::Fd(file.as_raw_fd());
    let mut offsets = Offsets::new(0, round);
    let mut started = 0;
    let mut done = 0;
    let push = |ring: &mut io_uring::IoUring, slot: usize, offset: u64| {
        let sqe = if fixed {
            opcode::ReadFixed::new(fd, bufs[slot], BLOCK as u32, 0)
                .offset(offset)
                .build()
        } else {
            opcode::Read::new(fd, bufs[slot], BLOCK as u32)
                .offset(offset)
                .build()
        }
        .user_data(slot as u64);
        // SAFETY: the buffer of `slot` stays alive and untouched until its
        // completion is reaped below (each slot has one read in flight).
        unsafe { ring.submission().push(&sqe).expect("the ring has room") };
    };
    for slot in 0..IN_FLIGHT {
        push(ring, slot, offsets.next_offset());
        started += 1;
    }
    while done < READS {
        ring.submit_and_wait(1).expect("io_uring_enter");
        let completed: Vec<(u64, i32)> = ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        for (slot, result) in completed {
            assert_eq!(result, BLOCK as i32);
            done += 1;
            if started < READS {
                push(ring, slot as usize, offsets.next_offset());
                started += 1;
            }
        }
    }
    count_reads();
}

/// A group of `READS` random reads per iteration, with the sampling both
/// random-read groups use.
fn random_read_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(READS as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g
}

fn random_read(c: &mut Criterion) {
    let path = data_file();
    let mut g = random_read_group(c, "fs_random_read");

    {
        let rt = UringRt::build().expect("io_uring runtime");
        let file = Arc::new(rt.block_on(zokio::fs::File::open(&path)).unwrap());
        let mut round = 0;
        g.bench_function("zokio_uring_owned", |b| {
            b.iter(|| {
                round += 1;
                zokio_owned(&rt, &file, round)
            })
        });
        g.bench_function("zokio_uring_asyncread", |b| {
            b.iter(|| {
                round += 1;
                zokio_asyncread(&rt, &path, round)
            })
        });
        let pool = rt.block_on(async { zokio::io::FixedBufPool::new(IN_FLIGHT, BLOCK) });
        let pool = pool.expect("a pool");
        assert!(pool.is_registered(), "this kernel registers buffers");
        g.bench_function("zokio_uring_fixed", |b| {
            b.iter(|| {
                round += 1;
                zokio_pooled(&rt, &file, &pool, round)
            })
        });
    }
    {
        let rt = MioRt::build().expect("mio runtime");
        let file = Arc::new(rt.block_on(zokio::fs::File::open(&path)).unwrap());
        let mut round = 0;
        g.bench_function("zokio_mio_owned", |b| {
            b.iter(|| {
                round += 1;
                zokio_owned(&rt, &file, round)
            })
        });
    }
    {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut round = 0;
        g.bench_function("tokio_fs", |b| {
            b.iter(|| {
                round += 1;
                tokio_fs(&rt, &path, round)
            })
        });
    }
    {
        let mut ring = io_uring::IoUring::new(128).expect("io_uring");
        let file = std::fs::File::open(&path).unwrap();
        let mut region = AlignedRegion::new();
        let bufs = region.bufs();
        let mut round = 0;
        g.bench_function("raw_uring", |b| {
            b.iter(|| {
                round += 1;
                raw_uring(&mut ring, &file, &bufs, false, round)
            })
        });
    }
    g.finish();
}

/// `IN_FLIGHT` page-aligned blocks in one allocation, for the raw rings.
struct AlignedRegion {
    memory: Vec<u8>,
    start: usize,
}

impl AlignedRegion {
    fn new() -> AlignedRegion {
        let memory = vec![0u8; (IN_FLIGHT + 1) * BLOCK];
        let start = memory.as_ptr().align_offset(BLOCK);
        AlignedRegion { memory, start }
    }

    fn bufs(&mut self) -> Vec<*mut u8> {
        self.memory[self.start..self.start + IN_FLIGHT * BLOCK]
            .chunks_exact_mut(BLOCK)
            .map(<[u8]>::as_mut_ptr)
            .collect()
    }

    fn iovec(&mut self) -> libc::iovec {
        libc::iovec {
            iov_base: self.memory[self.start..].as_mut_ptr().cast(),
            iov_len: IN_FLIGHT * BLOCK,
        }
    }
}

/// Opens the bench file with `O_DIRECT`.
fn open_direct(path: &Path) -> std::fs::File {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .expect("O_DIRECT on the bench directory's file system")
}

fn random_read_direct(c: &mut Criterion) {
    let path = data_file();
    let mut g = random_read_group(c, "fs_random_read_direct");
    {
        let rt = UringRt::build().expect("io_uring runtime");
        let file = Arc::new(rt.block_on(async { zokio::fs::File::from_std(open_direct(&path)) }));
        let registered = rt.block_on(async { zokio::io::FixedBufPool::new(IN_FLIGHT, BLOCK) });
        let registered = registered.expect("a pool");
        assert!(registered.is_registered(), "this kernel registers buffers");
        let plain = MioCt::build()
            .expect("mio runtime")
            .block_on(async { zokio::io::FixedBufPool::new(IN_FLIGHT, BLOCK) })
            .expect("a pool");
        assert!(!plain.is_registered());
        let mut round = 0;
        g.bench_function("zokio_uring_fixed", |b| {
            b.iter(|| {
                round += 1;
                zokio_pooled(&rt, &file, &registered, round)
            })
        });
        g.bench_function("zokio_uring_unregistered", |b| {
            b.iter(|| {
                round += 1;
                zokio_pooled(&rt, &file, &plain, round)
            })
        });
    }
    {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let file = Arc::new(open_direct(&path));
        let mut round = 0;
        g.bench_function("tokio_blocking", |b| {
            b.iter(|| {
                round += 1;
                tokio_direct(&rt, &file, round);
                count_reads();
            })
        });
    }
    {
        let file = open_direct(&path);
        let mut region = AlignedRegion::new();
        let bufs = region.bufs();
        let mut ring = io_uring::IoUring::new(128).expect("io_uring");
        let mut round = 0;
        g.bench_function("raw_uring", |b| {
            b.iter(|| {
                round += 1;
                raw_uring(&mut ring, &file, &bufs, false, round)
            })
        });
        // SAFETY: `region` outlives the ring (declared before it, dropped
        // after it), and only this ring's reads write into it.
        unsafe { ring.submitter().register_buffers(&[region.iovec()]) }
            .expect("registering the buffers");
        g.bench_function("raw_uring_fixed", |b| {
            b.iter(|| {
                round += 1;
                raw_uring(&mut ring, &file, &bufs, true, round)
            })
        });
    }
    g.finish();
    if std::env::var_os("ZOKIO_BENCH_COUNT").is_some() {
        let reads = READS_DONE.load(std::sync::atomic::Ordering::Relaxed);
        eprintln!("reads done: {reads}");
    }
}

/// The file the sequential-write benchmark rewrites.
fn seq_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("ZOKIO_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    dir.join(format!("zokio-bench-seq-{name}.dat"))
}

fn zokio_seq_write<S: zokio::Spec>(rt: &zokio::Runtime<S>, path: &Path, chunk: &Arc<Vec<u8>>) {
    rt.block_on(async {
        let mut file = zokio::fs::File::create(path).await.unwrap();
        let mut buf = chunk.to_vec();
        let mut offset = 0;
        while offset < SEQ_TOTAL {
            let (r, b) = file.write_all_at(buf, offset).await;
            r.unwrap();
            buf = b;
            offset += SEQ_CHUNK as u64;
        }
        file.sync_all().await.unwrap();
    });
}

fn seq_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("fs_seq_write_1g");
    g.throughput(Throughput::Bytes(SEQ_TOTAL))
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(20));
    let chunk: Arc<Vec<u8>> = Arc::new((0..SEQ_CHUNK).map(|i| (i % 251) as u8).collect());
    {
        let rt = UringRt::build().expect("io_uring runtime");
        let path = seq_path("uring");
        g.bench_function("zokio_uring", |b| {
            b.iter(|| zokio_seq_write(&rt, &path, &chunk))
        });
        let _ = std::fs::remove_file(&path);
    }
    {
        let rt = MioRt::build().expect("mio runtime");
        let path = seq_path("mio");
        g.bench_function("zokio_mio", |b| {
            b.iter(|| zokio_seq_write(&rt, &path, &chunk))
        });
        let _ = std::fs::remove_file(&path);
    }
    {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let path = seq_path("tokio");
        g.bench_function("tokio_fs", |b| {
            b.iter(|| {
                rt.block_on(async {
                    use tokio::io::AsyncWriteExt;
                    let mut file = tokio::fs::File::create(&path).await.unwrap();
                    let mut written = 0;
                    while written < SEQ_TOTAL {
                        file.write_all(&chunk).await.unwrap();
                        written += SEQ_CHUNK as u64;
                    }
                    file.sync_all().await.unwrap();
                })
            })
        });
        let _ = std::fs::remove_file(&path);
    }
    g.finish();
}

criterion_group!(benches, random_read, random_read_direct, seq_write);
criterion_main!(benches);
