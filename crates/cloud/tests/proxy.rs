//! The delay proxy over real loopback connections: bytes pass intact and in order, and a
//! round trip takes at least the configured delay (a lower bound only: how much longer
//! depends on the machine, so it is not asserted).

use std::time::{Duration, Instant};

use latency_cloud::{Delay, DelayProxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An echo server on 127.0.0.1: every read is written straight back.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n) = socket.read(&mut buffer).await {
                    if n == 0 || socket.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    stream.write_all(message).await.expect("write");
    let mut back = vec![0u8; message.len()];
    stream.read_exact(&mut back).await.expect("read the echo");
    assert_eq!(back, message, "the proxy passes bytes intact");
    started.elapsed()
}

#[tokio::test]
async fn every_round_trip_takes_at_least_the_configured_delay() {
    let upstream = echo_server().await;
    let proxy = DelayProxy::bind(upstream, Delay::constant(40.0), 1)
        .await
        .expect("proxy");
    let mut stream = TcpStream::connect(proxy.local_addr())
        .await
        .expect("connect");
    for round in 0..5 {
        let took = round_trip(&mut stream, format!("ping {round}").as_bytes()).await;
        assert!(
            took >= Duration::from_millis(40),
            "round {round} took {took:?}"
        );
    }
}

#[tokio::test]
async fn concurrent_connections_each_get_their_own_delay() {
    let upstream = echo_server().await;
    let proxy = DelayProxy::bind(upstream, Delay::constant(30.0), 2)
        .await
        .expect("proxy");
    let addr = proxy.local_addr();
    let mut joins = Vec::new();
    for i in 0..8 {
        joins.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.expect("connect");
            round_trip(&mut stream, format!("client {i}").as_bytes()).await
        }));
    }
    for join in joins {
        let took = join.await.expect("client task");
        assert!(took >= Duration::from_millis(30), "took {took:?}");
    }
}

#[tokio::test]
async fn a_large_payload_arrives_whole_and_in_order() {
    let upstream = echo_server().await;
    let proxy = DelayProxy::bind(upstream, Delay::from_quantiles(1.0, 5.0), 3)
        .await
        .expect("proxy");
    let mut stream = TcpStream::connect(proxy.local_addr())
        .await
        .expect("connect");
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let (mut read, mut write) = stream.split();
    let send = async {
        write.write_all(&payload).await.expect("write");
    };
    let receive = async {
        let mut back = vec![0u8; payload.len()];
        read.read_exact(&mut back).await.expect("read");
        back
    };
    let ((), back) = tokio::join!(send, receive);
    assert!(
        back == payload,
        "1 MB echoed through the proxy, byte for byte, in order"
    );
}

#[tokio::test]
async fn a_refused_upstream_closes_the_client_connection() {
    // A port nothing listens on: bind, note the address, close.
    let closed = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let proxy = DelayProxy::bind(closed, Delay::ZERO, 4)
        .await
        .expect("proxy");
    let mut stream = TcpStream::connect(proxy.local_addr())
        .await
        .expect("the proxy accepts");
    let mut buffer = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
        .await
        .expect("the proxy closes the connection rather than hanging");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "no bytes from a refused upstream"
    );
}

#[tokio::test]
async fn a_changed_delay_applies_to_the_next_response_on_an_open_connection() {
    let upstream = echo_server().await;
    let proxy = DelayProxy::bind(upstream, Delay::ZERO, 5)
        .await
        .expect("proxy");
    let mut stream = TcpStream::connect(proxy.local_addr())
        .await
        .expect("connect");
    round_trip(&mut stream, b"before").await;
    proxy.set_delay(Delay::constant(35.0));
    assert_eq!(proxy.delay(), Delay::constant(35.0));
    for round in 0..3 {
        let took = round_trip(&mut stream, format!("after {round}").as_bytes()).await;
        assert!(
            took >= Duration::from_millis(35),
            "round {round} took {took:?}"
        );
    }
}
