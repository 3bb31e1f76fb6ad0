"""The attachment store: evidence that does not rot.

Discord's attachment links are signed and stop working after about a day, so a ticket
transcript's files and a warning's or case's proof would stop opening. When an attachment is
kept as evidence (a ticket message, warning or case proof), Pegasus copies it into its own store:

- in the database (`attachment_blobs`), so a backup carries it; a file's bytes are kept once per
  guild, found again by their SHA-256, however many records refer to them;
- bounded: at most `AttachmentLimits.max_file_bytes` of one file (8 MB) and
  `max_guild_bytes` of one guild's files together (256 MB); a file over either limit is not
  kept, and its record gets a note saying so (`KeptFile.note`), never a silent loss;
- downloaded only from Discord's file server, through a bounded fetch that connects to checked
  public addresses only (`AttachmentFetcher`).

The API, for the features that keep evidence and those that show it:

- `AttachmentKeeper.keep(guild_id, sources, owners)` downloads and keeps (one per bot:
  `Pegasus.attachment_keeper`);
- `files_of_ticket`, `files_of_case`, `files_of_warning` list what was kept for a record, and
  `read_files` gives the bytes by SHA-256;
- `store_usage` says what a guild's files take; `drop_unreferenced` deletes copies no record
  refers to any more (deleting a record deletes its `kept_attachments` rows; keeping a new file
  in the guild does this too).
"""

from .download import DISCORD_CDN_ORIGINS, AttachmentFetcher, DownloadFailed, FileTooLarge
from .keeper import AttachmentKeeper
from .store import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_GUILD_BYTES,
    AttachmentLimits,
    AttachmentSource,
    EvidenceOwner,
    KeptFile,
    StoreUsage,
    drop_unreferenced,
    files_of_case,
    files_of_ticket,
    files_of_warning,
    kept_sources,
    megabytes,
    read_files,
    record_copy,
    record_missing,
    store_usage,
)

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_GUILD_BYTES",
    "DISCORD_CDN_ORIGINS",
    "AttachmentFetcher",
    "AttachmentKeeper",
    "AttachmentLimits",
    "AttachmentSource",
    "DownloadFailed",
    "EvidenceOwner",
    "FileTooLarge",
    "KeptFile",
    "StoreUsage",
    "drop_unreferenced",
    "files_of_case",
    "files_of_ticket",
    "files_of_warning",
    "kept_sources",
    "megabytes",
    "read_files",
    "record_copy",
    "record_missing",
    "store_usage",
]
