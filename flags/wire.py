"""The wire format of a flag (docs/contract.md, "Flag"): the one dict shape REST, the stream and
SDKs share, and the one JSON encoding they are sent in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flags.models import Flag, Rule

WireFlag = dict[str, Any]


def encode_json(value: Any) -> str:
    """The one JSON encoding used on the wire: compact, UTF-8 text (no ASCII escaping)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def format_timestamp(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: the same text from memory and from the database."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rule_to_wire(rule: Rule) -> dict[str, Any]:
    return {"attribute": rule.attribute, "operator": rule.operator, "values": list(rule.values)}


def flag_to_wire(flag: Flag, rules: list[Rule]) -> WireFlag:
    """The wire dict of a flag; `rules` must be the flag's rules ordered by position."""
    return {
        "key": flag.key,
        "is_enabled": flag.is_enabled,
        "rollout_percentage": flag.rollout_percentage,
        "description": flag.description,
        "client_side": flag.client_side,
        "rules": [rule_to_wire(rule) for rule in rules],
        "version": flag.version,
        "updated_at": format_timestamp(flag.updated_at),
    }
