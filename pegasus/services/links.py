"""Links people type (images, proof, embeds): one check, https only.

A link is shown to every member of a server or fetched by the bot, so it must be secure and
well-formed; the refusal says so in the same words everywhere.
"""

from __future__ import annotations

from urllib.parse import urlparse

from pegasus.errors import ValidationError, shown_input

__all__ = ["MAX_LINK_LENGTH", "parse_https_link"]

MAX_LINK_LENGTH = 1024


def parse_https_link(text: str, *, what: str = "link", max_length: int = MAX_LINK_LENGTH) -> str:
    """`text` trimmed, when it is a full https:// link with a host and no spaces; refused
    otherwise, naming `what` ("image link", "proof")."""
    cleaned = (text or "").strip()
    if not cleaned.lower().startswith("https://") or any(ch.isspace() for ch in cleaned):
        raise ValidationError(
            f"The {what} must be a link starting with https://, not {shown_input(text)}."
        )
    try:
        host = urlparse(cleaned).hostname
    except ValueError:  # such as an unclosed IPv6 bracket: `https://[`
        host = None
    if not host:
        raise ValidationError(f"The {what} {shown_input(text)} is not a full https:// link.")
    if len(cleaned) > max_length:
        raise ValidationError(f"The {what} can be at most {max_length:,} characters.")
    return cleaned
