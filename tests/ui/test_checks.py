"""How the Discord-side checks name what is missing (the checks themselves run in tests/e2e)."""

from __future__ import annotations

from pegasus.ui.checks import and_join


def test_and_join_reads_as_a_sentence() -> None:
    assert and_join([]) == ""
    assert and_join(["View Channel"]) == "View Channel"
    assert and_join(["View Channel", "Send Messages"]) == "View Channel and Send Messages"
    assert (
        and_join(["View Channel", "Send Messages", "Embed Links"])
        == "View Channel, Send Messages and Embed Links"
    )
