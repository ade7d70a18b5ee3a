//! The `/metrics` endpoint: one ordinary-priority thread answering scrapes with
//! [`Metrics::encode`]. HTTP parsing is tiny_http's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use super::Metrics;
use crate::config::MetricsConfig;

/// What the endpoint answers with.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A running endpoint.
pub(crate) struct Exporter {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Serves `metrics` on `cfg.listen`. None when the endpoint is off, or when it cannot
    /// listen: that is logged, and the S7 service runs on without metrics.
    pub(crate) fn start(cfg: &MetricsConfig, metrics: Metrics) -> Option<Exporter> {
        let listen = cfg.listen_addr()?;
        let server = match tiny_http::Server::http(listen) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                log::warn!("metrics: cannot listen on {listen}: {e}; serving without metrics ([metrics] listen)");
                return None;
            }
        };
        let addr = server.server_addr().to_ip().unwrap_or(listen);
        let srv = server.clone();
        let thread = std::thread::Builder::new()
            .name("s7rt-metrics".into())
            .spawn(move || serve(&srv, &metrics));
        match thread {
            Ok(t) => {
                log::info!("metrics: serving http://{addr}/metrics");
                Some(Exporter {
                    server,
                    addr,
                    thread: Some(t),
                })
            }
            Err(e) => {
                log::warn!("metrics: cannot start the endpoint thread: {e}");
                None
            }
        }
    }

    /// The bound address (useful with port 0).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the thread.
    pub(crate) fn stop(self) {
        let Exporter {
            server,
            addr,
            thread,
        } = self;
        server.unblock();
        if let Some(t) = thread {
            let _ = t.join();
        }
        // Dropping the last handle tells tiny_http's acceptor to close the listener, which it
        // notices only when a connection arrives: make one, so the port is free on return.
        drop(server);
        let mut wake = addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let _ = std::net::TcpStream::connect_timeout(&wake, std::time::Duration::from_millis(200));
    }
}

fn serve(server: &tiny_http::Server, metrics: &Metrics) {
    // `recv` fails once `unblock` was called: that ends the thread.
    while let Ok(request) = server.recv() {
        let path = request.url().split('?').next().unwrap_or("");
        let response = match (request.method(), path) {
            (tiny_http::Method::Get, "/metrics") => match metrics.encode() {
                Ok(text) => with_content_type(tiny_http::Response::from_string(text)),
                Err(_) => tiny_http::Response::from_string("cannot encode metrics\n")
                    .with_status_code(500),
            },
            (tiny_http::Method::Get, _) => {
                tiny_http::Response::from_string("s7rtd serves /metrics\n").with_status_code(404)
            }
            _ => tiny_http::Response::from_string("GET only\n").with_status_code(405),
        };
        // A scraper that went away is its own problem.
        let _ = request.respond(response);
    }
}

fn with_content_type<R: std::io::Read>(r: tiny_http::Response<R>) -> tiny_http::Response<R> {
    // A constant ASCII header always parses; without it a scraper still gets the text.
    match tiny_http::Header::from_bytes(&b"Content-Type"[..], CONTENT_TYPE.as_bytes()) {
        Ok(h) => r.with_header(h),
        Err(()) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn serves_metrics_and_refuses_other_paths_and_methods() {
        let cfg = MetricsConfig {
            listen: "127.0.0.1:0".into(),
        };
        let ex = Exporter::start(&cfg, Metrics::new(true)).unwrap();
        let addr = ex.local_addr();
        assert_ne!(addr.port(), 0);
        let ok = get(addr, "GET /metrics HTTP/1.0\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.0 200"), "{ok}");
        assert!(ok.contains("text/plain; version=0.0.4"), "{ok}");
        assert!(ok.contains("\ns7rtd_cpu_mode{mode=\"run\"} 1\n"), "{ok}");
        assert!(get(addr, "GET / HTTP/1.0\r\n\r\n").starts_with("HTTP/1.0 404"));
        assert!(
            get(addr, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
                .starts_with("HTTP/1.0 405")
        );
        ex.stop();
        let t0 = std::time::Instant::now();
        while std::net::TcpStream::connect(addr).is_ok() {
            assert!(t0.elapsed().as_secs() < 5, "still listening after stop");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn off_when_empty_and_none_when_the_port_is_taken() {
        let off = MetricsConfig { listen: "".into() };
        assert!(Exporter::start(&off, Metrics::new(true)).is_none());
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let cfg = MetricsConfig {
            listen: taken.local_addr().unwrap().to_string(),
        };
        assert!(Exporter::start(&cfg, Metrics::new(true)).is_none());
    }
}
