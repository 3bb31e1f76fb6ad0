"""The attachment store: the bounded fetch from Discord's file server, the store's deduplication
and limits on the real database, and how transcripts carry the kept files."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import UTC, datetime

import pytest

from models.attachments import AttachmentBlob, KeptAttachment
from models.moderation import MemberWarning, ModCase
from pegasus.services import moderation
from pegasus.services.attachments import (
    AttachmentFetcher,
    AttachmentLimits,
    AttachmentSource,
    DownloadFailed,
    EvidenceOwner,
    FileTooLarge,
    drop_unreferenced,
    files_of_case,
    files_of_warning,
    read_files,
    record_copy,
    store_usage,
)
from pegasus.services.tickets.transcripts import (
    AttachedCopy,
    Transcript,
    TranscriptMessage,
    render_transcript,
)
from tests.image_hosts import Answer, ImageHost, ScriptedResolver, client_tls, png, redirect

GUILD, ALICE, MOD = 1_000, 11, 21
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LOOPBACK = ipaddress.ip_address("127.0.0.1")
FILE = png((20, 20), (0, 0, 200))


def local_fetcher(host: ImageHost, **options: object) -> AttachmentFetcher:
    """A fetcher for which the test server stands for Discord's file server."""
    return AttachmentFetcher(
        origins=(host.url(""),),
        allowed=lambda address: address == LOOPBACK,
        tls=client_tls(),
        **options,  # type: ignore[arg-type]
    )


# ------------------------------------------------------------------------------ the fetch


async def test_downloads_only_from_its_origins() -> None:
    routes = {"/a/file.png": Answer(body=FILE), "/moved": redirect("/a/file.png")}
    async with ImageHost("127.0.0.1", routes) as host, ImageHost("127.0.0.2") as elsewhere:
        fetcher = local_fetcher(host)
        assert await fetcher.fetch(host.url("/a/file.png"), max_bytes=len(FILE)) == FILE
        assert await fetcher.fetch(host.url("/moved"), max_bytes=len(FILE)) == FILE
        assert not fetcher.accepts(elsewhere.url("/a/file.png"))
        with pytest.raises(DownloadFailed, match="not on Discord's file server"):
            await fetcher.fetch(elsewhere.url("/a/file.png"), max_bytes=len(FILE))
        host.routes["/away"] = redirect(elsewhere.url("/a/file.png"))
        with pytest.raises(DownloadFailed, match="not on Discord's file server"):
            await fetcher.fetch(host.url("/away"), max_bytes=len(FILE))
    assert elsewhere.hits == []


async def test_an_expired_file_and_a_file_too_large_are_told_apart() -> None:
    async with ImageHost("127.0.0.1", {"/big.bin": Answer(body=b"x" * 5000)}) as host:
        fetcher = local_fetcher(host)
        with pytest.raises(FileTooLarge):
            await fetcher.fetch(host.url("/big.bin"), max_bytes=4999)
        with pytest.raises(DownloadFailed, match="Discord no longer has the file"):
            await fetcher.fetch(host.url("/expired.png"), max_bytes=1000)


def test_the_default_fetcher_accepts_discords_file_server_only() -> None:
    fetcher = AttachmentFetcher()
    assert fetcher.accepts("https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&hm=2")
    assert fetcher.accepts("https://media.discordapp.net/attachments/1/2/a.png")
    assert not fetcher.accepts("http://cdn.discordapp.com/attachments/1/2/a.png")
    assert not fetcher.accepts("https://cdn.discordapp.com.evil.test/a.png")
    assert not fetcher.accepts("http://127.0.0.1:8080/attachments/1/2/a.png")
    assert not fetcher.accepts("not a link")


async def test_discords_name_leading_to_a_local_address_is_refused() -> None:
    fetcher = AttachmentFetcher(
        resolver=ScriptedResolver({"cdn.discordapp.com": [["127.0.0.1"]]}), tls=client_tls()
    )
    with pytest.raises(DownloadFailed, match="address is not allowed"):
        await fetcher.fetch("https://cdn.discordapp.com/attachments/1/2/a.png", max_bytes=100)


# ------------------------------------------------------------------------------ the store


async def warned(title: str) -> tuple[int, int]:
    issued = await moderation.issue_warning(
        guild_id=GUILD, user_id=ALICE, moderator_id=MOD, title=title, now=T0
    )
    return issued.warning.id, issued.case.id


def owners(warning_id: int, case_id: int) -> list[EvidenceOwner]:
    return [EvidenceOwner(warning_id=warning_id), EvidenceOwner(case_id=case_id)]


async def test_a_file_is_kept_once_per_guild_and_shared_by_its_records(db: str) -> None:
    limits = AttachmentLimits(max_file_bytes=4096, max_guild_bytes=10_000)
    first, second = await warned("One"), await warned("Two")
    source = AttachmentSource("https://cdn.discordapp.com/a/1/one.png", "one.png")
    again = AttachmentSource("https://cdn.discordapp.com/a/2/copy.png", "copy.png")
    kept = await record_copy(GUILD, source, FILE, owners(*first), limits)
    repeat = await record_copy(GUILD, again, FILE, owners(*second), limits)

    assert kept.sha256 == repeat.sha256 and kept.note is None
    assert await AttachmentBlob.all().count() == 1
    assert await KeptAttachment.all().count() == 4
    [of_case] = await files_of_case(GUILD, second[1])
    [of_warning] = await files_of_warning(GUILD, second[0])
    assert of_case == of_warning and of_case.filename == "copy.png" and of_case.kept
    assert await read_files(GUILD, [of_case.sha256 or ""]) == {kept.sha256: FILE}
    assert (await store_usage(GUILD, limits)).used_bytes == len(FILE)


