"""Welcome and goodbye messages: their templates, what is posted and sent, and their settings.

Templates accept `{user}` (a mention, as the adapter writes it), `{username}` (the name, no ping),
`{server}` and `{member_count}` (with thousands separators).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models.guilds import DEFAULT_GOODBYE_MESSAGE, DEFAULT_WELCOME_MESSAGE
from pegasus.errors import ConflictError, ValidationError
from pegasus.i18n import N_, _, format_number
from pegasus.services.colours import parse_colour

from .config import ConfigCache, GreetingConfig, GreetingKind, GuildConfig
from .settings import MAX_MESSAGE_LENGTH, MAX_TITLE_LENGTH, MAX_URL_LENGTH, change_settings

__all__ = [
    "DISCORD_MESSAGE_LIMIT",
    "MENTION_LENGTH",
    "PLACEHOLDERS",
    "EmbedSpec",
    "Greeting",
    "MemberFacts",
    "build_greeting",
    "disable_greeting",
    "parse_color",
    "render_template",
    "set_greeting",
    "validate_template",
    "validate_url",
]

PLACEHOLDERS = ("user", "username", "server", "member_count")
# The longest mention an adapter writes for {user}: Discord's, two characters, the largest
# snowflake, one character.
MENTION_LENGTH = 3 + len(str(2**63 - 1))
DISCORD_MESSAGE_LIMIT = 2000

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """What templates can say about a member and their server (names already escaped)."""

    user_id: int
    mention: str  # how the adapter mentions the member (`{user}`), e.g. `<@id>` on Discord
    username: str
    server: str
    member_count: int


# The longest member a template must fit: Discord's longest snowflake, display name (32) and
# server name (100), and a billion members.
_LONGEST_FACTS = MemberFacts(
    user_id=2**63 - 1,
    mention="m" * MENTION_LENGTH,
    username="n" * 32,
    server="s" * 100,
    member_count=10**9,
)


# The refusals of each template (`what`): empty, too long, unknown placeholder, too long filled in.
_TEMPLATE_REFUSALS = {
    "message": (
        N_("The message can't be empty."),
        N_("The message can be at most {limit} characters long."),
        N_("Unknown placeholder {unknown} in the message. Use {accepted}."),
        N_(
            "With long names filled in, the message could reach {length} characters, over "
            "Discord's {limit}: use fewer placeholders or shorter text."
        ),
    ),
    "title": (
        N_("The title can't be empty."),
        N_("The title can be at most {limit} characters long."),
        N_("Unknown placeholder {unknown} in the title. Use {accepted}."),
        N_(
            "With long names filled in, the title could reach {length} characters, over "
            "Discord's {limit}: use fewer placeholders or shorter text."
        ),
    ),
    "DM": (
        N_("The DM can't be empty."),
        N_("The DM can be at most {limit} characters long."),
        N_("Unknown placeholder {unknown} in the DM. Use {accepted}."),
        N_(
            "With long names filled in, the DM could reach {length} characters, over "
            "Discord's {limit}: use fewer placeholders or shorter text."
        ),
    ),
}
_URL_REFUSALS = {
    "image": (
        N_("The image must be a link starting with https://."),
        N_("The image link can be at most {limit} characters."),
    ),
    "thumbnail": (
        N_("The thumbnail must be a link starting with https://."),
        N_("The thumbnail link can be at most {limit} characters."),
    ),
}


def validate_template(text: str, *, what: str = "message", limit: int = MAX_MESSAGE_LENGTH) -> str:
    """The template, stripped; raises ValidationError for unknown placeholders or bad length."""
    empty, too_long, unknown_placeholder, too_long_filled = _TEMPLATE_REFUSALS[what]
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationError(_(empty))
    if len(cleaned) > limit:
        raise ValidationError(_(too_long).format(limit=format_number(limit)))
    unknown = sorted({name for name in _PLACEHOLDER.findall(cleaned) if name not in PLACEHOLDERS})
    if unknown:
        # On one line and short: a placeholder can hold line breaks and most of the text.
        shown = ", ".join("{" + " ".join(name.split())[:30] + "}" for name in unknown[:5])
        accepted = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        raise ValidationError(_(unknown_placeholder).format(unknown=shown, accepted=accepted))
    longest = len(render_template(cleaned, _LONGEST_FACTS, clip=False))
    if longest > DISCORD_MESSAGE_LIMIT:
        # Checked now: Discord would refuse the filled-in message and the greeting be lost.
        raise ValidationError(
            _(too_long_filled).format(
                length=format_number(longest), limit=format_number(DISCORD_MESSAGE_LIMIT)
            )
        )
    return cleaned


def render_template(template: str, facts: MemberFacts, *, clip: bool = True) -> str:
    """Fill `{user}`, `{username}`, `{server}` and `{member_count}`; other braces stay as typed.

    The result is clipped to Discord's 2,000 characters (escaped names can be longer than the
    lengths `validate_template` assumes), so the message is still delivered.
    """
    values = {
        "user": facts.mention,
        "username": facts.username,
        "server": facts.server,
        "member_count": f"{facts.member_count:,}",
    }

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    filled = _PLACEHOLDER.sub(fill, template)
    if clip and len(filled) > DISCORD_MESSAGE_LIMIT:
        filled = filled[: DISCORD_MESSAGE_LIMIT - 1] + "…"
    return filled


def parse_color(text: str) -> int:
    """An embed colour, in the one grammar of colours (pegasus.services.colours)."""
    return parse_colour(text)


def validate_url(text: str, *, what: str) -> str:
    not_a_link, too_long = _URL_REFUSALS[what]
    cleaned = (text or "").strip()
    if not cleaned.lower().startswith("https://") or any(ch.isspace() for ch in cleaned):
        raise ValidationError(_(not_a_link))
    if len(cleaned) > MAX_URL_LENGTH:
        raise ValidationError(_(too_long).format(limit=format_number(MAX_URL_LENGTH)))
    return cleaned


@dataclass(frozen=True, slots=True)
class EmbedSpec:
    description: str
    title: str | None = None
    color: int | None = None
    image_url: str | None = None
    thumbnail_url: str | None = None


@dataclass(frozen=True, slots=True)
class Greeting:
    """What to post in the channel, and what to send the member directly (welcome only)."""

    content: str | None
    embed: EmbedSpec | None
    dm: str | None = None


def greeting_template(template: str) -> str:
    """Pegasus's own default greetings in the current language (the server's, inside
    `for_guild`); a message the server's staff wrote, as they wrote it."""
    if template == DEFAULT_WELCOME_MESSAGE:
        # Translators: the default welcome; keep {user}, {server} and {member_count}.
        return _("Welcome {user} to {server}! You are member #{member_count}.")
    if template == DEFAULT_GOODBYE_MESSAGE:
        # Translators: the default goodbye; keep {user}, {server} and {member_count}.
        return _("{user} has left {server}. We are now {member_count}.")
    return template


