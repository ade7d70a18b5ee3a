//! `[host]` in the configuration: the queues between the host application and the RT
//! thread, and the RT thread's per-turn budget.

/// `[host]` in the configuration: queue sizes and the RT thread's per-turn budget.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    /// Host → RT commands the queue holds.
    pub command_queue: usize,
    /// RT → host notification slots the queue holds.
    pub notify_queue: usize,
    /// Commands the RT thread takes per loop turn.
    pub budget: usize,
    /// Commands one transaction may have (a batch, or one large write or read).
    pub max_batch: usize,
    /// Control socket path (see `crate::ctl`): unset, the default
    /// `/run/s7rtd/s7rtd.sock`; empty, no socket.
    pub socket: Option<std::path::PathBuf>,
    /// Control socket clients served at once.
    pub socket_clients: usize,
}

impl HostConfig {
    /// Checks the values; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v, range) in [
            ("host.command_queue", self.command_queue, 1..=1_048_576),
            ("host.notify_queue", self.notify_queue, 1..=1_048_576),
            ("host.budget", self.budget, 1..=65_536),
            ("host.max_batch", self.max_batch, 1..=4096),
            ("host.socket_clients", self.socket_clients, 1..=1024),
        ] {
            if !range.contains(&v) {
                return Err(format!(
                    "config key `{key}`: {v} is outside {}..={}",
                    range.start(),
                    range.end()
                ));
            }
        }
        if self.max_batch > self.command_queue {
            return Err(format!(
                "config key `host.max_batch`: {} exceeds host.command_queue = {} (a batch must fit the queue)",
                self.max_batch, self.command_queue
            ));
        }
        Ok(())
    }
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            command_queue: 1024,
            notify_queue: 1024,
            budget: 64,
            max_batch: 256,
            socket: None,
            socket_clients: 16,
        }
    }
}
