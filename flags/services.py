"""The one write path: every change to projects, environments, flags and API keys, from REST, the
admin and commands.

A flag write runs in one transaction: validate, lock the rows (the definition when it changes,
then the flag states in environment order, then the environments in id order, so that no two
writers wait on each other in a cycle), check If-Match, write, bump each changed state's version
and its environment's revision, append the change records. Only after the commit are the changes
published (`flags.events.publish_flag_change`), each naming its environment.

A flag's definition (`description`, `client_side`) is shared by the environments of its project:
changing it is a change in every one of them (version + 1, a change record, an UPSERT each).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from flags import events
from flags.api_keys import Role, hash_secret, new_secret
from flags.exceptions import Conflict, FlagNotFound, FlagValidationError, VersionMismatch
from flags.models import (
    ApiKey,
    ChangeAction,
    ChangeRecord,
    Environment,
    Flag,
    FlagDefinition,
    FlagTombstone,
    Project,
    Rule,
)
from flags.scopes import add_environment, default_environment
from flags.validation import DEFINITION_FIELDS, STATE_FIELDS, validate_flag, validate_flag_patch
from flags.wire import WireFlag, flag_to_wire

# A create that loses the race for a new key to a concurrent create retries as a replace.
_CREATE_ATTEMPTS = 3


class FlagUpsertResult(NamedTuple):
    flag: WireFlag
    created: bool


@dataclass(frozen=True, slots=True)
class _Change:
    """One change of one flag in one environment, before its revision is known."""

    environment_id: int
    key: str
    version: int
    action: str
    before: WireFlag | None
    after: WireFlag | None

    @property
    def event(self) -> events.ChangeEvent:
        if self.after is None:
            return events.delete_event(self.key, self.version)
        return events.upsert_event(self.after)


def _bump_revisions(counts: dict[int, int]) -> dict[int, int]:
    """Adds `counts[id]` to each environment's revision (rows locked in id order, one UPDATE
    each); returns each environment's new revision."""
    table = connection.ops.quote_name(Environment._meta.db_table)
    revisions: dict[int, int] = {}
    with connection.cursor() as cursor:
        for environment_id in sorted(counts):
            cursor.execute(
                f"UPDATE {table} SET revision = revision + %s WHERE id = %s RETURNING revision",
                [counts[environment_id], environment_id],
            )
            row = cursor.fetchone()
            if row is None:
                raise FlagNotFound("(environment deleted)")
            revisions[environment_id] = int(row[0])
    return revisions


def _commit_changes(changes: Sequence[_Change], *, actor: str) -> None:
    """Bumps the revisions, appends the change records and publishes the events on commit."""
    if not changes:
        return
    counts: dict[int, int] = {}
    for change in changes:
        counts[change.environment_id] = counts.get(change.environment_id, 0) + 1
    if connection.vendor == "postgresql":
        # The foreign-key checks Django defers to COMMIT lock the referenced rows there; run
        # them now, before the environment rows are locked, so that no transaction waits for a
        # key check while holding an environment (two such waits deadlocked under load).
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    newest = _bump_revisions(counts)
    # The first change of an environment in this transaction takes the lowest new revision.
    next_revision = {env: newest[env] - counts[env] + 1 for env in counts}
    now = timezone.now()
    records = []
    for change in changes:
        revision = next_revision[change.environment_id]
        next_revision[change.environment_id] += 1
        records.append(
            ChangeRecord(
                environment_id=change.environment_id,
                flag_key=change.key,
                version=change.version,
                revision=revision,
                action=change.action,
                actor=actor,
                at=now,
                before=change.before,
                after=change.after,
            )
        )
    ChangeRecord.objects.bulk_create(records)
    published = [
        (change.environment_id, record.revision, change.event)
        for change, record in zip(changes, records, strict=True)
    ]

    def publish() -> None:
        for environment_id, revision, event in published:
            events.publish_flag_change(event, environment_id=environment_id, revision=revision)

    transaction.on_commit(publish)


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


