//! Every connection `verify` makes: TCP connects, HTTP/1.1 requests (ureq, no proxy, short
//! timeouts) and the TLS probe that explains handshake failures. Failures are classified so
//! each check can name a concrete fix.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::verify::target::FrontDoor;

/// Bodies larger than this are refused (a trace lookup of two spans is a few KiB).
const BODY_LIMIT: u64 = 16 * 1024 * 1024;

/// Why a connection or request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens on the port.
    Refused,
    /// No answer in time (a port that accepts and never answers ends here).
    Timeout,
    /// The TLS handshake failed; `certificate` when the peer's certificate was not trusted.
    Tls {
        certificate: bool,
        message: String,
    },
    /// The peer answered something that is not HTTP/1.1, or closed the connection.
    NotHttp(String),
    Other(String),
}

impl Failure {
    pub fn describe(&self) -> String {
        match self {
            Failure::Refused => "connection refused".into(),
            Failure::Timeout => "no answer before the timeout".into(),
            Failure::Tls { message, .. } => format!("TLS handshake failed: {message}"),
            Failure::NotHttp(message) => format!("the answer is not HTTP: {message}"),
            Failure::Other(message) => message.clone(),
        }
    }
}

/// A complete HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    /// The start of the body as text, for messages.
    pub fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        let mut short: String = text.chars().take(160).collect();
        if short.len() < text.len() {
            short.push('…');
        }
        short.replace('\n', " ")
    }
}

/// Connects to `host:port` over TCP and closes again.
pub fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<(), Failure> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure::Other(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut last = Failure::Other(format!("{host} has no address"));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = io_failure(&e),
        }
    }
    Err(last)
}

fn io_failure(error: &io::Error) -> Failure {
    // TLS handshakes run inside reads and writes: rustls errors arrive wrapped in io errors.
    if let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls_failure(tls);
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused => Failure::Refused,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Failure::Timeout,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::UnexpectedEof
        | io::ErrorKind::BrokenPipe => Failure::NotHttp(format!("connection closed ({error})")),
        _ => Failure::Other(error.to_string()),
    }
}

pub fn tls_failure(error: &rustls::Error) -> Failure {
    Failure::Tls {
        certificate: matches!(
            error,
            rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
        ),
        message: error.to_string(),
    }
}

fn agent(timeout: Duration, verify_tls: bool, ca: Option<&[u8]>) -> Result<ureq::Agent, Failure> {
    let mut tls = ureq::tls::TlsConfig::builder().disable_verification(!verify_tls);
    if let Some(pem) = ca {
        let cert = ureq::tls::Certificate::from_pem(pem)
            .map_err(|e| Failure::Other(format!("the CA certificate does not parse: {e}")))?;
        tls = tls.root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
            cert,
        ])));
    }
    let tls = tls.build();
    let config = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout))
        .tls_config(tls)
        .user_agent(concat!("kneo-otel/", env!("CARGO_PKG_VERSION"), " verify"))
        .build();
    Ok(config.into())
}

fn classify(error: ureq::Error) -> Failure {
    match error {
        ureq::Error::Io(e) => io_failure(&e),
        ureq::Error::Timeout(_) => Failure::Timeout,
        ureq::Error::Rustls(e) => tls_failure(&e),
        ureq::Error::Tls(message) => Failure::Tls {
            certificate: false,
            message: message.to_string(),
        },
        ureq::Error::Protocol(e) => Failure::NotHttp(e.to_string()),
        ureq::Error::ConnectionFailed => Failure::Refused,
        other => Failure::Other(other.to_string()),
    }
}

fn finish(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Reply, Failure> {
    let mut response = result.map_err(classify)?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(BODY_LIMIT)
        .read_to_vec()
        .map_err(classify)?;
    Ok(Reply { status, body })
}

/// `GET url` with extra headers; any status is a [`Reply`].
pub fn get(url: &str, headers: &[(&str, &str)], timeout: Duration) -> Result<Reply, Failure> {
    let mut request = agent(timeout, true, None)?.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    finish(request.call())
}

/// `POST url` with a body; any status is a [`Reply`]. With `front_door` (an exposed stack)
/// the server must present a certificate its CA signed, and the token goes along.
pub fn post(
    url: &str,
    content_type: &str,
    body: &[u8],
    timeout: Duration,
    front_door: Option<&FrontDoor>,
) -> Result<Reply, Failure> {
    let ca = front_door.map(|f| f.ca_pem.as_slice());
    let mut request = agent(timeout, true, ca)?
        .post(url)
        .header("Content-Type", content_type);
    if let Some(front_door) = front_door {
        request = request.header("Authorization", format!("Bearer {}", front_door.token));
    }
    finish(request.send(body))
}

/// Whether `host:port` completes a TLS handshake (certificate not checked: this only explains a
/// failure, nothing is sent but a `GET /`).
pub fn speaks_tls(authority: &str, timeout: Duration) -> bool {
    let url = format!("https://{authority}/");
    let Ok(agent) = agent(timeout, false, None) else {
        return false;
    };
    match agent.get(&url).call() {
        Ok(_) => true,
        Err(ureq::Error::Protocol(_)) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn refused_and_silent_ports_are_told_apart() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            tcp_connect("127.0.0.1", port, Duration::from_secs(1)),
            Ok(())
        );
        let started = std::time::Instant::now();
        let failure = get(
            &format!("http://127.0.0.1:{port}/"),
            &[],
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert_eq!(failure, Failure::Timeout);
        assert!(started.elapsed() < Duration::from_secs(3));
        drop(listener);
        assert_eq!(
            tcp_connect("127.0.0.1", port, Duration::from_secs(1)),
            Err(Failure::Refused)
        );
    }
}
