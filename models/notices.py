"""Changes announced between processes on SQLite, which has no LISTEN/NOTIFY."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ChangeNotice(Model):
    """One change announced by a process on SQLite (`pegasus.notify`): the other processes on the
    same file (`python -m pegasus web` beside the bot) read the rows after the last they saw,
    every half second, and drop what they keep of it. `origin` names the announcing process,
    which heard its own change at once and skips the row. Rows older than a minute are deleted.
    PostgreSQL announces with NOTIFY and leaves this table empty.
    """

    id = fields.BigIntField(primary_key=True)
    origin = fields.CharField(max_length=32)
    payload = fields.CharField(max_length=128)  # notify.Change.encode()
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "change_notices"
