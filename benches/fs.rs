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
//! - `fs_seq_write_1g`: 1 GiB written sequentially in 1 MiB writes, then
//!   `fsync`; throughput is bytes per second.
//!
//! Run: `cargo bench -p zokio-benches --bench fs`, then
//! `python3 benches/compare_fs.py`.

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

fn zokio_owned<S: zokio::Spec>(rt: &zokio::Runtime<S>, file: &Arc<zokio::fs::File>, round: u64) {
    rt.block_on(async {
        let mut tasks = zokio::task::JoinSet::new();
        for t in 0..IN_FLIGHT {
            let file = file.clone();
            tasks.spawn(async move {
                let mut offsets = Offsets::new(t, round);
                let mut buf = Vec::with_capacity(BLOCK);
                for _ in 0..PER_TASK {
                    buf.clear();
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

/// 64 reads kept in flight on one ring, one thread: `READS` reads.
fn raw_uring(ring: &mut io_uring::IoUring, file: &std::fs::File, bufs: &mut [Vec<u8>], round: u64) {
    use io_uring::{opcode, types};
    let fd = types::Fd(file.as_raw_fd());
    let mut offsets = Offsets::new(0, round);
    let mut started = 0;
    let mut done = 0;
    let mut push = |ring: &mut io_uring::IoUring, slot: usize, offset: u64| {
        let sqe = opcode::Read::new(fd, bufs[slot].as_mut_ptr(), BLOCK as u32)
            .offset(offset)
            .build()
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
}

fn random_read(c: &mut Criterion) {
    let path = data_file();
    let mut g = c.benchmark_group("fs_random_read");
    g.throughput(Throughput::Elements(READS as u64))
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

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
        let mut bufs = vec![vec![0u8; BLOCK]; IN_FLIGHT];
        let mut round = 0;
        g.bench_function("raw_uring", |b| {
            b.iter(|| {
                round += 1;
                raw_uring(&mut ring, &file, &mut bufs, round)
            })
        });
    }
    g.finish();
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

criterion_group!(benches, random_read, seq_write);
criterion_main!(benches);
