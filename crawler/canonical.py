"""One spelling per page: the canonical URL is an item's identity, so dedup must not see two URLs
where a reader sees one page.

Only rewrites that cannot change which document a server returns are applied, plus the removal of
a small, explicit set of tracking parameters (``TRACKING_PARAMS``, ``TRACKING_PREFIXES``) that
share buttons and analytics append to the same article.
"""

from __future__ import annotations

from types import MappingProxyType
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

DEFAULT_PORTS = MappingProxyType({"http": 80, "https": 443})
# Exact names (compared case-insensitively). ``from``/``spm``/``scm`` are the Chinese portals'
# (163, sina, Alibaba/Youku) referral markers; the rest are common share/ad click markers.
TRACKING_PARAMS = frozenset({
    "spm", "scm", "from", "share_token", "share_source", "share_medium", "fbclid", "gclid",
})
TRACKING_PREFIXES = ("utm_",)
# Characters left as they are when percent-encoding: everything RFC 3986 allows, and "%" so that
# existing escapes survive. Only spaces, controls and non-ASCII (e.g. Chinese paths) get escaped,
# as a browser would before sending.
_SAFE = "/:@!$&'()*+,;=?~-._%[]"


def _is_tracking(pair: str) -> bool:
    name = unquote(pair.split("=", 1)[0]).strip().lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def _netloc(scheme: str, netloc: str, host: str | None, port: int | None) -> str:
    userinfo = netloc.rpartition("@")[0] if "@" in netloc else ""
    host = (host or "").rstrip(".")
    if ":" in host:  # IPv6 literal: urlsplit drops the brackets
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    return f"{userinfo}@{host}" if userinfo else host


def canonical_url(url: str, base: str | None = None) -> str:
    """``url`` (resolved against ``base``) in canonical form.

    Scheme and host lower-cased, default port, fragment and tracking parameters dropped, the
    remaining parameters kept in their order and raw spelling, an empty path becomes ``/``.
    Raises ``ValueError`` for a URL that cannot be parsed (e.g. a non-numeric port).
    """
    url = url.strip()
    if base:
        url = urljoin(base.strip(), url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:  # mailto:, javascript:, data: … have no host or path to normalise
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    netloc = _netloc(scheme, parts.netloc, parts.hostname, parts.port)
    path = quote(parts.path, safe=_SAFE) or "/"
    pairs = [p for p in parts.query.split("&") if p and not _is_tracking(p)]
    query = quote("&".join(pairs), safe=_SAFE)
    return urlunsplit((scheme, netloc, path, query, ""))