def build_greeting(kind: GreetingKind, settings: GreetingConfig, facts: MemberFacts) -> Greeting:
    """The message for `facts`' member. In embed mode a welcome still pings the newcomer in the
    message text (mentions inside embeds do not notify); a goodbye pings nobody."""
    text = render_template(greeting_template(settings.message), facts)
    dm = None
    if kind is GreetingKind.WELCOME and settings.dm_enabled:
        dm = render_template(greeting_template(settings.dm_message or settings.message), facts)
    if not settings.embed_enabled:
        return Greeting(content=text, embed=None, dm=dm)
    embed = EmbedSpec(
        description=text,
        title=render_template(settings.embed_title, facts)[:256] if settings.embed_title else None,
        color=settings.embed_color,
        image_url=settings.embed_image,
        thumbnail_url=settings.embed_thumbnail,
    )
    content = facts.mention if kind is GreetingKind.WELCOME else None
    return Greeting(content=content, embed=embed, dm=dm)


async def set_greeting(
    guild_id: int,
    actor_id: int,
    kind: GreetingKind,
    *,
    channel_id: int,
    message: str | None = None,
    embed_enabled: bool | None = None,
    embed_color: str | None = None,
    embed_title: str | None = None,
    embed_image: str | None = None,
    embed_thumbnail: str | None = None,
    dm_enabled: bool | None = None,
    dm_message: str | None = None,
    cache: ConfigCache | None = None,
) -> GuildConfig:
    """Turn welcome or goodbye messages on in `channel_id`; options left as None keep their value.

    Text options accept `none` (or `-`) to clear an optional value (title, image, thumbnail,
    colour, direct message text).
    """
    if kind is GreetingKind.GOODBYE and (dm_enabled or dm_message):
        raise ValidationError(_("Goodbye messages can't be sent privately: the member has left."))
    prefix = kind.value
    changes: dict[str, Any] = {f"{prefix}_enabled": True, f"{prefix}_channel_id": channel_id}
    if message is not None:
        changes[f"{prefix}_message"] = validate_template(message)
    if embed_enabled is not None:
        changes[f"{prefix}_embed_enabled"] = embed_enabled
    optional = {
        "embed_color": (embed_color, lambda text: parse_color(text)),
        "embed_title": (
            embed_title,
            lambda text: validate_template(text, what="title", limit=MAX_TITLE_LENGTH),
        ),
        "embed_image": (embed_image, lambda text: validate_url(text, what="image")),
        "embed_thumbnail": (embed_thumbnail, lambda text: validate_url(text, what="thumbnail")),
    }
    if kind is GreetingKind.WELCOME:
        optional["dm_message"] = (dm_message, lambda text: validate_template(text, what="DM"))
        if dm_enabled is not None:
            changes["welcome_dm_enabled"] = dm_enabled
    for name, (value, parse) in optional.items():
        if value is None:
            continue
        changes[f"{prefix}_{name}"] = None if _is_clear(value) else parse(value)
    return await change_settings(guild_id, actor_id, f"{prefix}.set", changes, cache=cache)


def _is_clear(value: str) -> bool:
    return value.strip().lower() in {"none", "-", "off", "clear"}


async def disable_greeting(
    guild_id: int, actor_id: int, kind: GreetingKind, *, cache: ConfigCache | None = None
) -> GuildConfig:
    """Stop welcome or goodbye messages; the rest of the setup is kept for next time."""
    switch = f"{kind.value}_enabled"

    def switch_off(current: Mapping[str, Any]) -> dict[str, Any]:
        if not current[switch]:
            if kind is GreetingKind.WELCOME:
                raise ConflictError(_("Welcome messages are already off."))
            raise ConflictError(_("Goodbye messages are already off."))
        return {switch: False}

    return await change_settings(
        guild_id, actor_id, f"{kind.value}.disable", switch_off, cache=cache
    )
