//! Serving the exposition on `/metrics` over HTTP, from a thread of its own,
//! so a scrape never waits on sampling and sampling never waits on a scrape.

use super::Exposition;
use anyhow::{Result, anyhow};
use std::sync::Arc;

/// The content type of the OpenMetrics text format.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Starts serving `expo` on `addr` (e.g. `127.0.0.1:9464`); returns the
/// address bound (a port of 0 picks a free one). The server answers
/// `GET /metrics` and nothing else, until the process ends.
pub fn serve(addr: &str, expo: Arc<Exposition>) -> Result<std::net::SocketAddr> {
    let server =
        tiny_http::Server::http(addr).map_err(|e| anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| anyhow!("cannot listen on {addr}: not an IP address"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for req in server.incoming_requests() {
                let path = req.url().split('?').next().unwrap_or("");
                let ok = *req.method() == tiny_http::Method::Get && path == "/metrics";
                let resp = if ok {
                    let header =
                        tiny_http::Header::from_bytes("Content-Type", CONTENT_TYPE).map_err(|_| ());
                    let mut r = tiny_http::Response::from_string(expo.render());
                    if let Ok(h) = header {
                        r = r.with_header(h);
                    }
                    r
                } else {
                    tiny_http::Response::from_string("leakwatch serves /metrics only\n")
                        .with_status_code(404)
                };
                let _ = req.respond(resp);
            }
        })?;
    Ok(bound)
}
