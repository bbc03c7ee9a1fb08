//! What software RSS costs per frame: classifying a frame (parse + Toeplitz + table lookup)
//! and one hand-off through a worker-to-worker ring, first on one thread (the floor), then
//! between two threads (a producer steering 64-byte frames and a consumer draining them).
//! The ring carries 8-byte owned pointers, as the real one carries `Mbuf`s.
//!
//!     cargo run --release -p tcpterm --example redirect_cost

#[path = "../tests/support/frames.rs"]
#[allow(dead_code)]
mod frames;

use crossbeam_queue::ArrayQueue;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use tcpterm::redirect::{Dest, Steering, RING_SIZE};

/// A 64-byte IPv4/TCP frame, kept as an array so that the frames sit in one allocation and
/// classifying one follows no pointer.
fn frame(sport: u16) -> [u8; 64] {
    let mut f = [0u8; 64];
    let built = frames::tcp_frame(sport, &[]);
    f[..built.len()].copy_from_slice(&built);
    f
}

fn main() {
    let frames: Vec<[u8; 64]> = (0..4096u16).map(|i| frame(10_000 + i)).collect();
    let s = Steering::new(2);
    let n = 20_000_000usize;

    let t = Instant::now();
    let mut to_other = 0usize;
    for i in 0..n {
        if let Dest::Worker(1) = s.classify(black_box(&frames[i & 4095])) {
            to_other += 1;
        }
    }
    let classify_ns = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "classify: {classify_ns:.1} ns/frame ({:.0}% to the other worker)",
        100.0 * to_other as f64 / n as f64
    );

    let q: ArrayQueue<Box<u64>> = ArrayQueue::new(RING_SIZE);
    let boxes: Vec<Box<u64>> = (0..32).map(Box::new).collect();
    let mut boxes = Some(boxes);
    let t = Instant::now();
    let rounds = n / 32;
    for _ in 0..rounds {
        for b in boxes.take().unwrap() {
            let _ = q.push(b);
        }
        let mut back = Vec::with_capacity(32);
        while let Some(b) = q.pop() {
            back.push(b);
        }
        boxes = Some(back);
    }
    let ring_ns = t.elapsed().as_nanos() as f64 / (rounds * 32) as f64;
    println!("ring push+pop, one thread, bursts of 32: {ring_ns:.1} ns/frame");

    // Two threads: pointers (usize) through the ring, the consumer summing what it gets.
    let q = Arc::new(ArrayQueue::<usize>::new(RING_SIZE));
    let m = 20_000_000usize;
    let consumer = {
        let q = q.clone();
        std::thread::spawn(move || {
            let (mut got, mut sum) = (0usize, 0usize);
            while got < m {
                match q.pop() {
                    Some(v) => {
                        sum = sum.wrapping_add(v);
                        got += 1;
                    }
                    None => std::hint::spin_loop(),
                }
            }
            sum
        })
    };
    let t = Instant::now();
    for i in 0..m {
        let mut v = i;
        while let Err(back) = q.push(v) {
            v = back;
            std::hint::spin_loop();
        }
    }
    let sum = consumer.join().unwrap();
    let cross_ns = t.elapsed().as_nanos() as f64 / m as f64;
    println!(
        "ring hand-off between two threads: {cross_ns:.1} ns/frame ({:.1} Mframes/s; checksum {})",
        1e3 / cross_ns,
        sum % 1000
    );
}
