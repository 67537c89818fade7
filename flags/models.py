"""Database models of the control plane: flags, their ordered rules, the audit log, API keys."""

from __future__ import annotations

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


class Flag(models.Model):
    key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH, unique=True)
    is_enabled = models.BooleanField(default=False)
    rollout_percentage = models.PositiveSmallIntegerField(null=True, blank=True)
    description = models.TextField(null=True, blank=True)
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
    version = models.PositiveBigIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ("key",)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(key__regex=FLAG_KEY_REGEX), name="flag_key_charset"
            ),
            models.CheckConstraint(
                condition=models.Q(rollout_percentage__isnull=True)
                | models.Q(rollout_percentage__gte=0, rollout_percentage__lte=100),
                name="flag_rollout_0_100_or_null",
            ),
            models.CheckConstraint(
                condition=models.Q(description__isnull=True)
                | models.Q(description__length__lte=DESCRIPTION_MAX_LENGTH),
                name="flag_description_max_length",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="flag_version_positive"
            ),
        )

    def __str__(self) -> str:
        return self.key


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
    """The version a deleted key's DELETE event carried, so a re-created flag continues after it."""

    key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH, unique=True)
    version = models.PositiveBigIntegerField()
    deleted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.key} (deleted at version {self.version})"


class ChangeAction(models.TextChoices):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class ChangeRecord(models.Model):
    """One write to one flag: the audit log (append-only)."""

    flag_key = models.CharField(max_length=FLAG_KEY_MAX_LENGTH, db_index=True)
    version = models.PositiveBigIntegerField()
    action = models.CharField(max_length=8, choices=ChangeAction.choices)
    actor = models.CharField(max_length=200)
    at = models.DateTimeField()
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        indexes = (models.Index(fields=["flag_key", "-id"], name="change_flag_newest"),)

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
