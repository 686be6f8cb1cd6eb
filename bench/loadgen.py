"""HTTP load from its own process: wrk (Debian's ``wrk``) replaying prepared requests, with a
latency distribution. Requests are lines of a file: ``METHOD<TAB>PATH<TAB>HEADERS<TAB>BODY``
(headers as ``name:value`` joined by ``|``); each connection walks the file from its own
offset, and a request is never sent twice while the file lasts."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA = r"""
local lines = {}
local counter = 0
function split(s, sep)
  local out = {}
  for piece in (s .. sep):gmatch("(.-)" .. sep) do out[#out + 1] = piece end
  return out
end
function init(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  counter = tonumber(args[2])
  step = tonumber(args[3])
end
function request()
  counter = counter + step
  local fields = split(lines[(counter % #lines) + 1], "\t")
  local headers = {}
  if fields[3] ~= "" then
    for _, pair in ipairs(split(fields[3], "|")) do
      local k, v = pair:match("([^:]+):(.*)")
      headers[k] = v
    end
  end
  local body = nil
  if fields[4] ~= "" then body = fields[4] end
  return wrk.format(fields[1], fields[2], headers, body)
end
"""


@dataclass
class Load:
    """What wrk measured."""

    requests: int
    seconds: float
    rps: float
    p99_ms: float
    non_2xx: int
    errors: int


def write_requests(lines: list[tuple[str, str, dict[str, str], str]]) -> Path:
    """The request file for :func:`run`."""
    path = Path(tempfile.mkstemp(prefix="herald-load-", suffix=".tsv")[1])
    with open(path, "w") as f:
        for method, target, headers, body in lines:
            pairs = "|".join(f"{k}:{v}" for k, v in headers.items())
            f.write(f"{method}\t{target}\t{pairs}\t{body}\n")
    return path


def run(port: int, requests: Path, seconds: float, connections: int = 16, threads: int = 1) -> Load:
    """``seconds`` of load on 127.0.0.1:``port``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench installs it)")
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(LUA)
    # one wrk thread: every connection shares one counter, so no request repeats
    out = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
            "--",
            str(requests),
            "0",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    script.unlink()
    return parse(out)


def parse(out: str) -> Load:
    """Read wrk's report."""
    done = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)", out)
    if done is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    value, unit = float(done.group(2)), done.group(3)
    seconds = value * {"s": 1, "ms": 0.001, "m": 60}[unit]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)] if p99 else 0
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return Load(
        requests=int(done.group(1)),
        seconds=seconds,
        rps=int(done.group(1)) / seconds,
        p99_ms=p99_ms,
        non_2xx=int(non.group(1)) if non else 0,
        errors=sum(map(int, errors.groups())) if errors else 0,
    )
