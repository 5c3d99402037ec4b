//! A TCP server that accepts connections and never answers: the shape of a
//! hung database or cache, for deadline tests.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub struct Blackhole {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

impl Blackhole {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind blackhole");
        let addr = listener.local_addr().expect("blackhole address");
        let stop = Arc::new(AtomicBool::new(false));
        let held = Arc::new(Mutex::new(Vec::new()));
        let (stop2, held2) = (Arc::clone(&stop), Arc::clone(&held));
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    held2.lock().expect("blackhole lock").push(conn);
                }
            }
        });
        Self {
            addr,
            stop,
            held,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far (and still held open).
    pub fn connections(&self) -> usize {
        self.held.lock().map(|h| h.len()).unwrap_or(0)
    }

    /// Connections the other side has not closed yet.
    pub fn open_connections(&self) -> usize {
        let Ok(held) = self.held.lock() else {
            return 0;
        };
        let mut buf = [0u8; 4096];
        held.iter()
            .filter(|c| {
                use std::io::Read;
                let _ = c.set_nonblocking(true);
                let mut c: &TcpStream = c;
                // What was sent is read and dropped, so that a close behind it shows.
                loop {
                    match c.read(&mut buf) {
                        Ok(0) => return false,
                        Ok(_) => continue,
                        Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
                    }
                }
            })
            .count()
    }

    /// Runs `f` while sampling [`Self::open_connections`] every 10 ms;
    /// returns `f`'s result and the most connections seen open at once.
    pub fn max_open_during<T>(&self, f: impl FnOnce() -> T) -> (T, usize) {
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let sampler = s.spawn(|| {
                let mut most = 0;
                while !done.load(Ordering::SeqCst) {
                    most = most.max(self.open_connections());
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                most.max(self.open_connections())
            });
            let out = f();
            done.store(true, Ordering::SeqCst);
            (out, sampler.join().expect("sampler"))
        })
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
