"""Audit the current venv's installed distributions against a snapshot of the PyPA advisory
database (OSV YAML files ``vulns/<package>/<ID>.yaml``), without any network.

This is the fallback for ``make audit`` where pip-audit cannot reach its vulnerability service.
The data is only as fresh as the snapshot: advisories published after its commit date are not
covered, and the output says so.

Usage: python scripts/offline_audit.py [--db PATH]. PATH is either a checkout/copy of the
database (a directory holding ``vulns/``) or a bare git mirror of it (read with ``git show``).
Exit status: 0 no advisory applies, 1 at least one applies, 2 the database is missing.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

DEFAULT_DB = Path("/work/.mirror/pypa+advisory-database/repo")


def normalise(name: str) -> str:
    """The PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(text: object) -> Version | None:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def _matching_entries(advisory: Mapping[str, Any], package: str) -> list[Mapping[str, Any]]:
    """The advisory's ``affected`` entries about ``package`` in the PyPI ecosystem."""
    wanted = normalise(package)
    entries = []
    for entry in advisory.get("affected") or []:
        pkg = entry.get("package") or {}
        if normalise(str(pkg.get("name", ""))) != wanted:
            continue
        if str(pkg.get("ecosystem", "PyPI")) != "PyPI":
            continue
        entries.append(entry)
    return entries


def _event_key(event: Mapping[str, Any]) -> tuple[Version, int]:
    """Sort key of one range event; "0" (introduced from the start) sorts lowest."""
    (kind, value) = next(iter(event.items()))
    parsed = Version("0") if str(value) == "0" else _version(value)
    assert parsed is not None
    # at equal versions, an introduction is applied before a fix or a last_affected
    return parsed, 0 if kind == "introduced" else 1


def in_range(events: Iterable[Mapping[str, Any]], version: Version) -> bool:
    """Whether ``version`` lies in one OSV ECOSYSTEM range given by its events: after an
    ``introduced`` (inclusive) and before the next ``fixed`` (exclusive) or up to the next
    ``last_affected`` (inclusive). Events whose version does not parse are ignored."""
    usable = []
    for event in events:
        if len(event) != 1:
            continue
        (kind, value) = next(iter(event.items()))
        if kind not in ("introduced", "fixed", "last_affected"):
            continue
        if str(value) != "0" and _version(value) is None:
            continue
        usable.append(event)
    affected = False
    for event in sorted(usable, key=_event_key):
        (kind, value) = next(iter(event.items()))
        bound = _event_key(event)[0]
        passed = version > bound if kind == "last_affected" else version >= bound
        if passed:
            affected = kind == "introduced"
    return affected


def affects(advisory: Mapping[str, Any], package: str, installed: str) -> bool:
    """Whether ``advisory`` applies to version ``installed`` of ``package``: not withdrawn, and
    the version is in an affected entry's explicit ``versions`` list or in one of its ECOSYSTEM
    ranges."""
    if advisory.get("withdrawn"):
        return False
    version = _version(installed)
    for entry in _matching_entries(advisory, package):
        for listed in entry.get("versions") or []:
            parsed = _version(listed)
            if str(listed) == installed or (parsed is not None and parsed == version):
                return True
        if version is None:
            continue
        for rng in entry.get("ranges") or []:
            if rng.get("type") == "ECOSYSTEM" and in_range(rng.get("events") or [], version):
                return True
    return False


def fixed_versions(advisory: Mapping[str, Any], package: str, installed: str) -> list[str]:
    """The ``fixed`` versions the advisory names for ``package`` above ``installed``, ascending."""
    version = _version(installed)
    found: set[Version] = set()
    for entry in _matching_entries(advisory, package):
        for rng in entry.get("ranges") or []:
            for event in rng.get("events") or []:
                fixed = _version(event.get("fixed")) if "fixed" in event else None
                if fixed is not None and (version is None or fixed > version):
                    found.add(fixed)
    return [str(v) for v in sorted(found)]


