"""The public pages' switch and what they may show.

Public pages (the XP and money leaderboards and each giveaway's draw) are off until a server
turns them on with the `web` setting `public_pages_enabled`; off, or for a server Pegasus has
left, they answer exactly as for a server that does not exist. They show display names, never
more about a member than the page needs.
"""

from __future__ import annotations

from collections.abc import Iterable

from models.guilds import Guild, GuildSettings, User
from models.security import AuditSource
from pegasus.i18n import N_, _
from pegasus.services.audit import ActorContext
from pegasus.services.settings import FeatureSettings, Kind, Setting, apply_changes, register

__all__ = ["SETTINGS", "display_names", "public_pages_on", "set_public_pages"]

SETTINGS = register(FeatureSettings(
    feature="web",
    model=GuildSettings,
    settings=(
        Setting("public_pages_enabled", Kind.BOOL, N_("public pages"),
                N_("Whether the leaderboards and giveaway draws are public web pages")),
    ),
))


async def public_pages_on(guild_id: int) -> bool:
    """Whether the server's public pages may be shown: switched on, and Pegasus still there."""
    present = await Guild.filter(id=guild_id, left_at__isnull=True).exists()
    if not present:
        return False
    return await GuildSettings.filter(guild_id=guild_id, public_pages_enabled=True).exists()


async def set_public_pages(
    guild_id: int,
    actor_id: int | None,
    enabled: bool,
    *,
    source: AuditSource = AuditSource.DISCORD,
    context: ActorContext | None = None,
) -> bool:
    """Switch the public pages on or off (audited); returns the value now stored."""
    stored = await apply_changes(
        SETTINGS, guild_id, actor_id, {"public_pages_enabled": enabled},
        source=source, context=context,
    )
    return bool(stored["public_pages_enabled"])


async def display_names(user_ids: Iterable[int]) -> dict[int, str]:
    """How each user is shown: their display name as last seen, else their username."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    rows = await User.filter(id__in=wanted).values_list("id", "username", "global_name")
    names = {int(user_id): global_name or username for user_id, username, global_name in rows}
    return {user_id: names.get(user_id) or _("Unknown member") for user_id in wanted}
