"""Links people type (images, proof, embeds): one check, https only.

A link is shown to every member of a server or fetched by the bot, so it must be secure and
well-formed; the refusal says so in the same words everywhere.
"""

from __future__ import annotations

from urllib.parse import urlparse

from pegasus.errors import ValidationError, shown_input
from pegasus.i18n import N_, _, format_number

__all__ = ["MAX_LINK_LENGTH", "parse_https_link"]

MAX_LINK_LENGTH = 1024


def parse_https_link(
    text: str, *, what: str = N_("link"), max_length: int = MAX_LINK_LENGTH
) -> str:
    """`text` trimmed, when it is a full https:// link with a host and no spaces; refused
    otherwise, naming `what` ("image link", "proof"; English marked with N_, shown translated)."""
    what = _(what)
    cleaned = (text or "").strip()
    if not cleaned.lower().startswith("https://") or any(ch.isspace() for ch in cleaned):
        raise ValidationError(
            _("The {what} must be a link starting with https://, not {text}.").format(
                what=what, text=shown_input(text)
            )
        )
    try:
        host = urlparse(cleaned).hostname
    except ValueError:  # such as an unclosed IPv6 bracket: `https://[`
        host = None
    if not host:
        raise ValidationError(
            _("The {what} {text} is not a full https:// link.").format(
                what=what, text=shown_input(text)
            )
        )
    if len(cleaned) > max_length:
        raise ValidationError(
            _("The {what} can be at most {count} characters.").format(
                what=what, count=format_number(max_length)
            )
        )
    return cleaned
