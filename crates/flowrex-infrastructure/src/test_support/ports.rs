//! Loopback ports for tests that start servers of their own (the SMTP server here; the
//! `flowrex` binary, nginx, PostgreSQL, MariaDB and Redis in other crates' tests).

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A free loopback port: the one the OS gives a listener on `127.0.0.1:0`, closed at once.
/// It is free when asked, not reserved: use it right away (another process may take it
/// later).
///
/// # Panics
/// When the OS has no port to give.
pub fn spare_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("no spare port: {e}"))
}

/// Waits until something accepts connections on loopback `port`, trying every 50 ms.
///
/// # Panics
/// When nothing does within `timeout`; the message names `what` (`"Redis"`, `"the
/// server"`).
pub fn wait_for_port(port: u16, what: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on {port} within {timeout:?}");
}
