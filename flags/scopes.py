"""Which environment a request, a key or a command addresses.

Environments are named `<project>/<environment>` by their keys. The default one
(SIDEKICK_DEFAULT_ENVIRONMENT, `default/production` unless set) is what the v1 paths address for
keys that reach every environment; it is created on first use when missing, so that a fresh
database, or one a test emptied, serves the v1 paths as before.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from flags.exceptions import ResourceNotFound
from flags.models import Environment, Flag, FlagDefinition, Project

# A fresh project's environments, in order.
STARTER_ENVIRONMENTS = (("development", "Development"), ("production", "Production"))
# The starter environment whose one-click changes in the dashboard ask for a confirmation.
PROTECTED_STARTER_ENVIRONMENT = "production"


def split_path(path: str) -> tuple[str, str]:
    """`"p/e"` -> `("p", "e")`; ValueError when it is not two non-empty parts."""
    project_key, slash, environment_key = path.partition("/")
    if not slash or not project_key or not environment_key or "/" in environment_key:
        raise ValueError(f"{path!r} is not <project>/<environment>")
    return project_key, environment_key


def environment_by_keys(project_key: str, environment_key: str) -> Environment:
    environment = (
        Environment.objects.select_related("project")
        .filter(project__key=project_key, key=environment_key)
        .first()
    )
    if environment is None:
        raise ResourceNotFound(f"No environment {project_key}/{environment_key}.")
    return environment


def environment_by_path(path: str) -> Environment:
    """The environment a `p/e` path names; ResourceNotFound when there is none."""
    try:
        project_key, environment_key = split_path(path)
    except ValueError as error:
        raise ResourceNotFound(str(error)) from error
    return environment_by_keys(project_key, environment_key)


def project_by_key(project_key: str) -> Project:
    project = Project.objects.filter(key=project_key).first()
    if project is None:
        raise ResourceNotFound(f"No project {project_key}.")
    return project


def default_environment() -> Environment:
    """SIDEKICK_DEFAULT_ENVIRONMENT, created (with its project) when it does not exist yet."""
    project_key, environment_key = split_path(settings.SIDEKICK_DEFAULT_ENVIRONMENT)
    try:
        return environment_by_keys(project_key, environment_key)
    except ResourceNotFound:
        pass
    try:
        with transaction.atomic():
            project, created = Project.objects.get_or_create(
                key=project_key, defaults={"name": project_key.capitalize()}
            )
            wanted = dict(STARTER_ENVIRONMENTS) if created else {}
            wanted.setdefault(environment_key, environment_key.capitalize())
            for position, (key, name) in enumerate(wanted.items()):
                if not Environment.objects.filter(project=project, key=key).exists():
                    add_environment(
                        project,
                        key=key,
                        name=name,
                        position=position,
                        protected=created and key == PROTECTED_STARTER_ENVIRONMENT,
                    )
    except IntegrityError:
        pass  # another process created it at the same moment
    return environment_by_keys(project_key, environment_key)


def add_environment(
    project: Project, *, key: str, name: str, position: int, protected: bool = False
) -> Environment:
    """A new environment with every flag of the project off in it (inside the caller's
    transaction; nothing streams from an environment that did not exist)."""
    environment = Environment.objects.create(
        project=project, key=key, name=name, position=position, protected=protected
    )
    now = timezone.now()
    Flag.objects.bulk_create(
        Flag(environment=environment, definition=definition, key=definition.key, updated_at=now)
        for definition in FlagDefinition.objects.filter(project=project).order_by("key")
    )
    return environment
