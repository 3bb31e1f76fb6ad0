"""What automod stores about a member: the hits of their messages, and the rules staff made.

An erasure blanks the excerpts of a member's messages but keeps the hits themselves: they are
the server's record of moderation and what escalation counts. Rules stay (server
configuration); the creator's name on them is what the audit trail keeps anyway.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models.automod import AutomodHit, AutomodRule
from pegasus.i18n import N_
from pegasus.services.privacy import Kept, PrivacyDeclaration, register


async def export_automod(guild_id: int, user_id: int) -> dict[str, Any]:
    hits = (
        await AutomodHit.filter(guild_id=guild_id, user_id=user_id)
        .order_by("id")
        .values(
            "rule_name", "channel_id", "message_id", "excerpt", "reason", "actions", "created_at"
        )
    )
    rules = await AutomodRule.filter(guild_id=guild_id, created_by_id=user_id).values_list(
        "rule_id", flat=True
    )
    return {"automod_hits_about_you": hits, "automod_rules_you_created": sorted(rules)}


async def erase_automod(guild_id: int, user_id: int, conn: BaseDBAsyncClient) -> dict[str, int]:
    blanked = await (
        AutomodHit.filter(guild_id=guild_id, user_id=user_id)
        .exclude(excerpt="")
        .using_db(conn)
        .update(excerpt="")
    )
    return {"automod message excerpts": blanked}


DECLARATION = register(
    PrivacyDeclaration(
        feature="automod",
        explanation=N_(
            "Messages of yours that an automod rule caught (an excerpt, the rule, what was "
            "done), and, if you are staff, the automod rules you created."
        ),
        covers=((AutomodHit, ("user", "excerpt")), (AutomodRule, ("created_by",))),
        export=export_automod,
        erase=erase_automod,
        erased=(N_("the excerpts of your messages that automod caught"),),
        kept=(
            Kept(
                N_("that automod caught a message of yours, and what was done"),
                N_("the server's record of its moderation, which escalation counts"),
                ("automod_hits",),
                partly=True,
            ),
            Kept(
                N_("automod rules you created"),
                N_("server configuration"),
                ("automod_rules",),
            ),
        ),
    )
)
