//! The HTTP endpoints:
//!
//! - `GET /metrics` (or `server.metrics_path`, `--web.telemetry-path`): the page, with the
//!   adapter's `process_*` metrics ([`crate::process`]); OpenMetrics when `Accept` asks,
//!   gzip when `Accept-Encoding` allows. Always 200: a source that is down shows as
//!   `metrics_adapter_source_up{source=..} 0`. With `X-Prometheus-Scrape-Timeout-Seconds`,
//!   source reads end within that time less a margin, so the page arrives in time.
//!   `HEAD` answers the headers without reading any source.
//! - `GET /healthz`: 200 while the process serves. Never depends on the app beside us:
//!   restarting the adapter because the app is down helps nobody.
//! - `GET /readyz`: 200 once the config is loaded and every background (`interval`) source
//!   has finished its first read (up or down), 503 before: a starting pod is not scraped
//!   into a page of `no result yet`. Sources read on scrape are always ready.
//! - `GET /`: a small status page linking `/metrics` and listing sources: where each reads,
//!   its state, its last read, and its last error with the time (kept after it recovers).
//! - `POST /-/reload` (or `PUT`): re-read the config, as `SIGHUP` does (see [`crate::app`]);
//!   only with `--web.enable-lifecycle`, as in Prometheus (else 403). A failed reload answers
//!   500 with the file, key, line and reason, never the config's text.
//!
//! With a web config file, all of them are behind its TLS and basic auth ([`crate::web`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, ACCEPT_ENCODING, CONTENT_TYPE, VARY};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, error, info, warn};

pub use crate::app::{App, Loaded};
use crate::exposition::{self, WireFormat};
use crate::web;

mod limits;
mod page;
use limits::{Open, PerClient, WriteTimeout};

type Body = page::PageBody;

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Body::from(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
    r.headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static(allow));
    r
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == "/-/reload" {
        return Ok(if !app.live().settings.server.enable_lifecycle {
            text(
                StatusCode::FORBIDDEN,
                "the lifecycle API is not enabled: start with --web.enable-lifecycle, \
                     or send SIGHUP\n",
            )
        } else if req.method() == Method::POST || req.method() == Method::PUT {
            match app.reload().await {
                Ok(()) => text(StatusCode::OK, "reloaded\n"),
                Err(e) => {
                    let mut r = text(StatusCode::INTERNAL_SERVER_ERROR, "");
                    *r.body_mut() = Body::from(Bytes::from(format!("reload failed: {e}\n")));
                    r
                }
            }
        } else {
            method_not_allowed("POST, PUT")
        });
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(method_not_allowed("GET, HEAD"));
    }
    let live = app.live();
    Ok(match req.uri().path() {
        p if p == live.settings.server.metrics_path => metrics(&app, &live, &req).await,
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if live.scraper.ready() => text(StatusCode::OK, "ready\n"),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: first read of the sources pending\n",
        ),
        "/" => landing(&live),
        _ => text(StatusCode::NOT_FOUND, "not found: try /metrics\n"),
    })
}

fn accepts_gzip(req: &Request<Incoming>) -> bool {
    req.headers()
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| crate::text::lists_accepted(v, "gzip"))
}

