"""Database models of the control plane: projects and their environments, flag definitions (per
project) and flag states (per environment) with their ordered rules, the audit log, API keys."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models.functions import Length

# A flag key: 1-100 chars of A-Z a-z 0-9 _ - . starting with a letter or digit. \A and \Z (not ^ and
# $) because Python's `$` also matches before a trailing newline; both Python's re (SQLite's REGEXP)
# and PostgreSQL's regex flavour understand \A and \Z.
FLAG_KEY_REGEX = r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z"
FLAG_KEY_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000
ATTRIBUTE_MAX_LENGTH = 100
MAX_RULES = 100
MAX_VALUES_PER_RULE = 10_000

# `description__length` in a constraint below: LENGTH() counts code points in SQLite and PostgreSQL.
models.TextField.register_lookup(Length)


class Operator(models.TextChoices):
    EQUALS = "Equals"
    NOT_EQUALS = "NotEquals"
    CONTAINS = "Contains"
    STARTS_WITH = "StartsWith"
    ENDS_WITH = "EndsWith"


KEY_CHARSET_CONDITION = models.Q(key__regex=FLAG_KEY_REGEX)
NAME_MAX_LENGTH = 200


class FlagType(models.TextChoices):
    # Only boolean flags exist so far; the field is here so that typed flags extend it.
    BOOLEAN = "boolean"


def new_epoch() -> str:
    """A random name for one incarnation of an environment (a re-created one gets another)."""
    return secrets.token_hex(8)


class Project(models.Model):
    """Holds flag definitions and an ordered list of environments."""

    key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH, unique=True)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("key",)
        constraints = (
            models.CheckConstraint(condition=KEY_CHARSET_CONDITION, name="project_key_charset"),
        )

    def __str__(self) -> str:
        return self.key


class Environment(models.Model):
    """One environment of a project: its own state of every flag, and its own revision.

    `revision` goes up by one in the transaction of every committed change visible here (a
    state change, a definition change, a delete): a reader that has seen revision R has seen
    everything up to it. `epoch` names this incarnation, so that a revision of a deleted and
    re-created environment is never taken for one of the old.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    position = models.PositiveIntegerField(default=0)
    revision = models.PositiveBigIntegerField(default=0)
    epoch = models.CharField(max_length=32, default=new_epoch)
    # The dashboard asks for a confirmation before a one-click change here (production, say).
    protected = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("project", "position", "id")
        constraints = (
            models.UniqueConstraint(fields=["project", "key"], name="environment_unique_key"),
            models.CheckConstraint(condition=KEY_CHARSET_CONDITION, name="environment_key_charset"),
            models.CheckConstraint(
                condition=models.Q(revision__gte=0), name="environment_revision_not_negative"
            ),
        )

    def __str__(self) -> str:
        return self.path

    @property
    def path(self) -> str:
        """`<project>/<environment>`, as keys, settings and `?environment=` name it."""
        return f"{self.project.key}/{self.key}"


class FlagDefinition(models.Model):
    """What a flag is, shared by every environment of its project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="definitions")
    key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH)
    description = models.TextField(null=True, blank=True)
    type = models.CharField(max_length=16, choices=FlagType.choices, default=FlagType.BOOLEAN)
    # The attribute whose value replaces the user key in this flag's hashes (not evaluated yet).
    bucket_by = models.CharField(max_length=ATTRIBUTE_MAX_LENGTH, null=True, blank=True)
    # Whether client keys (public, in web pages) see the flag, rules included. New flags are
    # private; the database default also covers rows inserted by a process that predates it.
    client_side = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Client keys (browsers, mobile apps) see this flag, and anyone holding such a key "
            "can read its rules. Keep private targeting on flags that are not client-side."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("project", "key")
        constraints = (
            models.UniqueConstraint(fields=["project", "key"], name="definition_unique_key"),
            models.CheckConstraint(condition=KEY_CHARSET_CONDITION, name="definition_key_charset"),
            models.CheckConstraint(
                condition=models.Q(description__isnull=True)
                | models.Q(description__length__lte=DESCRIPTION_MAX_LENGTH),
                name="definition_description_max_length",
            ),
            models.CheckConstraint(
                condition=models.Q(type__in=FlagType.values), name="definition_type_known"
            ),
        )

    def __str__(self) -> str:
        return f"{self.project.key}:{self.key}"


class Flag(models.Model):
    """A flag's state in one environment. `key` repeats the definition's (a key never changes)
    so that the hot reads and the unique constraint need no join."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="flags")
    definition = models.ForeignKey(FlagDefinition, on_delete=models.CASCADE, related_name="states")
    key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH)
    is_enabled = models.BooleanField(default=False)
    rollout_percentage = models.PositiveSmallIntegerField(null=True, blank=True)
    version = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ("environment", "key")
        constraints = (
            models.UniqueConstraint(fields=["environment", "key"], name="flag_unique_key"),
            models.UniqueConstraint(
                fields=["environment", "definition"], name="flag_one_state_per_environment"
            ),
            models.CheckConstraint(condition=KEY_CHARSET_CONDITION, name="flag_key_charset"),
            models.CheckConstraint(
                condition=models.Q(rollout_percentage__isnull=True)
                | models.Q(rollout_percentage__gte=0, rollout_percentage__lte=100),
                name="flag_rollout_0_100_or_null",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="flag_version_positive"
            ),
        )

    def __str__(self) -> str:
        return self.key

    @property
    def description(self) -> str | None:
        return self.definition.description

    @property
    def client_side(self) -> bool:
        return self.definition.client_side


