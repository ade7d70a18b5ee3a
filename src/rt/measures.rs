//! Which real-time measures a running server got: the facts behind the start-up line and the
//! `s7rtd_rt_measure_applied` metric.

use super::RtConfig;

/// One real-time measure the server tries at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// `mlockall(MCL_CURRENT|MCL_FUTURE)`.
    LockMemory,
    /// The RT thread pinned to `rt.cpu`.
    PinCpu,
    /// The RT thread switched to SCHED_FIFO at `rt.priority`.
    SchedFifo,
    /// `/dev/cpu_dma_latency` held at 0.
    DmaLatency,
}

impl Measure {
    /// Every measure, in start-up order.
    pub const ALL: [Measure; 4] = [
        Measure::LockMemory,
        Measure::PinCpu,
        Measure::SchedFifo,
        Measure::DmaLatency,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Measure::LockMemory => "mlockall",
            Measure::PinCpu => "cpu_affinity",
            Measure::SchedFifo => "sched_fifo",
            Measure::DmaLatency => "cpu_dma_latency",
        }
    }

    /// How the start-up line names it, with the configured values.
    fn describe(self, cfg: &RtConfig) -> String {
        match self {
            Measure::LockMemory => "mlockall".to_string(),
            Measure::PinCpu => format!("pinned to CPU {}", cfg.cpu),
            Measure::SchedFifo => format!("SCHED_FIFO {}", cfg.priority),
            Measure::DmaLatency => "/dev/cpu_dma_latency held at 0".to_string(),
        }
    }
}

/// What became of one measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// In force.
    Applied,
    /// Requested but refused by the system (a warning says how to grant it).
    Missing,
    /// Not requested by the configuration.
    NotRequested,
}

/// The state of every measure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    states: [(Measure, State); 4],
    line: String,
}

impl Status {
    /// The status of a server started with `cfg` where the measures in `missing` failed.
    pub fn new(cfg: &RtConfig, missing: &[Measure]) -> Status {
        let states = Measure::ALL.map(|m| {
            let requested = cfg.enabled && (m != Measure::DmaLatency || cfg.dma_latency);
            let state = if !requested {
                State::NotRequested
            } else if missing.contains(&m) {
                State::Missing
            } else {
                State::Applied
            };
            (m, state)
        });
        let names = |want: State| {
            let v: Vec<String> = states
                .iter()
                .filter(|(_, s)| *s == want)
                .map(|(m, _)| m.describe(cfg))
                .collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let line = format!(
            "real-time measures: applied: {}; missing: {}; not requested: {}",
            names(State::Applied),
            names(State::Missing),
            names(State::NotRequested)
        );
        Status { states, line }
    }

    /// Every measure with its state, in start-up order.
    pub fn states(&self) -> &[(Measure, State)] {
        &self.states
    }

    /// The one start-up line naming every measure applied, missing or not requested.
    pub fn line(&self) -> &str {
        &self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_measure_once_with_its_state() {
        let cfg = RtConfig {
            cpu: 1,
            priority: 80,
            ..RtConfig::default()
        };
        let s = Status::new(&cfg, &[Measure::DmaLatency]);
        assert_eq!(
            s.line(),
            "real-time measures: applied: mlockall, pinned to CPU 1, SCHED_FIFO 80; \
             missing: /dev/cpu_dma_latency held at 0; not requested: none"
        );
        assert_eq!(s.states()[3], (Measure::DmaLatency, State::Missing));
        let off = RtConfig {
            enabled: false,
            ..cfg.clone()
        };
        let s = Status::new(&off, &[]);
        assert!(s.states().iter().all(|(_, st)| *st == State::NotRequested));
        assert!(s
            .line()
            .starts_with("real-time measures: applied: none; missing: none;"));
        let no_dma = RtConfig {
            dma_latency: false,
            ..cfg
        };
        assert_eq!(
            Status::new(&no_dma, &[]).line(),
            "real-time measures: applied: mlockall, pinned to CPU 1, SCHED_FIFO 80; \
             missing: none; not requested: /dev/cpu_dma_latency held at 0"
        );
    }
}
