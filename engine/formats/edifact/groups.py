"""Which segment opens which group in a MedCom letter (standards/medcom/edifact-groups.toml).

Marked groups ("S01+01") need no table; the table names the unmarked ones and nesting.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

GROUPS_FILE = Path(__file__).resolve().parents[3] / "standards" / "medcom" / "edifact-groups.toml"
MARKER = re.compile(r"^S\d\d$")  # MedCom's group segments: S01 … S99
BODY = "body"


@dataclass(frozen=True)
class GroupRule:
    starts: dict[str, str] = field(default_factory=dict)  # segment tag -> group it opens
    children: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MessageGroups:
    rules: dict[str, GroupRule] = field(default_factory=dict)  # "body" or group name

    def rule(self, group: str) -> GroupRule:
        return self.rules.get(group, _NO_RULE)

    @functools.cached_property
    def unmarked(self) -> frozenset[str]:
        """Groups a segment tag opens: written back without an Snn segment."""
        return frozenset(g for rule in self.rules.values() for g in rule.starts.values())


_NO_RULE = GroupRule()


@functools.cache
def message_groups(message: str) -> MessageGroups:
    """The group rules of EDIFACT message `message` (MEDDIS, MEDPRE …); none if unknown."""
    return _load().get(message, MessageGroups())


@functools.cache
def _load() -> dict[str, MessageGroups]:
    with GROUPS_FILE.open("rb") as handle:
        raw = tomllib.load(handle)
    tables: dict[str, MessageGroups] = {}
    for message, groups in raw.items():
        rules: dict[str, GroupRule] = {}
        for name, spec in groups.items():
            unknown = set(spec) - {"starts", "children"}
            if unknown or not (name == BODY or MARKER.match(name)):
                raise ValueError(f"{GROUPS_FILE.name}: [{message}.{name}] is not a group rule")
            rules[name] = GroupRule(
                dict(spec.get("starts", {})), frozenset(spec.get("children", ()))
            )
        tables[message] = MessageGroups(rules)
    return tables
