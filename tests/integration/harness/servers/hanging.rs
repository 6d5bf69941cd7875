//! [`Hanging`]: a fake server that accepts TCP connections and never answers, for timeout
//! tests.

use std::net::{Shutdown, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::harness::LOCALHOST;

/// A TCP listener on 127.0.0.1 that accepts connections and never answers (nor closes
/// them) until dropped, for timeout tests. Gives up by itself after two minutes.
#[derive(Debug)]
pub struct Hanging {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Hanging {
    pub fn start() -> Hanging {
        let listener = TcpListener::bind((LOCALHOST, 0)).expect("bind hanging listener");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local_addr").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (acc, st) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let start = Instant::now();
            while !st.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(120) {
                match listener.accept() {
                    Ok((s, _)) => {
                        acc.fetch_add(1, Ordering::SeqCst);
                        held.push(s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            for s in held {
                let _ = s.shutdown(Shutdown::Both);
            }
        });
        Hanging {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