/// Prometheus sends its scrape timeout in this header; see [`scrape_budget`].
const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// How long this scrape's source reads may take: the scraper's timeout less a margin for
/// assembling, encoding and sending the page (10% of it, at least 100 ms), so a slow app
/// gives `up 0` on a page that arrives in time instead of a failed scrape. `None` without
/// the header (or with one that is no positive number of seconds): the sources' own
/// timeouts apply.
fn scrape_budget(req: &Request<Incoming>) -> Option<Duration> {
    let secs: f64 = req
        .headers()
        .get(SCRAPE_TIMEOUT_HEADER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if !(secs.is_finite() && secs > 0.0) {
        return None;
    }
    let margin = (secs * 0.1).max(0.1);
    // In whole milliseconds (messages then say `1.35s`, not `1.349999999s`), capped at a
    // day so the cast cannot overflow.
    let millis = ((secs - margin) * 1000.0).round().clamp(0.0, 86_400_000.0);
    Some(Duration::from_millis(millis as u64))
}

async fn metrics(app: &App, live: &Loaded, req: &Request<Incoming>) -> Response<Body> {
    let format = WireFormat::negotiate(req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()));
    if req.method() == Method::HEAD {
        // A HEAD asks whether the page is there, not for its numbers: reading every
        // source (running commands, connecting to the app) to throw the page away would
        // be load for nothing, and would count as reads.
        return Response::builder()
            .header(CONTENT_TYPE, format.content_type())
            .header(VARY, "Accept, Accept-Encoding")
            .body(Body::new([]))
            .unwrap_or_else(|_| {
                text(StatusCode::INTERNAL_SERVER_ERROR, "response build failed\n")
            });
    }
    // The sources' part comes encoded (kept while no source changed); the adapter's own
    // families are written after it. Source data cannot write those names (dropped as
    // reserved), so the two parts never share a family.
    let (data, mut own) = live.scraper.scrape_page(scrape_budget(req), format).await;
    own.extend(app.reload_families());
    // Read after the sources: CPU time and memory include this scrape's work.
    own.extend(crate::process::families());
    // Two frames, not one joined buffer: the sources' part is shared with the scraper's
    // cache and every other response in flight (see `page`).
    let own = exposition::encode_own(&own, format);
    page::page_response(format, data, own, accepts_gzip(req)).await
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-05-01 12:00:03 UTC (42 s ago)`: the time, so it can be matched with logs, and
/// the age, so nobody has to work it out.
fn when(t: SystemTime, now: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let ago = now.duration_since(t).unwrap_or_default().as_secs();
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC ({ago} s ago)",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm, exact
/// for the proleptic Gregorian calendar), the inverse of `days_from_civil` in
/// `parse/date.rs`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The longest app text quoted on the status page, in characters.
const QUOTE_MAX: usize = 160;

/// `; unmatched input: ...` for the state column when the source's input had lines (keys)
/// no rule used: a line that stopped matching removes its series while the source stays
/// up, so it is said here, with the latest first such line (shortened; escaped with the
/// rest of the row).
fn unmatched(t: &crate::scrape::Target) -> String {
    let count = t.totals().unmatched;
    if count == 0 {
        return String::new();
    }
    let first = t.last_unmatched().unwrap_or_default();
    let short = match first.char_indices().nth(QUOTE_MAX) {
        Some((at, _)) => format!("{}…", first.split_at(at).0),
        None => first,
    };
    format!("; unmatched input: {count} in all (read, but no rule used it), latest first: {short}")
}

fn landing(app: &Loaded) -> Response<Body> {
    use std::fmt::Write as _;
    let metrics_path = escape_html(&app.settings.server.metrics_path);
    // "path, URL, address or command": the one column that differs by source type, named
    // for every value it can hold.
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>metrics-adapter</title></head><body>\n\
         <h1>metrics-adapter {}</h1>\n<p><a href=\"{metrics_path}\">{metrics_path}</a> · \
         <a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a></p>\n\
         <table border=\"1\" cellpadding=\"4\"><tr><th>source</th><th>type</th>\
         <th>path, URL, address or command</th><th>parser</th><th>state</th><th>last read</th>\
         <th>last error</th></tr>\n",
        env!("CARGO_PKG_VERSION")
    );
    let now = SystemTime::now();
    for t in app.scraper.targets() {
        let (state, read) = match t.last() {
            None => ("not read yet".to_string(), String::new()),
            Some(o) => (
                match (&o.error, &o.first_issue) {
                    (Some(_), _) => "down".to_string(),
                    (None, Some(first)) => {
                        format!("up; {} value(s) skipped, first: {first}", o.issues)
                    }
                    (None, None) => "up".to_string(),
                } + &unmatched(t),
                format!(
                    "{}, {:.1} ms, {} bytes",
                    when(o.finished, now),
                    o.duration.as_secs_f64() * 1000.0,
                    o.bytes
                ),
            ),
        };
        let error = t
            .last_error()
            .map(|(e, at)| format!("{}: {e}", when(at, now)))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&t.spec.name),
            t.spec.source.kind(),
            escape_html(&t.spec.source.describe()),
            escape_html(t.parser.name()),
            escape_html(&state),
            escape_html(&read),
            escape_html(&error)
        );
    }
    html.push_str("</table>\n</body></html>\n");
    let mut r = Response::new(Body::from(Bytes::from(html)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish (bounded by
/// `server.shutdown_timeout`). Every request passes the TLS, basic auth and extra headers of
/// the app's web config ([`App::web`], taken anew by each connection, so a reloaded web
/// config applies to the next connection) before [`handle`].
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    // Listener settings are read once: a reload cannot rebind or resize a running server.
    // A copy, not the start-up config itself: holding that for the server's life would keep
    // its scraper, and its background readers, running after every reload.
    let server = &app.live().settings.server.clone();
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(server.max_connections));
    let clients = PerClient::new(server.max_connections_per_client);
    let open = Arc::new(Open::default());
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(server.header_read_timeout)
        .max_buf_size(64 * 1024);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning or giving up.
                    error!("accept failed: {e}; retrying in 1s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // The client's own limit first: a client at its limit never closes others' idle
        // connections.
        let Some(client_slot) = clients.take(peer.ip()) else {
            debug!(
                %peer,
                "per-client limit ({}) reached; closing a new connection",
                server.max_connections_per_client
            );
            drop(stream);
            continue;
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            // Every slot taken: the oldest idle connection makes room (it goes at its next
            // poll, so the slot is waited for, briefly).
            Err(_) if open.close_oldest_idle() => {
                match tokio::time::timeout(MAKE_ROOM, permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => {
                        drop(stream);
                        continue;
                    }
                }
            }
            Err(_) => {
                warn!(
                    "connection limit ({}) reached, none idle; closing a new connection",
                    server.max_connections
                );
                drop(stream);
                continue;
            }
        };
        let registered = open.register();
        let (state, close) = (registered.state.clone(), registered.close.clone());
        let permit = (permit, client_slot, registered);
        let _ = stream.set_nodelay(true);
        let guard = app.web();
        let tls = guard.tls_acceptor();
        let app = app.clone();
        let client = web::ClientAddr(peer.ip());
        let busy = state.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let (app, guard) = (app.clone(), guard.clone());
            req.extensions_mut().insert(client);
            let busy = busy.busy();
            async move {
                let answer = guard.guard(req, move |req| handle(app, req)).await;
                drop(busy);
                answer
            }
        });
        let Some(acceptor) = tls else {
            let stream = WriteTimeout::new(stream, server.write_timeout).tracked(state);
            let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                tokio::select! {
                    _ = conn => {}
                    () = close.notified() => debug!(%peer, "closed an idle connection to make room"),
                }
                drop(permit);
            });
            continue;
        };
        // TLS: the handshake runs in the connection's task, holding its permit, bounded by
        // the header read timeout.
        let (builder, watcher, limit, write_timeout) = (
            builder.clone(),
            graceful.watcher(),
            server.header_read_timeout,
            server.write_timeout,
        );
        tokio::spawn(async move {
            let serve = async {
                if let Some(tls) = web::accept_tls(&acceptor, stream, peer, limit).await {
                    let tls = WriteTimeout::new(tls, write_timeout).tracked(state);
                    let _ = watcher
                        .watch(builder.serve_connection(TokioIo::new(tls), service))
                        .await;
                }
            };
            tokio::select! {
                () = serve => {}
                () = close.notified() => debug!(%peer, "closed an idle connection to make room"),
            }
            drop(permit);
        });
    }
    drop(listener);
    info!("shutting down: finishing in-flight requests");
    if tokio::time::timeout(server.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        warn!(
            "in-flight requests did not finish within {:?}",
            server.shutdown_timeout
        );
    }
}

/// How long a new connection waits for the slot of an idle one closed for it.
const MAKE_ROOM: Duration = Duration::from_millis(500);

fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed by the call, not by the first
/// poll (the server polls it only once it runs): a signal in between is kept, not fatal.
/// Call it inside the runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let installed = [
        ("SIGTERM", signal(SignalKind::terminate())),
        ("SIGINT", signal(SignalKind::interrupt())),
    ];
    let waits = installed.map(|(name, installed)| async move {
        match installed {
            Ok(mut s) => {
                s.recv().await;
                info!("{name} received");
            }
            Err(e) => {
                error!("cannot listen for {name}: {e}");
                std::future::pending::<()>().await;
            }
        }
    });
    async move {
        let [term, int] = waits;
        tokio::select! {
            () = term => {}
            () = int => {}
        }
    }
}

#[cfg(test)]
mod tests;
