"""scripts/offline_audit.py: which advisories of a PyPA advisory-database snapshot apply to an
installed version, and the script's run on a tiny database of its own."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from packaging.version import Version

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "offline_audit.py"
spec = importlib.util.spec_from_file_location("offline_audit", SCRIPT)
assert spec is not None and spec.loader is not None
offline_audit = importlib.util.module_from_spec(spec)
sys.modules["offline_audit"] = offline_audit  # dataclasses look their module up there
spec.loader.exec_module(offline_audit)


def _advisory(*ranges: list[dict[str, str]], versions: list[str] | None = None, **extra: Any):
    entry: dict[str, Any] = {
        "package": {"name": "Some_Package", "ecosystem": "PyPI"},
        "ranges": [{"type": "ECOSYSTEM", "events": events} for events in ranges],
    }
    if versions is not None:
        entry["versions"] = versions
    return {"id": "PYSEC-0000-1", "aliases": ["CVE-0000-1"], "affected": [entry], **extra}


def test_introduced_then_fixed_is_half_open() -> None:
    adv = _advisory([{"introduced": "1.2"}, {"fixed": "1.4.1"}])
    assert [
        v
        for v in ("1.1", "1.2", "1.3.9", "1.4.1", "2.0")
        if offline_audit.affects(adv, "some-package", v)
    ] == ["1.2", "1.3.9"]
    assert offline_audit.fixed_versions(adv, "some-package", "1.3") == ["1.4.1"]


def test_introduced_zero_means_from_the_start() -> None:
    adv = _advisory([{"introduced": "0"}, {"fixed": "2.0"}])
    assert offline_audit.affects(adv, "some-package", "0.0.1")
    assert offline_audit.affects(adv, "some-package", "2.0rc1")
    assert not offline_audit.affects(adv, "some-package", "2.0")


def test_last_affected_is_inclusive_and_has_no_fix() -> None:
    adv = _advisory([{"introduced": "0"}, {"last_affected": "1.11.0"}])
    assert offline_audit.affects(adv, "some-package", "1.11.0")
    assert not offline_audit.affects(adv, "some-package", "1.11.1")
    assert offline_audit.fixed_versions(adv, "some-package", "1.11.0") == []


def test_explicit_versions_apply_even_outside_the_ranges() -> None:
    adv = _advisory([{"introduced": "3.0"}, {"fixed": "3.1"}], versions=["2.5", "2.6"])
    assert offline_audit.affects(adv, "some-package", "2.5")
    assert offline_audit.affects(adv, "some-package", "3.0.2")
    assert not offline_audit.affects(adv, "some-package", "2.7")


def test_multiple_ranges_and_pairs_within_a_range() -> None:
    adv = _advisory(
        [{"introduced": "0"}, {"fixed": "1.0"}, {"introduced": "2.0"}, {"fixed": "2.3"}],
        [{"introduced": "3.0"}, {"fixed": "3.0.5"}],
    )
    hits = [
        v
        for v in ("0.9", "1.0", "1.5", "2.0", "2.2.9", "2.3", "3.0.4", "3.0.5")
        if offline_audit.affects(adv, "some-package", v)
    ]
    assert hits == ["0.9", "2.0", "2.2.9", "3.0.4"]
    assert offline_audit.fixed_versions(adv, "some-package", "2.1") == ["2.3", "3.0.5"]


def test_withdrawn_other_package_and_other_range_types_do_not_apply() -> None:
    events = [{"introduced": "0"}, {"fixed": "9"}]
    assert not offline_audit.affects(
        _advisory(events, withdrawn="2024-01-01T00:00:00Z"), "some-package", "1.0"
    )
    assert not offline_audit.affects(_advisory(events), "other-package", "1.0")
    git_range = _advisory()
    git_range["affected"][0]["ranges"] = [
        {"type": "GIT", "repo": "x", "events": [{"introduced": "0"}, {"fixed": "abc"}]}
    ]
    assert not offline_audit.affects(git_range, "some-package", "1.0")


def test_names_are_normalised_per_pep_503() -> None:
    assert offline_audit.normalise("Flask_Admin") == offline_audit.normalise("flask.admin")
    assert offline_audit.normalise("Some__Package") == "some-package"


def _twin(bounds: list[int], kinds: list[str], version: int) -> bool:
    """Plain twin: the pairs (introduced, closing event) as integer intervals."""
    for i in range(0, len(bounds), 2):
        low = bounds[i]
        if i + 1 == len(bounds):
            if version >= low:
                return True
        elif kinds[i // 2] == "fixed":
            if low <= version < bounds[i + 1]:
                return True
        elif low <= version <= bounds[i + 1]:
            return True
    return False


@given(
    bounds=st.lists(st.integers(0, 40), min_size=1, max_size=8, unique=True).map(sorted),
    kinds=st.lists(st.sampled_from(["fixed", "last_affected"]), min_size=4, max_size=4),
    data=st.data(),
    shuffle=st.randoms(use_true_random=False),
)
def test_ranges_agree_with_the_interval_twin(
    bounds: list[int], kinds: list[str], data: st.DataObject, shuffle: Any
) -> None:
    # versions on and next to the bounds, where an off-by-one would show
    near = sorted({b + d for b in bounds for d in (-1, 0, 1) if b + d >= 0})
    version = data.draw(st.one_of(st.sampled_from(near), st.integers(0, 45)))
    events = []
    for i, bound in enumerate(bounds):
        kind = "introduced" if i % 2 == 0 else kinds[i // 2]
        events.append({kind: str(bound)})
    shuffle.shuffle(events)  # the database does not promise sorted events
    assert offline_audit.in_range(events, Version(str(version))) == _twin(bounds, kinds, version)


ADVISORY_YAML = """\
id: PYSEC-2099-1
aliases:
- CVE-2099-0001
affected:
- package:
    name: {name}
    ecosystem: PyPI
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: "0"
    - fixed: {fixed}
"""


def _run(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--db", str(db)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_script_on_a_fake_database(tmp_path: Path) -> None:
    """pytest (installed here) gets an advisory fixed only in a far future version, and one
    fixed in 0.0.1 that does not apply; a withdrawn one is ignored."""
    folder = tmp_path / "vulns" / "PyTest"
    folder.mkdir(parents=True)
    (folder / "PYSEC-2099-1.yaml").write_text(ADVISORY_YAML.format(name="pytest", fixed="999.0"))
    (folder / "PYSEC-2099-2.yaml").write_text(
        ADVISORY_YAML.format(name="pytest", fixed="0.0.1").replace("2099-1", "2099-2")
    )
    (folder / "PYSEC-2099-3.yaml").write_text(
        ADVISORY_YAML.format(name="pytest", fixed="999.0").replace("2099-1", "2099-3")
        + 'withdrawn: "2099-02-01T00:00:00Z"\n'
    )
    done = _run(tmp_path)
    assert done.returncode == 1, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    version = importlib.metadata.version("pytest")
    assert ["pytest", version, "PYSEC-2099-1", "CVE-2099-0001", "999.0"] in lines
    assert "PYSEC-2099-2" not in done.stdout and "PYSEC-2099-3" not in done.stdout
    assert "snapshot of unknown date" in done.stdout
    assert done.stdout.rstrip().endswith("1 advisories apply")

    (folder / "PYSEC-2099-1.yaml").unlink()
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("0 advisories apply")

    assert _run(tmp_path / "missing").returncode == 2
