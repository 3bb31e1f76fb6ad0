"""Which language Pegasus speaks: a member's own choice and each server's language.

The choices are stored in `users.preferred_locale` and `guilds.language` and kept in memory by
`pegasus.i18n` (every reply reads them, so no query per reply): loaded at start, updated by the
commands here, and reloaded when another process changes a server's language.
"""

from __future__ import annotations

from models.guilds import Guild, User
from models.security import AuditSource
from pegasus import notify
from pegasus.errors import ValidationError
from pegasus.i18n import (
    DEFAULT_LOCALE,
    LANGUAGES,
    _,
    guild_locale,
    remember_guild_locale,
    remember_user_locale,
    replace_known_locales,
    supported_locale,
)
from pegasus.services.audit import ensure_rows, record_audit


def checked_language(code: str) -> str:
    """`code` if Pegasus speaks it; a refusal naming the languages otherwise."""
    locale = supported_locale(code)
    if locale is None or locale != code.strip().lower():
        choices = ", ".join(f"{name} ({key})" for key, name in LANGUAGES.items())
        raise ValidationError(
            _("Pegasus speaks {languages}; {code} is not one of them.").format(
                languages=choices, code=code
            )
        )
    return locale


async def load_languages() -> None:
    """Read every server language and member choice that is not the default (at start, and
    again every minute: another process may have changed one, and on SQLite no notice says so)."""
    guilds = await Guild.exclude(language=DEFAULT_LOCALE).values_list("id", "language")
    users = await User.filter(preferred_locale__isnull=False).values_list("id", "preferred_locale")
    replace_known_locales(dict(guilds), dict(users))


async def reload_guild_language(guild_id: int) -> None:
    language = await Guild.filter(id=guild_id).values_list("language", flat=True)
    remember_guild_locale(guild_id, language[0] if language else None)


async def set_member_language(user_id: int, code: str | None) -> str | None:
    """Store a member's own language (None: follow their Discord client's)."""
    locale = checked_language(code) if code is not None else None
    updated = await User.filter(id=user_id).update(preferred_locale=locale)
    if not updated:
        await User.create(id=user_id, preferred_locale=locale)
    remember_user_locale(user_id, locale)
    return locale


async def set_server_language(
    guild_id: int, code: str, *, actor_id: int | None, source: AuditSource = AuditSource.DISCORD
) -> str:
    """Store a server's language (posts to everyone: level-ups, giveaways, logs), audited."""
    locale = checked_language(code)
    before = guild_locale(guild_id)
    await ensure_rows(guild_id, (actor_id,))
    await Guild.filter(id=guild_id).update(language=locale)
    remember_guild_locale(guild_id, locale)
    if before != locale:
        await record_audit(
            guild_id=guild_id,
            actor_id=actor_id,
            action="language.set",
            target_type="guild",
            target_id=guild_id,
            before={"language": before},
            after={"language": locale},
            source=source,
        )
        await notify.announce(notify.Topic.SETTINGS, guild_id, "language")
    return locale
