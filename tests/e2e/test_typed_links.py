"""Links typed in commands are https:// only wherever the refusal says so."""

from __future__ import annotations

import pytest

from models.moderation import MemberWarning
from pegasus.localdiscord.env import DiscordEnv

pytestmark = pytest.mark.discord_env(extensions=("cogs.core", "cogs.moderation"))


async def test_a_typed_proof_link_must_be_https(discord_env: DiscordEnv) -> None:
    env = discord_env
    plain = await env.mod.slash(
        "warn", member=env.alice, title="Spam", proof_url="http://example.com/log"
    )

    assert plain.ephemeral
    assert plain.content == (
        "The proof link must be a link starting with https://, not `http://example.com/log`."
    )
    assert await MemberWarning.all().count() == 0

    secure = await env.mod.slash(
        "warn", member=env.alice, title="Spam", proof_url=" https://example.com/log "
    )
    assert "was warned" in secure.text
    [warning] = await MemberWarning.all()
    assert warning.proof == ["https://example.com/log"]