async def test_the_guild_limit_counts_only_files_still_referred_to(db: str) -> None:
    limits = AttachmentLimits(max_file_bytes=4096, max_guild_bytes=5000)
    first, second, third = await warned("One"), await warned("Two"), await warned("Three")
    one = AttachmentSource("https://cdn.discordapp.com/a/1/one.txt", "one.txt")
    two = AttachmentSource("https://cdn.discordapp.com/a/2/two.txt", "two.txt")
    await record_copy(GUILD, one, b"1" * 3000, owners(*first), limits)

    full = await record_copy(GUILD, two, b"2" * 3000, owners(*second), limits)
    assert not full.kept
    assert full.note == (
        "two.txt (3 KB) was not kept: this server's attachment store holds 5 KB and has 2 KB "
        "left, so only Discord's link is kept, and it expires."
    )
    [noted] = await files_of_case(GUILD, second[1])
    assert noted.note == full.note and noted.sha256 is None

    # The first warning and its case are deleted: their copy no longer counts.
    await MemberWarning.filter(id=first[0]).delete()
    await ModCase.filter(id=first[1]).delete()
    assert await KeptAttachment.all().count() == 2  # the notes of the second warning
    kept = await record_copy(GUILD, two, b"2" * 3000, owners(*third), limits)
    assert kept.kept
    assert [bytes(b.data) for b in await AttachmentBlob.all()] == [b"2" * 3000]
    assert await drop_unreferenced(GUILD) == 0


async def test_drop_unreferenced_removes_copies_of_deleted_records(db: str) -> None:
    limits = AttachmentLimits()
    warning_id, case_id = await warned("One")
    source = AttachmentSource("https://cdn.discordapp.com/a/1/one.png", "one.png")
    await record_copy(GUILD, source, FILE, owners(warning_id, case_id), limits)
    await MemberWarning.filter(id=warning_id).delete()
    assert await drop_unreferenced(GUILD) == 0  # the case still refers to it
    await ModCase.filter(id=case_id).delete()
    assert await drop_unreferenced() == 1
    assert await AttachmentBlob.all().count() == 0


async def test_concurrent_copies_keep_one_file_and_the_guild_limit(db: str) -> None:
    """Files kept at the same moment: the same bytes are stored once, and the guild's total
    never goes over its limit (each copy takes the guild's lock)."""
    limits = AttachmentLimits(max_file_bytes=4096, max_guild_bytes=5000)
    records = [await warned(f"W{i}") for i in range(8)]
    contents = [b"s" * 2000] * 4 + [bytes([i]) * 2000 for i in range(4)]
    results = await asyncio.gather(
        *(
            record_copy(
                GUILD,
                AttachmentSource(f"https://cdn.discordapp.com/a/{i}/f.bin", "f.bin"),
                data,
                owners(*record),
                limits,
            )
            for i, (data, record) in enumerate(zip(contents, records, strict=True))
        )
    )
    blobs = await AttachmentBlob.all()
    assert len({b.sha256 for b in blobs}) == len(blobs)
    assert sum(b.size for b in blobs) <= limits.max_guild_bytes and len(blobs) == 2
    kept = {r.sha256 for r in results if r.kept}
    assert kept == {b.sha256 for b in blobs}
    assert sum(not r.kept for r in results) >= 3


# ------------------------------------------------------------------------------ transcripts


def page_with(*copies: AttachedCopy, budget: int = 6 * 1024 * 1024) -> str:
    message = TranscriptMessage(
        author_name="Alice",
        content="files",
        created_at=T0,
        attachments=[{"name": c.filename, "url": c.source_url} for c in copies],
        copies=copies,
    )
    transcript = Transcript(
        guild_name="G",
        number=1,
        opener_name="Alice",
        opened_at=T0,
        status="closed",
        messages=[message],
        file_budget=budget,
    )
    return render_transcript(transcript, generated_at=T0)


def test_a_transcript_shows_images_and_offers_other_files_as_downloads_only() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    page = page_with(
        AttachedCopy("https://cdn.test/a.png", "a.png", "image/png", len(FILE), FILE),
        AttachedCopy("https://cdn.test/b.svg", "b.svg", "image/svg+xml", len(svg), svg),
    )
    assert page.count("<img ") == 1 and '<img src="data:image/png;base64,' in page
    assert 'download="b.svg" href="data:application/octet-stream;base64,' in page
    assert "<script>" not in page and "image/svg+xml" not in page


def test_a_transcript_names_files_left_out_and_files_not_kept() -> None:
    page = page_with(
        AttachedCopy("https://cdn.test/big.png", "big.png", "image/png", 3 * 1024 * 1024),
        AttachedCopy("https://cdn.test/x.zip", "x.zip", note="x.zip was not kept: <too big>"),
        budget=1024 * 1024,
    )
    assert (
        "3 MB, kept by Pegasus; not included here, as a transcript includes at most 1 MB of files"
        in page
    )
    assert "x.zip was not kept: &lt;too big&gt;" in page
    assert "<img " not in page
