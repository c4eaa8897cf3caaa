"""The demo's mailbox: a loopback SMTP server (aiosmtpd) that saves every message as a .eml file.

It runs in the caller's event loop rather than in aiosmtpd's Controller thread, because the
Controller cannot listen on port 0: here the system picks a free port and nothing can race for it.
"""

from __future__ import annotations

import asyncio
import os
import re
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path

from aiosmtpd.smtp import SMTP, Envelope, Session

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]+")
MAX_NAME_CHARS = 80


def eml_name(number: int, message_id: str | None) -> str:
    """``<n>-<message-id>.eml`` with the id reduced to characters safe in any file system."""
    safe = _UNSAFE.sub("_", (message_id or "").strip("<> ")).strip("._")[:MAX_NAME_CHARS]
    return f"{number}-{safe or 'no-id'}.eml"


class SmtpSink:
    """Accepts every message for any recipient and writes it to ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0  # messages received by this sink
        self.port = 0
        self._next = 1 + max((int(p.name.split("-", 1)[0]) for p in folder.glob("*.eml")
                              if p.name.split("-", 1)[0].isdigit()), default=0)  # never overwrite older mail
        self._server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd hook: one message received."""
        data = envelope.original_content or b""
        headers = BytesHeaderParser(policy=default).parsebytes(data)
        path = self.folder / eml_name(self._next, headers.get("Message-ID"))
        partial = path.with_suffix(".part")  # readers glob *.eml: they never see half a file
        partial.write_bytes(data)
        os.replace(partial, path)
        self._next += 1
        self.count += 1
        return "250 OK"

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="yuqing-demo", loop=loop, enable_SMTPUTF8=True), host, port)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop listening (messages already saved stay)."""
        if self._server is not None:
            self._server.close()
            self._server = None


async def start_smtp_sink(folder: Path, host: str = "127.0.0.1", port: int = 0) -> SmtpSink:
    """A listening sink; ``sink.port`` is where to send, ``sink.stop()`` ends it."""
    folder.mkdir(parents=True, exist_ok=True)
    sink = SmtpSink(folder)
    await sink.start(host, port)
    return sink