class Rule(models.Model):
    flag = models.ForeignKey(Flag, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField()
    attribute = models.CharField(max_length=ATTRIBUTE_MAX_LENGTH)
    operator = models.CharField(max_length=16, choices=Operator.choices)
    values = models.JSONField(default=list)

    class Meta:
        ordering = ("flag", "position")
        constraints = (
            models.UniqueConstraint(fields=["flag", "position"], name="rule_unique_position"),
            models.CheckConstraint(
                condition=models.Q(operator__in=Operator.values), name="rule_operator_known"
            ),
            models.CheckConstraint(
                condition=~models.Q(attribute=""), name="rule_attribute_not_empty"
            ),
        )

    def __str__(self) -> str:
        return f"{self.attribute} {self.operator} {len(self.values)} value(s)"


class FlagTombstone(models.Model):
    """The version a deleted key's DELETE event carried in one environment, so that a re-created
    flag continues after it there."""

    environment = models.ForeignKey(
        Environment, on_delete=models.CASCADE, related_name="tombstones"
    )
    key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH)
    version = models.PositiveBigIntegerField()
    deleted_at = models.DateTimeField()

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["environment", "key"], name="tombstone_unique_key"),
        )

    def __str__(self) -> str:
        return f"{self.key} (deleted at version {self.version})"


class ChangeAction(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ChangeRecord(models.Model):
    """One write to one flag in one environment: the audit log (append-only)."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE, related_name="changes")
    flag_key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH, db_index=True)
    version = models.PositiveBigIntegerField()
    # The environment's revision this change brought it to.
    revision = models.PositiveBigIntegerField(default=0)
    action = models.CharField(max_length=8, choices=ChangeAction.choices)
    actor = models.CharField(max_length=200)
    at = models.DateTimeField()
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = (
            models.Index(fields=["flag_key", "-id"], name="change_flag_newest"),
            models.Index(fields=["environment", "flag_key", "-id"], name="change_env_flag_newest"),
        )

    def __str__(self) -> str:
        return f"{self.flag_key} v{self.version} {self.action} by {self.actor}"


class ApiKeyRole(models.TextChoices):
    ADMIN = "admin"
    SERVER = "server"
    CLIENT = "client"


class ApiKey(models.Model):
    """A database API key; only the SHA-256 of its secret is stored, the secret is shown once."""

    name = models.CharField(max_length=100)
    role = models.CharField(max_length=8, choices=ApiKeyRole.choices)
    # The one environment a server or client key reaches; admin keys reach every one (null).
    # Deleting the environment with ?force=true revokes its keys, which then keep a null here.
    environment = models.ForeignKey(
        Environment, on_delete=models.SET_NULL, null=True, blank=True, related_name="api_keys"
    )
    prefix = models.CharField(max_length=32, unique=True)
    secret_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "API key"
        constraints = (
            models.CheckConstraint(
                condition=models.Q(role__in=ApiKeyRole.values), name="api_key_role_known"
            ),
            models.CheckConstraint(
                condition=models.Q(role=ApiKeyRole.ADMIN, environment__isnull=True)
                | (~models.Q(role=ApiKeyRole.ADMIN) & models.Q(environment__isnull=False))
                | models.Q(revoked_at__isnull=False),
                name="api_key_environment_by_role",
            ),
        )

    def __str__(self) -> str:
        return f"{self.name} ({self.role}, {self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class DeploymentIdentity(models.Model):
    """This deployment's name on a shared channel layer and the secret its relay signs with.

    One row, made by the migration that creates the table (`0003_deployment_identity`): every
    process on this database reads the same row, so instances of one deployment share it
    without configuration, and another deployment (another database) never has the same one.
    """

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID)
    deployment_id = models.CharField(max_length=64, unique=True)
    relay_secret = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            models.CheckConstraint(condition=models.Q(id=1), name="deployment_identity_single_row"),
        )

    def __str__(self) -> str:
        return f"deployment {self.deployment_id}"
