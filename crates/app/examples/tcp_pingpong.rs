//! Benchmark reference: the floor under any HTTP round trip on this machine — one byte
//! sent and echoed between two processes over 127.0.0.1, with blocking sockets and
//! TCP_NODELAY.
//!
//! Usage:
//! - `tcp_pingpong server` prints `listening on ADDR` and echoes bytes back forever;
//! - `tcp_pingpong client ADDR ROUNDS` prints `p50_us=… p99_us=… mean_us=…`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("server") => server(),
        Some("client") if args.len() == 4 => {
            let rounds = args[3]
                .parse()
                .map_err(|_| std::io::Error::other("ROUNDS must be a whole number"))?;
            client(&args[2], rounds)
        }
        _ => Err(std::io::Error::other(
            "usage: tcp_pingpong server | tcp_pingpong client ADDR ROUNDS",
        )),
    }
}

fn server() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let mut stream = stream?;
        stream.set_nodelay(true)?;
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            while stream.read_exact(&mut byte).is_ok() {
                if stream.write_all(&byte).is_err() {
                    break;
                }
            }
        });
    }
    Ok(())
}

fn client(address: &str, rounds: usize) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_nodelay(true)?;
    let mut byte = [7u8; 1];
    // Every sample is kept: this is a short, bounded reference run, not the load engine.
    let mut micros = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        stream.write_all(&byte)?;
        stream.read_exact(&mut byte)?;
        micros.push(started.elapsed().as_secs_f64() * 1e6);
    }
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| micros[((micros.len() as f64 * q) as usize).min(micros.len() - 1)];
    let mean = micros.iter().sum::<f64>() / micros.len() as f64;
    println!(
        "p50_us={:.1} p99_us={:.1} mean_us={:.1}",
        at(0.5),
        at(0.99),
        mean
    );
    Ok(())
}
