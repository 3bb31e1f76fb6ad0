"""Evidence that does not rot, through the local Discord: files in tickets and warning proof are
copied into the attachment store, so transcripts, /case and /warning history still have them
after Discord's link has expired."""

from __future__ import annotations

import base64
import re

import aiohttp
import pytest

from models.attachments import AttachmentBlob, KeptAttachment
from models.moderation import MemberWarning
from pegasus.localdiscord import File
from pegasus.localdiscord.env import DiscordEnv
from pegasus.localdiscord.state import Attachment
from pegasus.services.attachments import AttachmentKeeper, AttachmentLimits
from tests.e2e.test_tickets import close_with, make_panel, open_ticket
from tests.image_hosts import png

pytestmark = pytest.mark.discord_env(
    extensions=("cogs.core", "cogs.tickets", "cogs.moderation")
)

WARN_ID = re.compile(r"W-[0-9A-Z]{5}")


async def status_of(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def expire(env: DiscordEnv, attachment: Attachment) -> None:
    """Discord's signed link runs out: the local Discord answers 404 for it from now on."""
    assert await status_of(attachment.url) == 200
    env.server.expire_attachment(attachment)
    assert await status_of(attachment.url) == 404


def limit_store(env: DiscordEnv, **limits: int) -> None:
    env.bot.attachment_keeper.limits = AttachmentLimits(**limits)  # type: ignore[union-attr]


def embed_fields(reply_or_message) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {f["name"]: f["value"] for f in (reply_or_message.embed or {}).get("fields", [])}


async def test_a_ticket_file_is_in_the_transcript_after_discord_expired_it(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    receipt = png((40, 20), (200, 30, 30))
    said = await env.alice.say(
        channel, "Here is my receipt", files=[File("receipt.png", receipt, "image/png")]
    )
    await env.settle()
    [blob] = await AttachmentBlob.all()
    assert bytes(blob.data) == receipt and blob.size == len(receipt)
    [kept] = await KeptAttachment.all()
    assert (kept.filename, kept.source_url, kept.blob_id, kept.note) == (
        "receipt.png",
        said.attachments[0].url,
        blob.id,
        None,
    )

    await expire(env, said.attachments[0])
    await close_with(env, env.mod, channel, reason="Refunded")

    page = env.channel("logs").bot_messages[-1].attachments[0].data.decode()
    encoded = base64.b64encode(receipt).decode()
    assert f'<img src="data:image/png;base64,{encoded}"' in page
    assert 'download="receipt.png"' in page
    dm_page = env.server.dms(env.alice)[-1].attachments[0].data.decode()
    assert encoded in dm_page


async def test_warning_proof_is_shown_from_the_store_by_case_and_warning_history(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    shot = png((30, 30), (10, 120, 200))
    warned = await env.mod.slash(
        "warn",
        member=env.alice,
        title="Spamming",
        proof=File("shot.png", shot, content_type="image/png"),
        proof_url="https://example.com/log",
    )
    await env.settle()
    warn_id = WARN_ID.search(warned.text).group(0)  # type: ignore[union-attr]
    warning = await MemberWarning.get(warn_id=warn_id)
    uploaded = env.server.attachments[int(warning.proof[0].split("/")[-2])]
    await expire(env, uploaded)

    case = await env.mod.slash("case", number=1)
    assert case.ephemeral
    [copy] = case.attachments
    assert (copy.filename, copy.data) == ("shot.png", shot)
    proof = embed_fields(case)["Proof"]
    assert "shot.png: kept copy attached" in proof
    assert "https://example.com/log" in proof  # a link elsewhere is kept as given

    history = await env.mod.slash("warning history", warn_id=warn_id)
    assert history.ephemeral
    assert [(a.filename, a.data) for a in history.attachments] == [("shot.png", shot)]
    assert "shot.png: kept copy attached" in embed_fields(history)["Proof"]
    # One copy, referred to by the warning and by its case.
    assert await AttachmentBlob.all().count() == 1
    rows = await KeptAttachment.all().order_by("id")
    owners = [(row.warning_id, row.case_id) for row in rows]
    assert owners == [(warning.id, None), (None, warning.case_id)]  # type: ignore[attr-defined]


async def test_the_same_file_is_stored_once(discord_env: DiscordEnv) -> None:
    env = discord_env
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    same = png((50, 50), (0, 90, 0))
    await env.alice.say(channel, "first", files=[File("a.png", same, "image/png")])
    await env.mod.say(channel, "same again", files=[File("b.png", same, "image/png")])
    other = png((50, 50), (90, 0, 0))
    await env.alice.say(channel, "another", files=[File("c.png", other, "image/png")])
    await env.mod.slash("warn", member=env.alice, title="Spam", proof=File("d.png", same))
    await env.settle()

    blobs = await AttachmentBlob.all()
    assert sorted(bytes(b.data) for b in blobs) == sorted([same, other])
    same_blob = next(b for b in blobs if bytes(b.data) == same)
    rows = await KeptAttachment.all()
    by_name: dict[str, list[int | None]] = {}
    for row in rows:
        by_name.setdefault(row.filename, []).append(row.blob_id)
    assert by_name["a.png"] == by_name["b.png"] == [same_blob.id]
    assert by_name["d.png"] == [same_blob.id, same_blob.id]  # the warning and its case
    assert by_name["c.png"] != [same_blob.id]


async def test_a_file_over_the_per_file_limit_is_noted_never_lost_silently(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    limit_store(env, max_file_bytes=2048, max_guild_bytes=1024 * 1024)
    await make_panel(env)
    await open_ticket(env, env.alice)
    channel = env.guild.channel("ticket-0001")
    big = bytes(range(256)) * 12  # 3 KB
    await env.alice.say(channel, "the log", files=[File("server.log", big, "text/plain")])
    await env.settle()

    note = channel.bot_messages[-1].text
    assert "server.log (3 KB) was not kept: Pegasus keeps files of at most 2 KB" in note
    assert await AttachmentBlob.all().count() == 0
    [row] = await KeptAttachment.all()
    assert row.blob_id is None and row.note and "at most 2 KB" in row.note

    copy = await env.alice.slash("ticket transcript", in_channel=channel)
    page = copy.attachments[0].data.decode()
    assert "server.log" in page and "was not kept: Pegasus keeps files of at most 2 KB" in page

    warned = await env.mod.slash(
        "warn", member=env.bob, title="Spam", proof=File("big.log", big, "text/plain")
    )
    told = await warned.next_followup()
    assert told.ephemeral and "big.log (3 KB) was not kept" in told.text
    await env.settle()
    case = await env.mod.slash("case", number=1)
    assert case.attachments == []
    assert "big.log (3 KB) was not kept" in embed_fields(case)["Proof"]


async def test_the_per_guild_limit_is_noted_and_a_known_file_still_fits(
    discord_env: DiscordEnv,
) -> None:
    env = discord_env
    limit_store(env, max_file_bytes=4096, max_guild_bytes=5000)
    first, second = b"1" * 3000, b"2" * 3000
    await env.mod.slash("warn", member=env.alice, title="One", proof=File("one.txt", first))
    refused = await env.mod.slash(
        "warn", member=env.alice, title="Two", proof=File("two.txt", second)
    )
    told = await refused.next_followup()
    assert told.ephemeral
    assert (
        "two.txt (3 KB) was not kept: this server's attachment store holds 5 KB and has 2 KB "
        "left" in told.text
    )
    again = await env.mod.slash(
        "warn", member=env.alice, title="Three", proof=File("one-again.txt", first)
    )
    await env.settle()
    assert again.followups == []  # the same bytes are kept already: they cost nothing
    assert [bytes(b.data) for b in await AttachmentBlob.all()] == [first]
    history = await env.mod.slash("case", number=2)
    assert "two.txt (3 KB) was not kept" in embed_fields(history)["Proof"]


async def test_by_default_the_bot_downloads_only_from_discords_file_server(
    discord_env: DiscordEnv,
) -> None:
    """The production keeper never fetches from a local address, the local Discord included:
    the file is noted as not kept instead."""
    env = discord_env
    env.bot.attachment_keeper = AttachmentKeeper()  # type: ignore[union-attr]
    warned = await env.mod.slash(
        "warn", member=env.alice, title="Spam", proof=File("shot.png", b"\x89PNG fake")
    )
    told = await warned.next_followup()
    assert "shot.png was not kept: it could not be downloaded" in told.text
    assert "not on Discord's file server" in told.text
    await env.settle()
    assert await AttachmentBlob.all().count() == 0
