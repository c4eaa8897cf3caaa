"""Fetching pages: the ``Fetcher`` (HTTP with guard, politeness, limits) and ``decode_body``."""

from crawler.fetch.charset import decode_body
from crawler.fetch.fetcher import Fetcher

__all__ = ["Fetcher", "decode_body"]
