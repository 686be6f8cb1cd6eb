"""The SVG diagram is drawn from the journey JSON: one node per step plus exit, one arrow per
branch, counts when stats are given, and step ids escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from herald.journeys import diagram, graph
from tests.journeys.support import welcome

NS = "{http://www.w3.org/2000/svg}"


def test_nodes_arrows_and_counts() -> None:
    steps = graph.check(welcome())["steps"]
    stats = {"hello": {"entered": 7, "next": {"wait1": 7}}, "opened?": {"next": {"offer": 3}}}
    root = ET.fromstring(diagram.svg(steps, stats))
    nodes = {g.get("data-step") for g in root.iter(f"{NS}g")}
    assert nodes == {"hello", "wait1", "opened?", "offer", "sms", "exit"}
    edges = {(e.get("data-from"), e.get("data-to")) for e in root.iter(f"{NS}line")}
    assert ("opened?", "offer") in edges and ("sms", "exit") in edges and len(edges) == 6
    labels = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "edge-label"]
    assert "then (3)" in labels and "else (0)" not in labels
    counts = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "count"]
    assert counts == ["7"]


def test_step_ids_are_escaped() -> None:
    body = welcome()
    body["steps"][0]["id"] = "<script>x</script>"
    body["steps"][2]["condition"]["step"] = "<script>x</script>"
    text = diagram.svg(graph.check(body)["steps"])
    assert "<script>" not in text and "&lt;script&gt;" in text
    ET.fromstring(text)  # still well-formed