def _ordered_rules(flag: Flag) -> list[Rule]:
    return list(flag.rules.order_by("position"))


def _locked_definition(project_id: int, key: str) -> FlagDefinition | None:
    return FlagDefinition.objects.select_for_update().filter(project_id=project_id, key=key).first()


def _locked_state(environment: Environment, key: str) -> Flag | None:
    """The flag's state, locked. Its definition is read by a later query on purpose: one joined
    here would be the version from before any wait for the lock (PostgreSQL rechecks only the
    locked row), and a definition writer that held the lock may just have changed it."""
    return (
        Flag.objects.select_for_update(of=("self",))
        .filter(environment=environment, key=key)
        .first()
    )


def _locked_states(definition: FlagDefinition) -> list[Flag]:
    """Every environment's state of a definition, locked in environment order."""
    states = list(
        Flag.objects.select_for_update(of=("self",))
        .filter(definition=definition)
        .order_by("environment_id")
    )
    for state in states:
        state.definition = definition
    return states


def _resolve(environment: Environment | None) -> Environment:
    return environment if environment is not None else default_environment()


# Flags ---------------------------------------------------------------------------------------


def flag_upsert(
    *,
    data: Any,
    actor: str,
    key: str | None = None,
    if_match: int | None = None,
    environment: Environment | None = None,
) -> FlagUpsertResult:
    """Creates the flag or replaces its state in `environment` whole (fields left out take their
    defaults; a definition field that changes changes it in every environment).

    `key` (from a URL) must agree with `data["key"]` when both are given. `if_match` is the
    version the caller expects in `environment`; a stale one raises VersionMismatch and changes
    nothing. A new key creates the definition and its state in every environment (off in the
    others).
    """
    if key is not None and isinstance(data, dict) and "key" not in data:
        data = {**data, "key": key}
    fields = validate_flag(data)
    if key is not None and fields["key"] != key:
        raise FlagValidationError({"key": ["Does not match the key in the URL."]})
    target = _resolve(environment)
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            return _upsert_once(fields=fields, actor=actor, if_match=if_match, environment=target)
        except IntegrityError:
            # Another transaction created the key between our lookup and our insert.
            if attempt == _CREATE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _split(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return (
        {name: fields[name] for name in STATE_FIELDS if name in fields},
        {name: fields[name] for name in DEFINITION_FIELDS if name in fields},
    )


@transaction.atomic
def _upsert_once(
    *, fields: dict[str, Any], actor: str, if_match: int | None, environment: Environment
) -> FlagUpsertResult:
    key = fields["key"]
    state_fields, definition_fields = _split(fields)
    definition = _locked_definition(environment.project_id, key)
    if definition is None:
        _check_if_match(key=key, if_match=if_match, current=None)
        after = _create_flag(
            environment=environment,
            key=key,
            state_fields=state_fields,
            definition_fields=definition_fields,
            actor=actor,
        )
        return FlagUpsertResult(flag=after, created=True)
    after = _update_flag(
        environment=environment,
        key=key,
        definition=definition,
        state_fields=state_fields,
        definition_fields=definition_fields,
        if_match=if_match,
        actor=actor,
    )
    return FlagUpsertResult(flag=after, created=False)


def _create_flag(
    *,
    environment: Environment,
    key: str,
    state_fields: dict[str, Any],
    definition_fields: dict[str, Any],
    actor: str,
) -> WireFlag:
    """A new definition and its state in every environment of the project (off in the others);
    a key deleted before continues after its tombstone's version in each environment."""
    definition = FlagDefinition.objects.create(
        project_id=environment.project_id, key=key, **definition_fields
    )
    environment_ids = list(
        Environment.objects.filter(project_id=environment.project_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    tombstones = {
        tombstone.environment_id: tombstone.version
        for tombstone in FlagTombstone.objects.select_for_update().filter(
            environment_id__in=environment_ids, key=key
        )
    }
    FlagTombstone.objects.filter(environment_id__in=environment_ids, key=key).delete()
    now = timezone.now()
    changes: list[_Change] = []
    target_after: WireFlag | None = None
    for environment_id in environment_ids:
        is_target = environment_id == environment.pk
        flag = Flag(
            environment_id=environment_id,
            definition=definition,
            key=key,
            version=tombstones.get(environment_id, 0) + 1,
            updated_at=now,
        )
        if is_target:
            flag.is_enabled = state_fields.get("is_enabled", False)
            flag.rollout_percentage = state_fields.get("rollout_percentage")
        flag.save()
        rules = _write_rules(flag, state_fields.get("rules", [])) if is_target else []
        after = flag_to_wire(flag, rules)
        if is_target:
            target_after = after
        changes.append(_Change(environment_id, key, flag.version, ChangeAction.CREATE, None, after))
    _commit_changes(changes, actor=actor)
    assert target_after is not None
    return target_after


def _update_flag(
    *,
    environment: Environment,
    key: str,
    definition: FlagDefinition | None,
    state_fields: dict[str, Any],
    definition_fields: dict[str, Any],
    if_match: int | None,
    actor: str,
) -> WireFlag:
    """Changes the state in `environment` and, when a definition field differs, the definition
    (then every environment's state gets a new version). `definition` is locked by the caller
    when `definition_fields` is not empty."""
    flag = _locked_state(environment, key)
    if flag is None:
        raise FlagNotFound(key)
    _check_if_match(key=key, if_match=if_match, current=flag.version)
    if definition is not None:
        flag.definition = definition
    changed_definition = {
        name: value
        for name, value in definition_fields.items()
        if getattr(flag.definition, name) != value
    }
    if changed_definition:
        assert definition is not None
        states = _locked_states(definition)
    else:
        states = [flag]
    befores = {state.pk: flag_to_wire(state, _ordered_rules(state)) for state in states}
    if changed_definition:
        for name, value in changed_definition.items():
            setattr(flag.definition, name, value)
        flag.definition.save(update_fields=list(changed_definition))
    now = timezone.now()
    changes: list[_Change] = []
    target_after: WireFlag | None = None
    for state in states:
        is_target = state.pk == flag.pk
        if is_target:
            state = flag
            for name in ("is_enabled", "rollout_percentage"):
                if name in state_fields:
                    setattr(state, name, state_fields[name])
        state.version += 1
        state.updated_at = now
        state.save(update_fields=["is_enabled", "rollout_percentage", "version", "updated_at"])
        if is_target and "rules" in state_fields:
            rules = _write_rules(state, state_fields["rules"])
            after = flag_to_wire(state, rules)
        else:
            # The rules are the ones just read under the row lock: the wire before holds them.
            after = {**befores[state.pk], **_state_head(state)}
        if is_target:
            target_after = after
        changes.append(
            _Change(
                state.environment_id,
                key,
                state.version,
                ChangeAction.UPDATE,
                befores[state.pk],
                after,
            )
        )
    _commit_changes(changes, actor=actor)
    assert target_after is not None
    return target_after


def _state_head(flag: Flag) -> WireFlag:
    """The wire fields of a flag other than its rules (the rules did not change)."""
    wire = flag_to_wire(flag, [])
    del wire["rules"]
    return wire


@transaction.atomic
def flag_patch(
    *,
    key: str,
    data: Any,
    actor: str,
    if_match: int | None = None,
    environment: Environment | None = None,
) -> WireFlag:
    """Changes only the provided top-level fields (`rules` is replaced whole); returns the flag
    as it is now in `environment`."""
    fields = validate_flag_patch(data)
    if "key" in fields and fields["key"] != key:
        raise FlagValidationError({"key": ["A flag's key cannot be changed."]})
    target = _resolve(environment)
    state_fields, definition_fields = _split(fields)
    definition = None
    if definition_fields:
        # Locked before the state, as every definition writer does.
        definition = _locked_definition(target.project_id, key)
        if definition is None:
            raise FlagNotFound(key)
    return _update_flag(
        environment=target,
        key=key,
        definition=definition,
        state_fields=state_fields,
        definition_fields=definition_fields,
        if_match=if_match,
        actor=actor,
    )


@transaction.atomic
def flag_delete(
    *,
    key: str,
    actor: str,
    if_match: int | None = None,
    environment: Environment | None = None,
) -> int:
    """Deletes the flag's definition, so its state in every environment of the project; returns
    the DELETE event's version in `environment` (its version there + 1). If-Match names the
    version in `environment`."""
    target = _resolve(environment)
    definition = _locked_definition(target.project_id, key)
    if definition is None:
        raise FlagNotFound(key)
    states = _locked_states(definition)
    current = next((state.version for state in states if state.environment_id == target.pk), None)
    if current is None:
        raise FlagNotFound(key)
    _check_if_match(key=key, if_match=if_match, current=current)
    now = timezone.now()
    changes: list[_Change] = []
    for state in states:
        version = state.version + 1
        FlagTombstone.objects.update_or_create(
            environment_id=state.environment_id,
            key=key,
            defaults={"version": version, "deleted_at": now},
        )
        before = flag_to_wire(state, _ordered_rules(state))
        changes.append(
            _Change(state.environment_id, key, version, ChangeAction.DELETE, before, None)
        )
    definition.delete()
    _commit_changes(changes, actor=actor)
    return current + 1


# Copy between environments -------------------------------------------------------------------

COPYABLE_FIELDS = ("is_enabled", "rollout_percentage", "rules")


class FieldChange(NamedTuple):
    path: str
    before: Any
    after: Any


class FlagCopyResult(NamedTuple):
    key: str
    changes: list[FieldChange]
    flag: WireFlag  # the target's flag: as it is now, or as it would be after a dry run


def _field_changes(before: WireFlag, after: WireFlag, fields: Iterable[str]) -> list[FieldChange]:
    """Every changed field path: top-level fields, and `rules[i]` for each rule that differs."""
    changes: list[FieldChange] = []
    for name in fields:
        if name == "rules":
            old, new = before["rules"], after["rules"]
            for index in range(max(len(old), len(new))):
                was = old[index] if index < len(old) else None
                now = new[index] if index < len(new) else None
                if was != now:
                    changes.append(FieldChange(f"rules[{index}]", was, now))
        elif before[name] != after[name]:
            changes.append(FieldChange(name, before[name], after[name]))
    return changes


def _copy_fields(value: Any) -> list[str]:
    if value is None:
        return list(COPYABLE_FIELDS)
    if not isinstance(value, list) or not value:
        raise FlagValidationError({"fields": ["Must be a non-empty list of field names."]})
    errors = {
        f"fields[{index}]": [f"Must be one of {', '.join(COPYABLE_FIELDS)}."]
        for index, name in enumerate(value)
        if name not in COPYABLE_FIELDS
    }
    if errors:
        raise FlagValidationError(errors, detail="Invalid copy request.")
    return [name for name in COPYABLE_FIELDS if name in value]


def _copy_states(
    *,
    project: Project,
    keys: list[str] | None,
    source: Environment,
    target: Environment,
    fields: list[str],
    dry_run: bool,
    actor: str,
    if_match: int | None = None,
) -> list[FlagCopyResult]:
    """Copies state fields of `keys` (None: every flag) from `source` to `target`, in the
    caller's transaction; all or nothing."""
    if source.pk == target.pk:
        raise FlagValidationError({"to": ["Must differ from `from`."]}, detail="Invalid copy.")
    targets = Flag.objects.select_for_update(of=("self",)).select_related("definition")
    targets = targets.filter(environment=target).order_by("key")
    sources = Flag.objects.select_related("definition").filter(environment=source)
    if keys is not None:
        targets = targets.filter(key__in=keys)
        sources = sources.filter(key__in=keys)
    target_states = {flag.key: flag for flag in targets.prefetch_related("rules")}
    source_states = {flag.key: flag for flag in sources.prefetch_related("rules")}
    if keys is not None:
        errors = {
            f"flags[{index}]": ["No such flag in this project."]
            for index, key in enumerate(keys)
            if key not in target_states or key not in source_states
        }
        if errors:
            raise FlagNotFound(keys[0]) if len(keys) == 1 else FlagValidationError(errors)
    if if_match is not None and keys is not None and len(keys) == 1:
        _check_if_match(key=keys[0], if_match=if_match, current=target_states[keys[0]].version)
    results: list[FlagCopyResult] = []
    changes: list[_Change] = []
    now = timezone.now()
    for key in sorted(set(target_states) & set(source_states)):
        flag = target_states[key]
        before = flag_to_wire(flag, sorted(flag.rules.all(), key=lambda rule: rule.position))
        origin = source_states[key]
        origin_wire = flag_to_wire(origin, sorted(origin.rules.all(), key=lambda r: r.position))
        proposed = {**before, **{name: origin_wire[name] for name in fields}}
        field_changes = _field_changes(before, proposed, fields)
        if not field_changes:
            results.append(FlagCopyResult(key, [], before))
            continue
        if dry_run:
            results.append(FlagCopyResult(key, field_changes, proposed))
            continue
        flag.is_enabled = proposed["is_enabled"]
        flag.rollout_percentage = proposed["rollout_percentage"]
        flag.version += 1
        flag.updated_at = now
        flag.save(update_fields=["is_enabled", "rollout_percentage", "version", "updated_at"])
        rules = (
            _write_rules(flag, [dict(rule) for rule in proposed["rules"]])
            if "rules" in fields
            else sorted(flag.rules.all(), key=lambda rule: rule.position)
        )
        after = flag_to_wire(flag, rules)
        changes.append(_Change(target.pk, key, flag.version, ChangeAction.UPDATE, before, after))
        results.append(FlagCopyResult(key, field_changes, after))
    _commit_changes(changes, actor=actor)
    return results


@transaction.atomic
def flag_copy(
    *,
    project: Project,
    key: str,
    source: Environment,
    target: Environment,
    fields: Any = None,
    dry_run: bool = False,
    if_match: int | None = None,
    actor: str,
) -> FlagCopyResult:
    """Copies one flag's state fields (all of them unless `fields` names some) from `source` to
    `target`; If-Match, when given, names the target's version."""
    (result,) = _copy_states(
        project=project,
        keys=[key],
        source=source,
        target=target,
        fields=_copy_fields(fields),
        dry_run=dry_run,
        actor=actor,
        if_match=if_match,
    )
    return result


@transaction.atomic
def environment_copy(
    *,
    project: Project,
    source: Environment,
    target: Environment,
    flags: Any,
    dry_run: bool = False,
    actor: str,
) -> list[FlagCopyResult]:
    """Copies the state of many flags (`"all"` or a list of keys) from `source` to `target`:
    every one or, on any error, none."""
    if flags == "all":
        keys = None
    elif isinstance(flags, list) and flags and all(isinstance(key, str) for key in flags):
        keys = list(dict.fromkeys(flags))
    else:
        raise FlagValidationError(
            {"flags": ['Must be "all" or a non-empty list of flag keys.']},
            detail="Invalid copy request.",
        )
    return _copy_states(
        project=project,
        keys=keys,
        source=source,
        target=target,
        fields=list(COPYABLE_FIELDS),
        dry_run=dry_run,
        actor=actor,
    )


# Projects and environments -------------------------------------------------------------------


@transaction.atomic
def project_create(*, key: str, name: str) -> Project:
    """A project with the starter environments (`development`, `production`)."""
    project = Project.objects.create(key=key, name=name)
    for position, (environment_key, environment_name) in enumerate(
        (("development", "Development"), ("production", "Production"))
    ):
        add_environment(project, key=environment_key, name=environment_name, position=position)
    return project


def project_update(*, project: Project, name: str) -> Project:
    project.name = name
    project.save(update_fields=["name"])
    return project


def _bound_keys(environments: Iterable[Environment]) -> list[ApiKey]:
    return list(ApiKey.objects.filter(environment__in=list(environments), revoked_at__isnull=True))


def _refuse_or_revoke(keys: list[ApiKey], *, force: bool, what: str) -> None:
    if keys and not force:
        raise Conflict(
            f"{len(keys)} active API key(s) are bound to {what}; revoke them first, or delete "
            "with ?force=true to revoke them and close their streams.",
            {"api_keys": [f"{key.prefix}… ({key.name})" for key in keys]},
        )
    for key in keys:
        api_key_revoke(api_key=key)


@transaction.atomic
def project_delete(*, project: Project, force: bool = False) -> None:
    """Deletes a project, its environments and flags; 409 while keys are bound to it."""
    _refuse_or_revoke(
        _bound_keys(project.environments.all()), force=force, what=f"project {project.key}"
    )
    environment_ids = list(project.environments.values_list("pk", flat=True))
    project.delete()

    def publish() -> None:
        for environment_id in environment_ids:
            events.publish_environment_deleted(environment_id)

    transaction.on_commit(publish)


@transaction.atomic
def environment_create(
    *,
    project: Project,
    key: str,
    name: str,
    position: int | None = None,
    protected: bool = False,
) -> Environment:
    """A new environment, last unless `position` is given, with every flag off in it."""
    if position is None:
        last = project.environments.order_by("-position").values_list("position", flat=True)
        position = (last.first() or 0) + 1 if last.exists() else 0
    return add_environment(project, key=key, name=name, position=position, protected=protected)


def environment_update(
    *,
    environment: Environment,
    name: str | None = None,
    position: int | None = None,
    protected: bool | None = None,
) -> Environment:
    update_fields = []
    if protected is not None:
        environment.protected = protected
        update_fields.append("protected")
    if name is not None:
        environment.name = name
        update_fields.append("name")
    if position is not None:
        environment.position = position
        update_fields.append("position")
    if update_fields:
        environment.save(update_fields=update_fields)
    return environment


@transaction.atomic
def environment_delete(*, environment: Environment, force: bool = False) -> None:
    """Deletes an environment with its flag states and history; 409 while keys are bound."""
    _refuse_or_revoke(_bound_keys([environment]), force=force, what=f"{environment.path}")
    environment_id = environment.pk
    environment.delete()
    transaction.on_commit(lambda: events.publish_environment_deleted(environment_id))


# API keys ------------------------------------------------------------------------------------


def api_key_create(
    *, name: str, role: Role, environment: Environment | None = None
) -> tuple[ApiKey, str]:
    """Makes a database key; returns it with the raw secret, never stored nor shown again.

    Server and client keys are bound to `environment` (default: SIDEKICK_DEFAULT_ENVIRONMENT);
    admin keys reach every environment and take none.
    """
    if role not in ("admin", "server", "client"):
        raise ValueError(f"unknown role {role!r}")
    name = name.strip()
    if not name:
        raise ValueError("an API key needs a name")
    if role == "admin":
        if environment is not None:
            raise ValueError("admin keys reach every environment; they are bound to none")
    elif environment is None:
        environment = default_environment()
    for _ in range(_CREATE_ATTEMPTS):
        raw, prefix = new_secret(role)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    key = ApiKey.objects.create(
        name=name,
        role=role,
        prefix=prefix,
        secret_sha256=hash_secret(raw),
        environment=environment,
    )
    return key, raw


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revokes a key at once (its next request gets 401); revoking again keeps the first time."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        key_id = api_key.pk
        transaction.on_commit(lambda: events.publish_key_revoked(key_id))
    return api_key
