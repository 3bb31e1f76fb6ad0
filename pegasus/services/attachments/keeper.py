"""Keeping attachments as evidence: download each one (bounded), then store it or note why not.

One `AttachmentKeeper` per bot: it knows where files may be downloaded from (`fetcher`) and how
much may be kept (`limits`), and bounds how many downloads run at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from .download import AttachmentFetcher, DownloadFailed, FileTooLarge
from .store import (
    AttachmentLimits,
    AttachmentSource,
    EvidenceOwner,
    KeptFile,
    kept_sources,
    megabytes,
    record_copy,
    record_missing,
)

__all__ = ["AttachmentKeeper"]

MAX_CONCURRENT_DOWNLOADS = 4


def _too_large_note(source: AttachmentSource, limits: AttachmentLimits) -> str:
    size = f" ({megabytes(source.size)})" if source.size else ""
    return (
        f"{source.filename}{size} was not kept: Pegasus keeps files of at most "
        f"{megabytes(limits.max_file_bytes)}, so only Discord's link is kept, and it expires."
    )


def _failed_note(source: AttachmentSource, reason: str) -> str:
    return (
        f"{source.filename} was not kept: it could not be downloaded ({reason}), so only "
        "Discord's link is kept."
    )


@dataclass
class AttachmentKeeper:
    """Copies attachments into the store when they are kept as evidence."""

    fetcher: AttachmentFetcher = field(default_factory=AttachmentFetcher)
    limits: AttachmentLimits = field(default_factory=AttachmentLimits)
    max_concurrent_downloads: int = MAX_CONCURRENT_DOWNLOADS
    _downloads: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    def accepts(self, url: str) -> bool:
        """Whether `url` is a file on Discord's file server (a link this keeper would copy)."""
        return self.fetcher.accepts(url)

    async def keep(
        self,
        guild_id: int,
        sources: Sequence[AttachmentSource],
        owners: Sequence[EvidenceOwner],
    ) -> list[KeptFile]:
        """Keep each of `sources` as evidence for each of `owners` (a warning and its case share
        the copy); what could not be kept is recorded with a note saying why, and returned with
        it. A source already recorded for the first owner is skipped (a replayed message)."""
        if not sources or not owners:
            return []
        done = await kept_sources(guild_id, owners[0])
        results = []
        for source in dict.fromkeys(sources):
            if source.url in done:
                continue
            results.append(await self._keep_one(guild_id, source, owners))
        return results

    async def _keep_one(
        self, guild_id: int, source: AttachmentSource, owners: Sequence[EvidenceOwner]
    ) -> KeptFile:
        limit = self.limits.max_file_bytes
        if source.size is not None and source.size > limit:
            return await record_missing(
                guild_id, source, owners, _too_large_note(source, self.limits)
            )
        try:
            data = await self._download(source.url, limit)
        except FileTooLarge:
            return await record_missing(
                guild_id, source, owners, _too_large_note(source, self.limits)
            )
        except DownloadFailed as failure:
            return await record_missing(
                guild_id, source, owners, _failed_note(source, str(failure))
            )
        return await record_copy(guild_id, source, data, owners, self.limits)

    async def _download(self, url: str, max_bytes: int) -> bytes:
        if self._downloads is None:
            self._downloads = asyncio.Semaphore(self.max_concurrent_downloads)
        async with self._downloads:
            return await self.fetcher.fetch(url, max_bytes=max_bytes)
