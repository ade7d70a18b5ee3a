"""The metrics endpoint against Prometheus's own tools: `promtool check metrics` accepts what
s7rtd serves, and a real Prometheus server scrapes it while python-snap7 reads and writes, so
the request counter it stores moves by exactly what the client did."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import snap7

from conftest import REPO
from s7image import TEST_CONFIG

# Snapshots reach the endpoint once per telemetry interval: keep it short here.
CONFIG = TEST_CONFIG + "\n[telemetry]\ninterval_ms = 200\n"
SCRAPE_S = 1
DEADLINE_S = 60


@pytest.fixture(scope="module")
def prom_bin() -> Path:
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "ensure-prometheus.sh")],
        check=True, capture_output=True, text=True, timeout=300,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def metrics_addr(srv) -> str:
    assert srv.wait_for_log("metrics: serving http://"), srv.stderr_text()
    m = re.search(r"metrics: serving http://([0-9.:]+)/metrics", srv.stderr_text())
    assert m, srv.stderr_text()
    return m.group(1)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_promtool_accepts_the_exposition(s7rtd_factory, prom_bin):
    srv = s7rtd_factory(config=CONFIG, args=["--metrics-listen", "127.0.0.1:0"])
    c = snap7.client.Client()
    c.connect(srv.host, 0, 1, srv.port)
    c.db_read(1, 0, 4)
    c.disconnect()
    time.sleep(0.5)  # let an interval with samples reach the histograms
    text = get(f"http://{metrics_addr(srv)}/metrics")
    assert "s7rtd_service_time_seconds_bucket" in text
    r = subprocess.run(
        [str(prom_bin / "promtool"), "check", "metrics"],
        input=text, capture_output=True, text=True, timeout=30,
    )
    assert r.returncode == 0, f"promtool: {r.stdout}{r.stderr}\n{text}"


def query(api: str, promql: str) -> list:
    url = f"{api}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    body = json.loads(get(url))
    assert body["status"] == "success", body
    return body["data"]["result"]


def check_dashboard_queries(api: str) -> None:
    """Every query of the shipped Grafana dashboard is valid PromQL against this Prometheus,
    and the request and service-time panels have data."""
    dash = json.loads((REPO / "contrib" / "grafana-s7rtd.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 10
    for e in exprs:
        promql = e.replace("$__rate_interval", "30s").replace("$instance", ".*")
        r = query(api, promql)
        if "s7rtd_requests_total" in e or "s7rtd_service_time_seconds" in e:
            assert r, f"no data for dashboard query {e}"


def test_prometheus_scrapes_a_request_counter_that_moved(s7rtd_factory, prom_bin, tmp_path):
    srv = s7rtd_factory(config=CONFIG, args=["--metrics-listen", "127.0.0.1:0"])
    target = metrics_addr(srv)
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: {SCRAPE_S}s\n"
        f"scrape_configs:\n  - job_name: s7rtd\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    log = open(tmp_path / "prometheus.log", "w")
    prom = subprocess.Popen(
        [
            str(prom_bin / "prometheus"),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{port}"
    series = 's7rtd_requests_total{job="s7rtd",function="read_var",outcome="ok"}'
    try:
        deadline = time.monotonic() + DEADLINE_S
        # Before any request: Prometheus has stored the counter at 0.
        while True:
            assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
            try:
                r = query(api, series)
            except OSError:
                r = []
            if r:
                break
            time.sleep(0.5)
        assert float(r[0]["value"][1]) == 0.0, r
        reads = 25
        c = snap7.client.Client()
        c.connect(srv.host, 0, 1, srv.port)
        for _ in range(reads):
            c.db_read(1, 0, 4)
        c.db_write(1, 0, bytearray(b"\x01\x02"))
        c.disconnect()
        while True:
            assert time.monotonic() < deadline, f"counter never reached {reads}: {r}"
            r = query(api, series)
            if r and float(r[0]["value"][1]) == reads:
                break
            time.sleep(0.5)
        # The histogram arrived too: its count covers at least every read.
        h = query(api, 's7rtd_service_time_seconds_count{job="s7rtd"}')
        assert h and float(h[0]["value"][1]) >= reads, h
        up = query(api, 'up{job="s7rtd"}')
        assert up and up[0]["value"][1] == "1", up
        check_dashboard_queries(api)
    finally:
        prom.terminate()
        try:
            prom.wait(15)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(15)
        log.close()
