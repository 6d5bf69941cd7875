//! Addresses: `host:port`, or `unix:/path` for a unix stream socket; checked at load the
//! way the connect will read them, and connected to as one kind of stream.

use tokio::io::{AsyncRead, AsyncWrite};

/// A connected byte stream, TCP or unix: a source speaks the same protocol over either, so
/// it is written once against this.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Checks `host:port` or `unix:/path` (`example` is a socket path to show in the error for
/// an empty `unix:`). A socket path is not checked for existence: the app may create it
/// after the adapter starts, as a sidecar's often does.
pub(crate) fn check_address(address: &str, example: &str) -> Result<(), String> {
    match address.strip_prefix("unix:") {
        Some("") => Err(format!(
            "\"unix:\" needs the socket's path, as in unix:{example}"
        )),
        Some(_) => Ok(()),
        None => check_host_port(address),
    }
}

/// Connects to an address [`check_address`] accepted.
pub(crate) async fn connect(address: &str) -> std::io::Result<Box<dyn Io>> {
    match address.strip_prefix("unix:") {
        Some(path) => connect_unix(std::path::Path::new(path)).await,
        None => {
            let stream = tokio::net::TcpStream::connect(address).await?;
            // Request/reply in one small write each way: Nagle would only add delay.
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream))
        }
    }
}

/// Connects to the unix stream socket at `path`.
pub(crate) async fn connect_unix(path: &std::path::Path) -> std::io::Result<Box<dyn Io>> {
    Ok(Box::new(tokio::net::UnixStream::connect(path).await?))
}

/// Checks a `host:port` address the way the connect at run time will read it (split at the
/// last `:`, a decimal port), so `check` refuses what could only fail later: a missing,
/// zero or non-numeric port, an empty host, an unbracketed IPv6 address. `[::1]:6379` is
/// the IPv6 form. The host is not resolved here: DNS at load time would make `check`
/// depend on the network, and a name may resolve later (a pod's sibling service).
pub(crate) fn check_host_port(address: &str) -> Result<(), String> {
    let usage = "use host:port, e.g. 127.0.0.1:6379";
    if address.trim().is_empty() {
        return Err(format!("empty; {usage}"));
    }
    if address.chars().any(char::is_whitespace) {
        return Err(format!("{address:?} contains a space; {usage}"));
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return Err(format!("{address:?} has no port; {usage}"));
    };
    if port.is_empty() {
        return Err(format!("{address:?} has no port; {usage}"));
    }
    // Digits only: `str::parse::<u16>` would also take `+80`, which the resolver refuses.
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{address:?}: port {port:?} is not a number; {usage}"
        ));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("{address:?}: port {port} is out of range 1-65535")),
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ip = inner.strip_suffix(']');
        if !ip.is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()) {
            return Err(format!(
                "{address:?}: {host:?} is not a bracketed IPv6 address; {usage}"
            ));
        }
        return Ok(());
    }
    if host.is_empty() {
        return Err(format!("{address:?} has no host; {usage}"));
    }
    if host.contains(':') {
        return Err(format!(
            "{address:?}: an IPv6 address needs brackets, as in [::1]:6379"
        ));
    }
    Ok(())
}
