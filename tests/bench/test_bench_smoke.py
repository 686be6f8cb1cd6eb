"""A small run of every benchmark, so the harness never rots: the production-shape stack starts,
each measurement runs at a tiny size with its in-run checks (exactly once, every event
counted), and each section of the report renders. Figures are not asserted: they are for
BENCHMARKS.md, measured by ``make bench``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk missing: ensure-services.sh"),
]


@pytest.fixture(autouse=True)
def _report_to_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "BENCHMARKS.md"
    monkeypatch.setenv("BENCH_OUTPUT", str(target))
    return target


def test_the_send_benchmark_sends_exactly_once_through_the_production_path(tmp_path):
    from bench import bench_send

    small = bench_send.measure(120, 2, 1)
    assert small["members"] == 120 and small["herald"] > 0 and small["bare"] > 0
    assert small["peak_process_mib"] > 10  # a live worker was sampled
    text = bench_send._report({"main": small, "one": small, "two": small}, 1)
    assert "bare render + MIME + smtplib loop" in text


def test_the_tracking_benchmark_counts_every_open(tmp_path):
    from bench import bench_tracking

    bench_tracking.DELIVERIES = 300
    result = bench_tracking.run(seconds=3, repeat=1)
    assert result["answered"] > 0 and result["recorded"] >= result["answered"] - result["errors"]
    assert "## Tracking" in (tmp_path / "BENCHMARKS.md").read_text()


def test_the_webhook_benchmark_stores_every_accepted_webhook(tmp_path):
    from bench import bench_webhooks

    bench_webhooks.MEMBERS = 200
    result = bench_webhooks.run(seconds=3, repeat=1)
    assert result["herald_rps"] > 0 and result["bare_rps"] > 0
    assert "## Shop webhooks" in (tmp_path / "BENCHMARKS.md").read_text()


def test_the_weekly_report_benchmark_builds_the_report_over_seeded_events(tmp_path):
    from bench import bench_reports

    result = bench_reports.run(events=2000, repeat=1)
    assert result["herald"] > 0 and result["floor"] > 0
    assert "## Weekly report over 2,000 events" in (tmp_path / "BENCHMARKS.md").read_text()


def test_the_audience_benchmark_imports_and_counts(tmp_path, monkeypatch):
    from bench import bench_audiences

    monkeypatch.setattr(bench_audiences, "ROWS", 300)
    monkeypatch.setattr(bench_audiences, "MEMBERS", 2000)
    monkeypatch.setattr(bench_audiences, "REPEAT", 1)
    monkeypatch.setattr(bench_audiences, "IMPORT_REPEAT", 1)
    bench_audiences.main()
    assert "**Import of 300 CSV rows**" in (tmp_path / "BENCHMARKS.md").read_text()


def test_the_fast_smtp_sink_counts_what_it_accepts():
    import subprocess
    import sys

    from bench.smtp_sink import count
    from bench.stack import free_port, wait_port

    port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(port)])
    try:
        wait_port(port)
        import smtplib

        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("pipelining")
            for i in range(3):
                smtp.sendmail("a@x.example", [f"m{i}@x.example"], b"Subject: s\r\n\r\n.\r\nbody")
        assert count(port) == 3
    finally:
        sink.terminate()
        sink.wait()


def test_the_behaviour_benchmark_scores_every_buyer(tmp_path, monkeypatch):
    from bench import bench_behaviour

    monkeypatch.setattr(bench_behaviour, "MEMBERS", 2000)
    monkeypatch.setattr(bench_behaviour, "REPEAT", 1)
    bench_behaviour.main()  # asserts every buyer was scored and both counts agree
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Behaviour: RFM recompute over 2,000 members" in text
    assert "| bought tea in the last 90 days |" in text


def test_the_journeys_benchmark_moves_every_waiting_member(tmp_path, monkeypatch):
    from bench import bench_journeys

    monkeypatch.setattr(bench_journeys, "MEMBERS", 500)
    monkeypatch.setattr(bench_journeys, "REPEAT", 1)
    bench_journeys.main()  # asserts the tick moved every member
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Journeys: one tick advancing 500 waiting members" in text


def test_the_email_benchmark_renders_the_newsletter(tmp_path, monkeypatch):
    from bench import bench_email

    monkeypatch.setattr(bench_email, "MEMBERS", 20)
    monkeypatch.setattr(bench_email, "REPEAT", 1)
    bench_email.main()
    text = (tmp_path / "BENCHMARKS.md").read_text()
    assert "## Rendering email: the product-grid newsletter (20 members" in text
