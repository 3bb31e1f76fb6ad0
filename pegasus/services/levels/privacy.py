"""What levels stores about a member: XP, activity counts, voice time and the rank card."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.guilds import Member, User
from models.levels import LevelMilestone, UserXP, VoiceSession
from pegasus.i18n import N_
from pegasus.services.privacy import PrivacyDeclaration, register

from .histogram import HistogramDelta, write_histogram


async def export_levels(guild_id: int, user_id: int) -> dict[str, Any]:
    membership = await Member.filter(guild_id=guild_id, user_id=user_id).values(
        "nickname", "joined_at", "xp", "level", "messages", "voice_minutes", "created_at"
    )
    xp = await UserXP.filter(guild_id=guild_id, user_id=user_id).values(
        "xp", "level", "last_message_xp_at", "last_voice_at", "created_at"
    )
    voice = await VoiceSession.filter(guild_id=guild_id, user_id=user_id).values(
        "channel_id", "started_at", "last_credited_at"
    )
    card = await User.filter(id=user_id).values("rank_card_background", "rank_card_accent")
    milestones = await LevelMilestone.filter(guild_id=guild_id, user_id=user_id).order_by(
        "reached_at", "id"
    ).values("old_level", "new_level", "xp", "by_hand", "reached_at")
    return {
        "level_milestones": milestones,
        "membership_and_activity": membership[0] if membership else None,
        "xp": xp[0] if xp else None,
        "voice_session_in_progress": voice[0] if voice else None,
        "rank_card": card[0] if card else None,
    }


async def erase_levels(guild_id: int, user_id: int, conn: BaseDBAsyncClient) -> dict[str, int]:
    # user_xp, then members, then the histogram: the order the activity flush writes them in,
    # so the two never wait on each other in a circle.
    mine = {"guild_id": guild_id, "user_id": user_id}
    xp = await (
        UserXP.filter(**mine).using_db(conn).select_for_update().values_list("xp", flat=True)
    )
    xp_rows = await UserXP.filter(**mine).using_db(conn).delete()
    activity_rows = await Member.filter(**mine).using_db(conn).delete()
    if xp:
        # The histogram counts every ranked member: take them out in the same transaction.
        moved = HistogramDelta()
        moved.move(guild_id, user_id, int(xp[0]), 0)
        if moved:
            await write_histogram(conn, moved)
    card = await (
        User.filter(id=user_id)
        .exclude(rank_card_background__isnull=True, rank_card_accent__isnull=True)
        .using_db(conn)
        .update(rank_card_background=None, rank_card_accent=None)
    )
    return {
        "XP rows": xp_rows,
        "activity rows": activity_rows,
        "voice sessions": await VoiceSession.filter(**mine).using_db(conn).delete(),
        "level milestones": await LevelMilestone.filter(**mine).using_db(conn).delete(),
        "rank card": card,
    }


DECLARATION = register(
    PrivacyDeclaration(
        feature="levels",
        explanation=N_(
            "Your XP and level with the dates your level changed, how many messages and voice "
            "minutes counted, your nickname and join date as last seen, a voice session in "
            "progress, and your rank card's colours."
        ),
        covers=(
            (Member, ("user",)),
            (UserXP, ("user",)),
            (VoiceSession, ("user",)),
            (LevelMilestone, ("user",)),
            (User, ("rank_card_background", "rank_card_accent")),
        ),
        export=export_levels,
        erase=erase_levels,
        erased=(
            N_("your XP, level (and the dates it changed), message count and voice minutes"),
            N_("your rank card's background and colour (the same in every server)"),
        ),
    )
)