def installed_distributions() -> dict[str, str]:
    """Normalised name -> version of every distribution installed in the running interpreter."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[normalise(name)] = dist.version
    return found


class AdvisoryDB:
    """Read access to the advisory database, a plain directory or a bare git mirror."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_dir = (path / "vulns").is_dir()
        self.is_git = not self.is_dir and self._git("rev-parse", "--verify", "HEAD") is not None

    @property
    def exists(self) -> bool:
        """Whether the path holds an advisory database at all."""
        return self.is_dir or self.is_git

    def _git(self, *args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", f"--git-dir={self.path}", *args],
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError:
            return None
        return done.stdout if done.returncode == 0 else None

    def snapshot(self) -> str:
        """The snapshot's commit and date, or a note that the directory has none."""
        if self.is_git:
            out = self._git("log", "-1", "--format=%cI %h")
        else:
            try:
                out = subprocess.run(
                    ["git", "-C", str(self.path), "log", "-1", "--format=%cI %h"],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
            except OSError:
                out = ""
        if not out or not out.strip():
            return "unknown date (a directory that is not a git checkout)"
        date, commit = out.split()
        return f"{date[:10]} (commit {commit}, {date})"

    def packages(self) -> dict[str, str]:
        """Normalised package name -> folder name under ``vulns/``."""
        if self.is_dir:
            names = [p.name for p in (self.path / "vulns").iterdir() if p.is_dir()]
        else:
            names = (self._git("ls-tree", "--name-only", "HEAD", "vulns/") or "").split()
            names = [n.removeprefix("vulns/") for n in names]
        return {normalise(n): n for n in names if not n.startswith(".")}

    def advisories(self, folder: str) -> list[dict[str, Any]]:
        """The parsed advisories in ``vulns/<folder>/``."""
        texts: list[str] = []
        if self.is_dir:
            for file in sorted((self.path / "vulns" / folder).glob("*.yaml")):
                texts.append(file.read_text(encoding="utf-8"))
        else:
            listing = self._git("ls-tree", "--name-only", "HEAD", f"vulns/{folder}/") or ""
            for name in listing.split():
                if name.endswith(".yaml"):
                    texts.append(self._git("show", f"HEAD:{name}") or "")
        return [doc for doc in (yaml.safe_load(t) for t in texts) if isinstance(doc, dict)]


@dataclass(frozen=True)
class Finding:
    """One advisory that applies to an installed distribution."""

    package: str
    version: str
    advisory: str
    aliases: str
    fixed: str


def audit(db: AdvisoryDB, installed: Mapping[str, str]) -> list[Finding]:
    """The advisories in ``db`` that apply to the ``installed`` versions."""
    folders = db.packages()
    findings = []
    for package, version in sorted(installed.items()):
        if package not in folders:
            continue
        for advisory in db.advisories(folders[package]):
            if affects(advisory, package, version):
                findings.append(
                    Finding(
                        package=package,
                        version=version,
                        advisory=str(advisory.get("id", "?")),
                        aliases=", ".join(str(a) for a in advisory.get("aliases") or []) or "–",
                        fixed=", ".join(fixed_versions(advisory, package, version)) or "none",
                    )
                )
    return findings


def render(findings: list[Finding]) -> str:
    """A plain-text table of the findings."""
    header = ("package", "installed", "advisory", "aliases", "fixed in")
    rows = [header] + [(f.package, f.version, f.advisory, f.aliases, f.fixed) for f in findings]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def main(argv: list[str] | None = None) -> int:
    """Run the audit; print the table, the snapshot date and the count; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="advisory database")
    args = parser.parse_args(argv)
    db = AdvisoryDB(args.db)
    if not db.exists:
        print(f"offline audit: no advisory database at {args.db}", file=sys.stderr)
        return 2
    installed = installed_distributions()
    findings = audit(db, installed)
    if findings:
        print(render(findings))
        print()
    print(f"{len(installed)} installed distributions checked against {args.db}")
    print(
        f"Advisory data: PyPA advisory-database snapshot of {db.snapshot()}; "
        "advisories published after it are not covered."
    )
    print(f"{len(findings)} advisories apply")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
