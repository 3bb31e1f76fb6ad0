"""What moderation stores about a member: cases and warnings, received or issued.

Nothing here is erased at a member's request: cases and warnings are the server's record of its
moderation (a member could otherwise wipe their own warnings), so an export shows them and an
erasure says they stay.
"""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from models.moderation import MemberWarning, ModCase, WarningAutomation, WarningEdit
from pegasus.i18n import N_
from pegasus.services.privacy import Kept, PrivacyDeclaration, register


async def export_moderation(guild_id: int, user_id: int) -> dict[str, Any]:
    cases = await ModCase.filter(guild_id=guild_id, user_id=user_id).order_by("case_number").values(
        "case_number", "type", "moderator_id", "reason", "duration_seconds", "expires_at",
        "active", "proof", "created_at",
    )
    warnings = await MemberWarning.filter(guild_id=guild_id, user_id=user_id).values(
        "warn_id", "title", "description", "level", "moderator_id", "proof", "active",
        "expires_at", "removed_at", "removed_reason", "created_at",
    )
    as_staff = Q(moderator_id=user_id) | Q(reason_edited_by_id=user_id)
    issued = await ModCase.filter(as_staff, guild_id=guild_id).values_list(
        "case_number", flat=True
    )
    staff_warnings = Q(moderator_id=user_id) | Q(removed_by_id=user_id) | Q(edited_by_id=user_id)
    handled = await MemberWarning.filter(staff_warnings, guild_id=guild_id).values_list(
        "warn_id", flat=True
    )
    edits = await WarningEdit.filter(
        editor_id=user_id, warning__guild_id=guild_id
    ).values_list("warning__warn_id", flat=True)
    automations = await WarningAutomation.filter(
        guild_id=guild_id, created_by_id=user_id
    ).values_list("automation_id", flat=True)
    return {
        "cases_about_you": cases,
        "warnings_about_you": warnings,
        "as_staff": {
            "cases_you_issued_or_edited": sorted(issued),
            "warnings_you_issued_edited_or_removed": sorted(set(handled) | set(edits)),
            "automations_you_created": sorted(automations),
        },
    }


DECLARATION = register(
    PrivacyDeclaration(
        feature="moderation",
        explanation=N_(
            "Moderation cases and warnings about you (with their reasons and proof), and, if "
            "you are staff, the cases, warnings and automations you handled."
        ),
        covers=(
            (ModCase, ("user", "moderator", "reason_edited_by")),
            (MemberWarning, ("user", "moderator", "removed_by", "edited_by")),
            (WarningEdit, ("editor",)),
            (WarningAutomation, ("created_by",)),
        ),
        export=export_moderation,
        kept=(
            Kept(
                N_("moderation cases and warnings, about you or handled by you"),
                N_("the server's record of its moderation"),
                ("mod_cases", "warnings", "warning_edits", "warning_automations"),
            ),
        ),
    )
)
