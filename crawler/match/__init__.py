"""Matching: keyword rules compiled into a Ruleset, applied to one Item at a time.

``Ruleset.compile(keywords)`` once per configuration; ``match_item(item, ruleset)`` per item.
"""

from crawler.match.engine import match_item
from crawler.match.normalize import normalize
from crawler.match.ruleset import CompiledRule, Ruleset

__all__ = ["CompiledRule", "Ruleset", "match_item", "normalize"]
