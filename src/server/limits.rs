//! Per-connection limits the HTTP library does not give: a write timeout, so a client that
//! asks for a page and never reads it cannot hold the page's memory and a connection slot
//! until it hangs up; a per-client connection count, so one client cannot hold every
//! slot of `server.max_connections`; and the open connections ([`Open`]), so that when
//! every slot is taken the oldest idle one is closed for a new client (16 loopback
//! addresses × 16 idle connections would otherwise shut everyone else out).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Sleep;

/// A stream whose writes fail once no byte could be written for `timeout`.
pub struct WriteTimeout<S> {
    inner: S,
    timeout: Duration,
    /// Armed while a write waits; a write that makes progress disarms it.
    waiting: Option<Pin<Box<Sleep>>>,
    /// The connection's state, told whether a write waits (see [`ConnState`]).
    state: Option<Arc<ConnState>>,
}

impl<S> WriteTimeout<S> {
    pub fn new(inner: S, timeout: Duration) -> Self {
        WriteTimeout {
            inner,
            timeout,
            waiting: None,
            state: None,
        }
    }

    /// Tells `state` whether a write waits on the client.
    pub fn tracked(mut self, state: Arc<ConnState>) -> Self {
        self.state = Some(state);
        self
    }

    fn after<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Some(state) = &self.state {
            state.writing.store(poll.is_pending(), Ordering::Relaxed);
        }
        if poll.is_ready() {
            self.waiting = None;
            return poll;
        }
        let timeout = self.timeout;
        let sleep = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("client read nothing for {timeout:?} (server.write_timeout)"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.after(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.after(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.after(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.after(cx, poll)
    }
}

/// Open connections per client address, at most `limit` each.
#[derive(Debug)]
pub struct PerClient {
    limit: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its client's count, given back when dropped.
#[derive(Debug)]
pub struct ClientSlot {
    clients: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    pub fn new(limit: usize) -> Arc<PerClient> {
        Arc::new(PerClient {
            limit,
            open: Mutex::default(),
        })
    }

    /// A slot for a new connection from `ip`, or `None` when it has `limit` open already.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<ClientSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= self.limit {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self
            .clients
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// What the server knows of one connection: requests being answered, and whether a write
/// waits on the client. Idle: neither (between keep-alive requests, or before the first).
#[derive(Debug, Default)]
pub struct ConnState {
    requests: AtomicUsize,
    writing: AtomicBool,
}

impl ConnState {
    fn idle(&self) -> bool {
        self.requests.load(Ordering::Relaxed) == 0 && !self.writing.load(Ordering::Relaxed)
    }

    /// Marks a request being answered until the guard drops.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.requests.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }
}

/// A request being answered (see [`ConnState::busy`]).
pub struct Busy(Arc<ConnState>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One open connection: its number, state, and what closes it.
type OpenConn = (u64, Arc<ConnState>, Arc<Notify>);

/// The open connections, oldest first, each with a way to close it.
#[derive(Debug, Default)]
pub struct Open {
    conns: Mutex<Vec<OpenConn>>,
    next: AtomicU64,
}

/// A connection's place in [`Open`], given up when dropped.
pub struct Registered {
    open: Arc<Open>,
    id: u64,
    pub state: Arc<ConnState>,
    /// Notified when the server closes the connection to make room.
    pub close: Arc<Notify>,
}

impl Open {
    pub fn register(self: &Arc<Self>) -> Registered {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (state, close) = (Arc::new(ConnState::default()), Arc::new(Notify::new()));
        self.conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((id, state.clone(), close.clone()));
        Registered {
            open: self.clone(),
            id,
            state,
            close,
        }
    }

    /// Closes the oldest idle connection (it goes at its next poll); false when none is.
    pub fn close_oldest_idle(&self) -> bool {
        let mut conns = self.conns.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(i) = conns.iter().position(|(_, state, _)| state.idle()) else {
            return false;
        };
        let (_, _, close) = conns.remove(i);
        close.notify_one();
        true
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut conns = self
            .open
            .conns
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        conns.retain(|(id, _, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn closed(r: &Registered) -> bool {
        tokio::time::timeout(Duration::from_millis(10), r.close.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn the_oldest_idle_connection_is_closed_first() {
        let open = Arc::new(Open::default());
        let (a, b, c) = (open.register(), open.register(), open.register());
        let _busy = a.state.busy();
        assert!(open.close_oldest_idle());
        // `a` answers a request: `b`, the oldest idle one, is closed.
        assert!(closed(&b).await);
        assert!(!closed(&c).await);
        drop(c);
        assert!(!open.close_oldest_idle(), "only a busy one is left");
    }

    #[test]
    fn a_client_gets_at_most_its_share_and_gets_it_back() {
        let clients = PerClient::new(2);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let s1 = clients.take(a).unwrap();
        let _s2 = clients.take(a).unwrap();
        assert!(clients.take(a).is_none());
        assert!(clients.take(b).is_some());
        drop(s1);
        assert!(clients.take(a).is_some());
    }

    #[tokio::test]
    async fn a_write_nobody_reads_times_out() {
        let (client, server) = tokio::io::duplex(1024);
        let mut server = WriteTimeout::new(server, Duration::from_millis(100));
        let page = vec![b'x'; 64 * 1024];
        let started = std::time::Instant::now();
        let err = tokio::io::AsyncWriteExt::write_all(&mut server, &page)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(client);
    }
}
