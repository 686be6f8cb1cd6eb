"""A small run of the send-time benchmark, so it never rots: Herald's best-hour recompute and
the hand-written SQL baseline run over seeded members and events and must agree."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_the_send_time_benchmark_agrees_with_its_baseline(tmp_path: Path, monkeypatch):
    from bench import bench_send_time

    target = tmp_path / "BENCHMARKS.md"
    monkeypatch.setenv("BENCH_OUTPUT", str(target))
    monkeypatch.setattr(bench_send_time, "MEMBERS", 500)
    monkeypatch.setattr(bench_send_time, "EVENTS", 5000)
    monkeypatch.setattr(bench_send_time, "REPEAT", 1)
    bench_send_time.main()
    text = target.read_text()
    assert "every member's best hour over 5,000 events" in text
    assert "writes the same best hours" in text
