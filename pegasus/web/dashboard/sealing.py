"""The Discord access tokens of dashboard sessions, encrypted at rest.

AES-256-GCM under a key derived from the web server's secret (WEB_SECRET, shared by every
process), so a copy of the database alone does not give anyone's Discord token. A token sealed
under another secret does not open: that session has to log in again.
"""

from __future__ import annotations

import base64
import hmac
import os
from hashlib import sha256

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["seal", "unseal"]

NONCE_BYTES = 12
PURPOSE = b"pegasus dashboard access token"


def _cipher(secret: bytes) -> AESGCM:
    return AESGCM(hmac.new(secret, PURPOSE, sha256).digest())


def seal(secret: bytes, token: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(secret).encrypt(nonce, token.encode(), PURPOSE)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(secret: bytes, sealed: str) -> str | None:
    """The token, or None when it was not sealed with this secret (or was altered)."""
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        opened = _cipher(secret).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], PURPOSE)
    except (InvalidTag, ValueError):
        return None
    return opened.decode()
