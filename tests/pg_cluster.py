"""A throwaway PostgreSQL server for the test run: real postmaster, loopback only, trust auth, no fsync.

Storage code must be proven on the database production uses, not only on SQLite, so the suite starts
its own server from the distribution's binaries instead of relying on a service someone left running.
"""

from __future__ import annotations

import os
import pwd
import shutil

import subprocess
import tempfile
from pathlib import Path

from loopback import free_port

NOT_FOUND = "PostgreSQL server binaries not found: apt-get install postgresql"
DEBIAN_ROOT = Path("/usr/lib/postgresql")
TOOLS = ("initdb", "pg_ctl", "psql")


def find_bindir() -> Path | None:
    """Debian keeps the server tools off PATH in /usr/lib/postgresql/<ver>/bin: take the newest, else PATH."""
    versions = [p.parent for p in DEBIAN_ROOT.glob("*/bin/pg_ctl") if p.parent.parent.name.isdigit()]
    candidates = sorted(versions, key=lambda p: int(p.parent.name), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)  # symlinks (Homebrew, /usr/local/bin) lead home
    return next((d for d in candidates if all((d / tool).is_file() for tool in TOOLS)), None)


class PgCluster:
    """One postmaster in a private temp folder; as root it runs as user ``postgres`` (the server refuses root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = 0
        self.base: Path | None = None
        self.as_postgres = os.geteuid() == 0

    @property
    def data(self) -> Path:
        assert self.base is not None, "cluster not started"
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.data.with_name("postgres.log")

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # As root the folder must sit where user postgres can reach it (/tmp, not e.g. a TMPDIR under /root).
        self.base = Path(tempfile.mkdtemp(prefix="yuqing-pg-", dir="/tmp" if self.as_postgres else None))
        if self.as_postgres:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root, but there is no user 'postgres' to run the server as: "
                                   "apt-get install postgresql") from None
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        self._server_tool("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                          "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        self.port = free_port()
        options = (f"-k {self.base} -c listen_addresses=127.0.0.1 -p {self.port}"
                   " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        # -l matters beyond diagnostics: without it the postmaster would hold our capture pipes open.
        self._server_tool("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Safe after a failed or partial start: stops a running server, then removes everything."""
        if self.base is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._server_tool("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def create_database(self, name: str) -> None:
        self.sql(f"CREATE DATABASE {quote(name)}")

    def drop_database(self, name: str) -> None:
        """FORCE: a test that forgot to dispose its engine must not keep its database alive."""
        self.sql(f"DROP DATABASE IF EXISTS {quote(name)} WITH (FORCE)")

    def sql(self, statement: str) -> None:
        """Run one statement in the ``postgres`` database, over TCP with trust auth (works as any OS user)."""
        self._check([str(self.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                     "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", statement])

    def _server_tool(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        self._check(["runuser", "-u", "postgres", "--", *cmd] if self.as_postgres else cmd)

    def _check(self, cmd: list[str]) -> None:
        # cwd: as user postgres the caller's directory (e.g. under /root) may be unreadable.
        proc = subprocess.run(cmd, cwd=self.base, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
                               + (f"\n--- {self.log} ---\n{log}" if log else ""))


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
