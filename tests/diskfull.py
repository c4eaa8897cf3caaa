"""Run ``yuqing run`` with its data folder on a small tmpfs that the test fills and frees.

Started by ``tests/crawler/test_outages.py`` inside ``unshare --user --map-root-user --mount``
(so no root is needed and the mount is private to this process tree). It talks to the test
through files in a control folder outside the tmpfs:

    started  → the daemon runs          fill  ← fill the disk     filled → the disk is full
    free     ← free the disk            freed → space again       stop   ← stop the daemon (once
                                                                           every delivery is sent)
    result.json → the database's integrity check and counts, read after the daemon stopped
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


def wait(control: Path, name: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not (control / name).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"diskfull: no {name!r} from the test")
        time.sleep(0.05)


def fill(folder: Path) -> Path:
    """Write zeros until the file system refuses (ENOSPC)."""
    filler = folder / "filler"
    chunk = bytes(64 * 1024)
    with filler.open("wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    small = bytes(512)
    with filler.open("ab", buffering=0) as f:  # and the last crumbs
        try:
            while True:
                f.write(small)
        except OSError:
            pass
    return filler


def settled(db_path: Path, timeout_s: float = 60) -> None:
    """Until every delivery is sent: one cut off by the full disk is resent once its lease ends."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(db_path, timeout=30) as db:
            if db.execute("select count(*) from deliveries where status <> 'sent'").fetchone()[0] == 0:
                return
        time.sleep(0.5)


def main() -> None:
    config, data, control, size = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    data.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(data)], check=True)
    with (control / "daemon.log").open("wb") as log:
        daemon = subprocess.Popen([sys.executable, "-m", "crawler.cli", "--config", str(config), "--data", str(data),
                                   "run"], stdout=subprocess.DEVNULL, stderr=log)
        try:
            (control / "started").touch()
            wait(control, "fill")
            filler = fill(data)
            (control / "filled").touch()
            wait(control, "free")
            filler.unlink()
            (control / "freed").touch()
            wait(control, "stop")
            settled(data / "yuqing.db")
        finally:
            daemon.terminate()
            code = daemon.wait(30)
    db = sqlite3.connect(data / "yuqing.db")
    result = {
        "daemon_exit": code,
        "integrity": db.execute("pragma integrity_check").fetchone()[0],
        "items": db.execute("select count(*), count(distinct url) from items").fetchone(),
        "deliveries": dict(db.execute("select status, count(*) from deliveries group by status").fetchall()),
    }
    (control / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
