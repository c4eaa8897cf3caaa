"""The one failure an adapter reports: a page that is not what the source promised."""

from __future__ import annotations


class ParseError(Exception):
    """A fetched page could not be turned into items; ``reason`` goes to the patrol ledger as is."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
