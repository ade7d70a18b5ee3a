//! The daemon's control socket: configuration (`[host] socket`, `socket_clients`) and start.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::host_backend::HostBackend;
use super::server::{ControlConfig, ControlServer};
use crate::config::Config;
use crate::server::Server;

/// A client that accepts no line for this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the control socket of a running server, as `[host]` configures it. `Ok(None)`
/// when it is turned off (`socket = ""`), or when the default path is taken by another
/// server (logged: several daemons on one machine, one of them configured elsewhere); a
/// problem with an explicitly configured path is an error.
pub fn start(cfg: &Config, server: &Server) -> anyhow::Result<Option<ControlServer>> {
    let (path, explicit) = match &cfg.host.socket {
        Some(p) if p.as_os_str().is_empty() => return Ok(None),
        Some(p) => (p.clone(), true),
        None => (PathBuf::from(super::DEFAULT_SOCKET), false),
    };
    let tags = Arc::new(cfg.tag_table().map_err(|e| anyhow::anyhow!("{e}"))?);
    let control = server.control().clone();
    let missing = server.missing.clone();
    let rt = cfg.rt.clone();
    let listen = server.local_addr();
    let host = server.host();
    let status = Arc::new(move || {
        json!({
            "rt": {
                "running": host.is_running(),
                "heartbeat": control.heartbeat.load(Ordering::Relaxed),
                "real_time": rt.enabled && missing.is_empty(),
                "enabled": rt.enabled,
                "cpu": rt.cpu,
                "priority": rt.priority,
                "missing": missing,
            },
            "s7": {
                "listen": listen.to_string(),
                "connections": control.connections.load(Ordering::Relaxed),
            },
        })
    });
    let backend = Arc::new(HostBackend::new(server.host(), status));
    let started = ControlServer::start(
        ControlConfig {
            path: path.clone(),
            max_clients: cfg.host.socket_clients,
            write_timeout: WRITE_TIMEOUT,
        },
        backend,
        tags,
    );
    match started {
        Ok(s) => {
            log::info!("control socket on {}", path.display());
            Ok(Some(s))
        }
        Err(e) if !explicit => {
            log::warn!("control socket not started: {e} (set [host] socket to another path, or \"\" to turn it off)");
            Ok(None)
        }
        Err(e) => Err(anyhow::anyhow!("control socket ([host] socket): {e}")),
    }
}
