"""The one write path: every change to flags and API keys, from REST, the admin and commands.

Each flag write runs in one transaction: validate, lock the row, check If-Match, write the flag and
its rules, bump the version, append the change record. Only after the commit is the change
published (`flags.events.publish_flag_change`): to this process's store, then to its listeners.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db import IntegrityError, transaction
from django.utils import timezone

from flags import events
from flags.api_keys import Role, hash_secret, new_secret
from flags.exceptions import FlagNotFound, FlagValidationError, VersionMismatch
from flags.models import ApiKey, ChangeAction, ChangeRecord, Flag, FlagTombstone, Rule
from flags.validation import validate_flag, validate_flag_patch
from flags.wire import WireFlag, flag_to_wire

# A create that loses the race for a new key to a concurrent create retries as a replace.
_CREATE_ATTEMPTS = 3


class FlagUpsertResult(NamedTuple):
    flag: WireFlag
    created: bool


def _check_if_match(*, key: str, if_match: int | None, current: int | None) -> None:
    if if_match is not None and if_match != current:
        raise VersionMismatch(key, if_match, current)


def _write_rules(flag: Flag, rules: list[dict[str, Any]]) -> list[Rule]:
    Rule.objects.filter(flag=flag).delete()
    return Rule.objects.bulk_create(
        Rule(
            flag=flag,
            position=position,
            attribute=rule["attribute"],
            operator=rule["operator"],
            values=rule["values"],
        )
        for position, rule in enumerate(rules)
    )


def _record(*, key: str, version: int, action: str, actor: str, before: Any, after: Any) -> None:
    ChangeRecord.objects.create(
        flag_key=key,
        version=version,
        action=action,
        actor=actor,
        at=timezone.now(),
        before=before,
        after=after,
    )


def _publish_on_commit(event: events.ChangeEvent) -> None:
    transaction.on_commit(lambda: events.publish_flag_change(event))


def _locked_flag(key: str) -> Flag | None:
    return Flag.objects.select_for_update().filter(key=key).first()


def _ordered_rules(flag: Flag) -> list[Rule]:
    return list(flag.rules.order_by("position"))


def _current_wire(flag: Flag) -> WireFlag:
    return flag_to_wire(flag, _ordered_rules(flag))


def flag_upsert(
    *, data: Any, actor: str, key: str | None = None, if_match: int | None = None
) -> FlagUpsertResult:
    """Creates the flag or replaces it whole; fields left out take their defaults.

    `key` (from a URL) must agree with `data["key"]` when both are given. `if_match` is the
    version the caller expects; a stale one raises VersionMismatch and changes nothing.
    """
    if key is not None and isinstance(data, dict) and "key" not in data:
        data = {**data, "key": key}
    fields = validate_flag(data)
    if key is not None and fields["key"] != key:
        raise FlagValidationError({"key": ["Does not match the key in the URL."]})
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            return _upsert_once(fields=fields, actor=actor, if_match=if_match)
        except IntegrityError:
            # Another transaction created the key between our lookup and our insert.
            if attempt == _CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _upsert_once(*, fields: dict[str, Any], actor: str, if_match: int | None) -> FlagUpsertResult:
    key = fields["key"]
    now = timezone.now()
    flag = _locked_flag(key)
    created = flag is None
    if flag is None:
        _check_if_match(key=key, if_match=if_match, current=None)
        tombstone = FlagTombstone.objects.select_for_update().filter(key=key).first()
        before = None
        flag = Flag(key=key, version=tombstone.version + 1 if tombstone else 1)
        if tombstone:
            tombstone.delete()
    else:
        _check_if_match(key=key, if_match=if_match, current=flag.version)
        before = _current_wire(flag)
        flag.version += 1
    flag.is_enabled = fields["is_enabled"]
    flag.rollout_percentage = fields["rollout_percentage"]
    flag.description = fields["description"]
    # Absent: a new flag keeps the model's default (false), a replaced one its current value.
    flag.client_side = fields.get("client_side", flag.client_side)
    flag.updated_at = now
    flag.save()
    after = flag_to_wire(flag, _write_rules(flag, fields["rules"]))
    _record(
        key=key,
        version=flag.version,
        action=ChangeAction.CREATE if created else ChangeAction.UPDATE,
        actor=actor,
        before=before,
        after=after,
    )
    _publish_on_commit(events.upsert_event(after))
    return FlagUpsertResult(flag=after, created=created)


@transaction.atomic
def flag_patch(*, key: str, data: Any, actor: str, if_match: int | None = None) -> WireFlag:
    """Changes only the provided top-level fields (`rules` is replaced whole); returns the flag."""
    fields = validate_flag_patch(data)
    if "key" in fields and fields["key"] != key:
        raise FlagValidationError({"key": ["A flag's key cannot be changed."]})
    flag = _locked_flag(key)
    if flag is None:
        raise FlagNotFound(key)
    _check_if_match(key=key, if_match=if_match, current=flag.version)
    rules = _ordered_rules(flag)
    before = flag_to_wire(flag, rules)
    for name in ("is_enabled", "rollout_percentage", "description", "client_side"):
        if name in fields:
            setattr(flag, name, fields[name])
    flag.version += 1
    flag.updated_at = timezone.now()
    flag.save()
    if "rules" in fields:
        rules = _write_rules(flag, fields["rules"])
    # Otherwise the rules are the ones just read under the row lock: no second query.
    after = flag_to_wire(flag, rules)
    _record(
        key=key,
        version=flag.version,
        action=ChangeAction.UPDATE,
        actor=actor,
        before=before,
        after=after,
    )
    _publish_on_commit(events.upsert_event(after))
    return after


@transaction.atomic
def flag_delete(*, key: str, actor: str, if_match: int | None = None) -> int:
    """Deletes the flag; returns the DELETE event's version (the flag's version + 1)."""
    flag = _locked_flag(key)
    if flag is None:
        raise FlagNotFound(key)
    _check_if_match(key=key, if_match=if_match, current=flag.version)
    before = _current_wire(flag)
    version = flag.version + 1
    now = timezone.now()
    FlagTombstone.objects.update_or_create(
        key=key, defaults={"version": version, "deleted_at": now}
    )
    flag.delete()
    _record(
        key=key, version=version, action=ChangeAction.DELETE, actor=actor, before=before, after=None
    )
    _publish_on_commit(events.delete_event(key, version))
    return version


def api_key_create(*, name: str, role: Role) -> tuple[ApiKey, str]:
    """Makes a database key; returns it with the raw secret, never stored nor shown again."""
    if role not in ("admin", "server", "client"):
        raise ValueError(f"unknown role {role!r}")
    name = name.strip()
    if not name:
        raise ValueError("an API key needs a name")
    for _ in range(_CREATE_ATTEMPTS):
        raw, prefix = new_secret(role)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = ApiKey.objects.create(name=name, role=role, prefix=prefix, secret_sha256=hash_secret(raw))
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revokes a key at once (its next request gets 401); revoking again keeps the first time."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        key_id = api_key.pk
        transaction.on_commit(lambda: events.publish_key_revoked(key_id))
    return api_key
