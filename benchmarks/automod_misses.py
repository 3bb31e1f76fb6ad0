"""What checking a message against automod rules costs once the CPU's caches are cold: counted,
not timed.

    python benchmarks/automod_misses.py                    # 50 rules, plain sentences
    python benchmarks/automod_misses.py --content rich     # sentences with a link and an emoji

Inside the bot, little of the automod check's code and data is still in the processor's caches
when the next message comes: the rest of the bot's work on a message pushes them out. Timing the
check in a loop misses that (everything stays cached), and timing it inside the bot is noisy
(`benchmarks/activity.py --automod-rules 50` measures the throughput there). This benchmark runs
the check under valgrind's cachegrind instead, with a simulated 1 MB last-level cache that is
emptied before each message, and counts per message the instructions run and the memory lines
fetched from beyond that cache (`LL misses`): the same counts on any machine, whatever its load.

Four child processes run the same loop over the same messages (the rules of
`benchmarks/activity.py`, none of which fires): doing nothing (the baseline, subtracted from the
others), encoding the text, the RE2 set's one pass alone (the scan), and the whole
`GuildRules.evaluate`. It prints each one's counts per message and evaluate / scan: how much the
check costs beyond the one call into RE2 it cannot do without.

Needs valgrind (Debian's package `valgrind`). Takes a minute or two.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODES = ("nothing", "encode", "scan", "evaluate")
WARM_UP = 500  # messages checked before counting: the automaton's states are built by then
LAST_LEVEL_CACHE = "--LL=1048576,16,64"  # 1 MB, 16-way, 64-byte lines
EVICTED_BYTES = 2 << 20  # written before each message: twice the simulated cache
COUNTS = {"instructions": "I   refs", "LL misses": "LL misses"}


def rules(count: int) -> Any:
    from benchmarks.activity import automod_rule_specs
    from pegasus.services.automod import GuildRules, Rule, RuleKind
    from pegasus.services.automod.rules import build_params, parse_actions

    made = []
    for n, spec in enumerate(automod_rule_specs(count)):
        params = dict(spec)
        kind = RuleKind(params.pop("kind"))
        made.append(
            Rule(
                id=n,
                rule_id=f"AM-{n}",
                guild_id=1,
                name=f"bench {n}",
                kind=kind,
                params=build_params(kind, **params),
                exempt_roles=frozenset(),
                exempt_channels=frozenset(),
                actions=parse_actions("delete"),
                escalation=None,
                enabled=True,
                created_by_id=1,
                created_at=datetime.now(UTC),
            )
        )
    return GuildRules(made)


def check(mode: str, guild_rules: Any) -> Callable[[Any], object]:
    if mode == "evaluate":
        return guild_rules.evaluate  # type: ignore[no-any-return]
    if mode == "scan":
        match = guild_rules._scan._match
        return lambda facts: match(facts.content.encode())
    if mode == "encode":
        return lambda facts: facts.content.encode()
    return lambda facts: None


def child(mode: str, rule_count: int, content: str, messages: int) -> None:
    """The loop that cachegrind counts: the same in every mode but for `check`."""
    from benchmarks.activity import AUTOMOD_CONTENT, AUTOMOD_RICH_CONTENT
    from pegasus.services.automod import MessageFacts

    text = AUTOMOD_RICH_CONTENT if content == "rich" else AUTOMOD_CONTENT
    facts = [
        MessageFacts(text.format(i=i), account_age_seconds=1e7)
        for i in range(WARM_UP + messages)
    ]
    guild_rules = rules(rule_count)
    for one in facts[:WARM_UP]:
        guild_rules.evaluate(one)
    run = check(mode, guild_rules)
    junk = bytearray(EVICTED_BYTES)
    zeros = bytes(len(junk[::64]))
    for one in facts[WARM_UP:]:
        junk[::64] = zeros  # a byte in every line: the simulated cache holds none of ours now
        run(one)


def counted(mode: str, args: argparse.Namespace) -> dict[str, int]:
    """Cachegrind's totals for one child."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=yes",
        LAST_LEVEL_CACHE,
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        __file__,
        "--child",
        mode,
        f"--rules={args.rules}",
        f"--content={args.content}",
        f"--messages={args.messages}",
    ]
    # Same dictionaries' layout in every child, so that only the mode differs.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{mode}: cachegrind failed:\n{done.stderr[-3000:]}")
    totals = {}
    for name, label in COUNTS.items():
        found = re.search(rf"{re.escape(label)}:\s+([\d,]+)", done.stderr)
        if found is None:
            raise SystemExit(f"{mode}: no '{label}' in cachegrind's summary")
        totals[name] = int(found.group(1).replace(",", ""))
    return totals


def report(totals: dict[str, dict[str, int]], messages: int) -> str:
    base = totals["nothing"]
    per_message = {
        mode: {name: (count - base[name]) / messages for name, count in counts.items()}
        for mode, counts in totals.items()
        if mode != "nothing"
    }
    lines = [f"{'per message, beyond the empty loop':<38}{'instructions':>14}{'LL misses':>12}"]
    for mode, counts in per_message.items():
        lines.append(
            f"  {mode:<36}{counts['instructions']:>14,.0f}{counts['LL misses']:>12,.0f}"
        )
    scan, evaluate = per_message["scan"], per_message["evaluate"]
    lines.append(
        f"  {'evaluate / scan':<36}{evaluate['instructions'] / scan['instructions']:>14.2f}"
        f"{evaluate['LL misses'] / scan['LL misses']:>12.2f}"
    )
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=50, help="automod rules of mixed kinds")
    parser.add_argument(
        "--content",
        choices=("plain", "rich"),
        default="plain",
        help="plain sentences, or sentences with a link and an emoji",
    )
    parser.add_argument("--messages", type=int, default=2_500, help="messages counted per child")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.child:
        child(args.child, args.rules, args.content, args.messages)
        return 0
    totals = {mode: counted(mode, args) for mode in MODES}
    print(
        f"== {args.rules} automod rules, {args.content} sentences, {args.messages:,} messages, "
        "caches emptied before each (cachegrind)"
    )
    print(report(totals, args.messages))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
