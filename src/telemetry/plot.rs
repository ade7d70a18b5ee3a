//! Latency plots (SVG).
