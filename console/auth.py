"""Who is asking, and may they: signed session cookies, CSRF tokens, login rate limit, roles.

Sessions are signed tokens (HMAC-SHA256) rather than rows of a sessions table: the secret lives in
the data folder (``console-secret``, mode 0600), so ``yuqing serve`` and ``yuqing run --web`` share
it and survive restarts, and the desk needs no schema of its own. A token names the user and
carries a fingerprint of their password hash and an expiry; every request re-reads the user, so a
changed password or a removed account ends its sessions at once. Logging out drops the cookie.

CSRF: every visitor gets a random nonce cookie; every form carries HMAC(secret, nonce), so a page
on another site can neither read nor forge it (signed double-submit, which covers the login form
too). Posts whose Origin is another host are refused as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

SESSION_COOKIE = "yuqing_session"
NONCE_COOKIE = "yuqing_csrf"
SESSION_TTL_S = 12 * 3600  # one working day
USER: web.RequestKey[Any] = web.RequestKey("user", object)  # storage.workflow.Person or None
CSRF: web.RequestKey[str] = web.RequestKey("csrf", str)
STAFF = frozenset({"admin", "operator"})
VIEWERS = STAFF | {"leader"}  # see every alert, the ledger and the dashboards


def load_secret(data_dir: Path) -> bytes:
    """The signing key, created on first use; only the owner may read it."""
    path = data_dir / "console-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def password_fingerprint(password_hash: str | None) -> str:
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    secret: bytes
    clock: Callable[[], float] = time.time

    def _mac(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}\n{value}".encode(), hashlib.sha256).digest())

    def session_token(self, user: str, password_hash: str | None) -> str:
        body = _b64(json.dumps({"u": user, "p": password_fingerprint(password_hash),
                                "e": int(self.clock()) + SESSION_TTL_S}, ensure_ascii=False).encode())
        return f"{body}.{self._mac('session', body)}"

    def read_session(self, token: str) -> tuple[str, str] | None:
        """(user name, password fingerprint) of a valid, unexpired token; None otherwise."""
        body, _, mac = token.partition(".")
        if not body or not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            claims = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(claims, dict) or claims.get("e", 0) < self.clock():
            return None
        return str(claims["u"]), str(claims["p"])

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str | None, token: object) -> bool:
        return bool(nonce) and isinstance(token, str) and hmac.compare_digest(token, self.csrf_token(nonce or ""))


@dataclass
class LoginLimiter:
    """At most ``failures`` wrong passwords per ``window_s``, counted per address and per user name.

    In memory: one desk process serves an institution; a restart forgets, which costs an attacker
    a restart they cannot cause.
    """

    failures: int = 5
    window_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str) -> deque[float]:
        stamps = self._seen.setdefault(key, deque())
        while stamps and stamps[0] <= self.clock() - self.window_s:
            stamps.popleft()
        return stamps

    def wait_s(self, *keys: str) -> float:
        """Seconds until a login may be tried again (0: now)."""
        waits = [stamps[0] + self.window_s - self.clock() for key in keys
                 if len(stamps := self._recent(key)) >= self.failures]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        if len(self._seen) > 10_000:  # many names tried: forget those whose failures have aged out
            for key in [k for k in self._seen if not self._recent(k)]:
                del self._seen[key]
        for key in keys:
            self._recent(key).append(self.clock())

    def succeeded(self, user_key: str) -> None:
        self._seen.pop(user_key, None)


def is_https(request: web.Request) -> bool:
    """HTTPS directly, or through a reverse proxy on this machine that says so (a remote client's
    X-Forwarded-Proto is not believed)."""
    proxied = request.remote in {"127.0.0.1", "::1"} and request.headers.get("X-Forwarded-Proto") == "https"
    return request.secure or proxied


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str,
               max_age: int | None = None) -> None:
    """HttpOnly, SameSite=Lax, and Secure when the desk is reached over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax",
                        secure=is_https(request))
