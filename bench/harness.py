"""Shared pieces of the benchmarks that run yuqing against many loopback addresses
(``bench/sources.py``, ``bench/latency.py``): the network guard for 127.0.0.0/8, the yuqing child
process with its RSS sampled from outside, the story texts of the pages, a webhook receiver that
notes arrival times, and markdown tables.

Not a benchmark itself. ``python bench/harness.py yuqing ARGS…`` is the child process: the
``yuqing`` command line with ``ARGS``, under the guard, printing one ``BENCH {json}`` line
(``crawl.report_child``) on stderr when it ends.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module (``bench/site.py`` must not shadow the standard ``site``)."""
    key = f"yuqing_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def guard_loopback_net() -> None:
    """Refuse, in this process, every connection and name look-up outside 127.0.0.0/8.

    ``site.guard_loopback`` allows 127.0.0.1 only; these benchmarks spread their sites over many
    loopback addresses so that per-host limits act as they would across real sites."""

    def loopback(host: object) -> bool:
        if isinstance(host, bytes):
            host = host.decode()
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(str(host)) in LOOPBACK
        except ValueError:
            return False

    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def check(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else address
            if not loopback(host):
                raise PermissionError(f"bench: refusing to connect to {host!r} (127.0.0.0/8 only)")

    def connect(self: socket.socket, address: object) -> None:
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host is not None and not loopback(host):
            raise socket.gaierror(f"bench: refusing to resolve {host!r} (127.0.0.0/8 only)")
        return real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


def loopback_addresses(count: int) -> list[str]:
    """127.0.0.2, 127.0.0.3, …: ``count`` addresses, skipping .0 and .255 in the last octet."""
    out: list[str] = []
    n = int(ipaddress.ip_address("127.0.0.2"))
    while len(out) < count:
        address = ipaddress.ip_address(n)
        if str(address).split(".")[-1] not in ("0", "255"):
            out.append(str(address))
        n += 1
    return out


# --- page texts ------------------------------------------------------------------------------------

class Stories:
    """Headlines and texts of small news items, from ``site.Corpus`` (sentences of the real
    fixture pages). Item ``n`` hits the bench rule ``food-safety`` iff ``site.is_hit(n)``; each
    text carries 4–7 sentences of its own after the lede, so two hit items never read as one story
    (they would fold into one incident and send one alert)."""

    def __init__(self) -> None:
        self.site = bench_module("site")
        self.corpus = self.site.Corpus.load()

    def is_hit(self, n: int) -> bool:
        return bool(self.site.is_hit(n))

    def title(self, n: int) -> str:
        return str(self.corpus.headline(n))

    def paragraphs(self, n: int) -> list[str]:
        rng = random.Random(n * 104729 + 3)
        sentences = self.corpus.sentences
        rest = rng.sample(sentences, k=min(len(sentences), rng.randint(4, 7)))
        return [self.corpus.lede(n), "".join(rest[: len(rest) // 2]), "".join(rest[len(rest) // 2 :])]


def rules_config(folder: Path) -> None:
    """The bench rules (``crawl.INSTITUTION``/``crawl.RULES``, the ones ``site.is_hit`` is made for)."""
    crawl = bench_module("crawl")
    (folder / "keywords").mkdir(parents=True, exist_ok=True)
    (folder / "keywords" / "institution.yaml").write_text(crawl.INSTITUTION, encoding="utf-8")
    (folder / "keywords" / "rules.yaml").write_text(crawl.RULES, encoding="utf-8")


# --- the yuqing child and its memory ---------------------------------------------------------------

def proc_mb(pid: int, file: str = "status", key: str = "VmRSS:") -> float | None:
    """A kB line of ``/proc/PID/<file>`` in MB: the RSS by default, ``("smaps_rollup", "Pss:")`` the
    proportional set size (libraries shared with other processes counted in part); None once the
    process is gone."""
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


@dataclass
class Child:
    """A yuqing process (``harness.py yuqing …``), its RSS sampled every ``step_s`` from outside."""

    argv: list[str]
    log: Path
    step_s: float = 0.25
    samples: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, MB)
    proc: subprocess.Popen[str] | None = None
    started: float = 0.0
    seconds: float = 0.0
    bench: dict[str, Any] = field(default_factory=dict)

    def start(self) -> Child:
        self._err = self.log.open("w")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, str(BENCH / "harness.py"), "yuqing", *self.argv], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True,
                                     env={**os.environ, "COLUMNS": "200"})
        threading.Thread(target=self._sample, daemon=True).start()
        return self

    def _sample(self) -> None:
        assert self.proc is not None
        while self.proc.poll() is None:
            mb = proc_mb(self.proc.pid)
            if mb is not None:
                self.samples.append((time.perf_counter() - self.started, mb))
            time.sleep(self.step_s)

    def wait(self, timeout_s: float | None = None) -> tuple[str, int]:
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=timeout_s)
        self.seconds = time.perf_counter() - self.started
        self._err.close()
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("BENCH "):
                self.bench = json.loads(line[6:])
        return out, self.proc.returncode

    def stop(self) -> None:
        """SIGTERM (the daemon stops gracefully), SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def rss(self, after_s: float = 0.0) -> dict[str, float]:
        """Peak (the kernel's high-water mark, from the child), and the median and last of the
        samples taken ``after_s`` seconds after the start (start-up left out: steady state)."""
        values = [mb for t, mb in self.samples if t >= after_s] or [mb for _, mb in self.samples] or [0.0]
        return {"peak": float(self.bench.get("max_rss_mb", max(values))), "median": statistics.median(values),
                "last": values[-1]}


def jieba_reference_mb() -> float:
    """Peak RSS of a bare ``import jieba; jieba.initialize()`` process: the floor under yuqing's."""
    code = ("import logging, resource, jieba; jieba.setLogLevel(logging.WARNING); jieba.initialize(); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def child_yuqing(argv: list[str]) -> None:
    """``yuqing ARGV`` as the console script runs it, under the 127.0.0.0/8 guard."""
    guard_loopback_net()
    sys.path.insert(0, str(ROOT))
    from crawler.cli import app

    crawl = bench_module("crawl")
    started, main_cpu = time.perf_counter(), time.thread_time()
    try:
        app(argv, prog_name="yuqing", standalone_mode=False)
    finally:
        crawl.report_child(started, main_cpu)


# --- figures -------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0–100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered), math.ceil(q / 100 * len(ordered))) - 1)]


def markdown_table(header: list[str], rows: list[list[object]], right_from: int = 1) -> str:
    """A GitHub table; columns from ``right_from`` on are right-aligned (figures)."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < right_from else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "yuqing":
        raise SystemExit("usage: harness.py yuqing ARGS…  (a benchmark's child process)")
    child_yuqing(sys.argv[2:])
