"""What a person changes in the mock CCE's configuration through the Django admin, as old → new per field.

`AuditedAdmin` is the base of the configuration's admins: its hooks (`save_model` with `log_addition` /
`log_change`, `delete_model`, `delete_queryset`) and `audited_update` for the bulk actions hand one
`ConfigChange` per object to the recorders registered when the app is ready (the audit log of
contacts.workflows registers its own; this package never imports it). Only the admin's hooks record: a
worker's or a migration's ORM write is no person's change and leaves no entry. The recorders run in the
admin's transaction, so a change and its record commit together.

Each change names its target by a key (`mrd:5001`, `selector:Sales`, `script:3`, `agent:7`, `cce`; the
numbers are primary keys), by which a contact's timeline finds the changes to its MRD, selector, script
and the CCE settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from contacts.core.admin import ReturnsToNext

from .models import Agent, CceSettings, DialedNumber, MediaRoutingDomain, RoutingScript

CREATED, CHANGED, DELETED = "created", "changed", "deleted"
CCE_KEY = "cce"


def mrd_key(mrd_id: int) -> str:
    return f"mrd:{mrd_id}"


def selector_key(selector: str) -> str:
    return f"selector:{selector}"


def script_key(script_id: int) -> str:
    return f"script:{script_id}"


# model -> (its key, how a person reads it); one place, so the admin and the timeline agree on both.
TARGETS: dict[type[models.Model], tuple[Callable[[Any], str], Callable[[Any], str]]] = {
    MediaRoutingDomain: (lambda mrd: mrd_key(mrd.pk), str),
    DialedNumber: (lambda dialed: selector_key(dialed.string), lambda dialed: f"script selector {dialed.string}"),
    RoutingScript: (lambda script: script_key(script.pk), lambda script: f"routing script {script.name}"),
    Agent: (lambda agent: f"agent:{agent.pk}", lambda agent: f"agent {agent}"),
    CceSettings: (lambda cce: CCE_KEY, str),
}


@dataclass(frozen=True)
class ConfigChange:
    """One object created, changed or deleted by a person: `changes` maps verbose field names to [old, new]
    (None on the side that does not exist), with related objects and choices as the text a person saw."""

    verb: str
    key: str
    target: str
    user: Any
    changes: dict[str, list] = field(default_factory=dict)


Recorder = Callable[[ConfigChange], None]
_recorders: list[Recorder] = []


def register_recorder(recorder: Recorder) -> None:
    """Call `recorder(change)` for every configuration change a person makes (idempotent per recorder)."""
    if recorder not in _recorders:
        _recorders.append(recorder)


def record(change: ConfigChange) -> None:
    # An audit log that silently records nothing is worse than an admin that refuses to save.
    if not _recorders:
        raise ImproperlyConfigured("no recorder of configuration changes is registered (contacts.apps does it)")
    for recorder in _recorders:
        recorder(change)


# --- field values --------------------------------------------------------------------------------------


def audited_fields(model: type[models.Model]) -> list[models.Field]:
    """The fields a person edits: every concrete, editable one (an automatic primary key is not)."""
    return [f for f in model._meta.concrete_fields if f.editable and not isinstance(f, models.AutoField)]


def raw_values(obj: models.Model) -> dict[str, Any]:
    """The stored value of each audited field (a foreign key's id, a choice's value)."""
    return {f.attname: getattr(obj, f.attname) for f in audited_fields(type(obj))}


def shown(f: models.Field, value: Any) -> Any:
    """A stored value as the admin shows it, JSON-safe: a related object's text, a choice's label."""
    if value is None or isinstance(value, bool):
        return value
    if f.is_relation:
        related = f.related_model._default_manager.filter(pk=value).first()
        # Read after its field's name: "MRD" then "5000 Chat", not "MRD" then "MRD 5000 Chat".
        return str(related).removeprefix(f"{f.verbose_name} ") if related is not None else str(value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    return value if isinstance(value, (int, float, str)) else str(value)


def diff(model: type[models.Model], before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """{verbose name: [old, new]} for each audited field whose stored value differs."""
    return {
        str(f.verbose_name): [shown(f, before[f.attname]), shown(f, after[f.attname])]
        for f in audited_fields(model)
        if before[f.attname] != after[f.attname]
    }


def every_value(obj: models.Model, *, created: bool) -> dict[str, list]:
    """Every audited field of a created ([None, value]) or deleted ([value, None]) object."""
    values = {str(f.verbose_name): shown(f, getattr(obj, f.attname)) for f in audited_fields(type(obj))}
    return {name: [None, value] if created else [value, None] for name, value in values.items()}


def change_of(verb: str, obj: models.Model, user, changes: dict[str, list]) -> ConfigChange:
    key, describe = TARGETS[type(obj)]
    return ConfigChange(verb=verb, key=key(obj), target=describe(obj), user=user, changes=changes)


# --- the admin's hooks ---------------------------------------------------------------------------------


class AuditedAdmin(ReturnsToNext):
    """A configuration admin whose adds, changes (the change form and list_editable alike), deletes and
    bulk updates are recorded. A change compares the row as loaded before the save with the object once
    the whole of the admin's `save_model` is done, so what a subclass sets after the form (the CCE
    settings' connection) is recorded as it ends up, and a field the form sent unchanged is not."""

    def save_model(self, request: HttpRequest, obj: models.Model, form, change: bool) -> None:
        if change:
            loaded = type(obj)._default_manager.filter(pk=obj.pk).first()
            # Read back by log_change, which Django calls on this same object once the save is complete.
            obj._audit_before = raw_values(loaded) if loaded is not None else None
        super().save_model(request, obj, form, change)

    def log_addition(self, request: HttpRequest, obj: models.Model, message):
        record(change_of(CREATED, obj, request.user, every_value(obj, created=True)))
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: models.Model, message):
        before = getattr(obj, "_audit_before", None)
        if before:
            changes = diff(type(obj), before, raw_values(obj))
            if changes:  # a form saved without a change is no change
                record(change_of(CHANGED, obj, request.user, changes))
        return super().log_change(request, obj, message)

    def delete_model(self, request: HttpRequest, obj: models.Model) -> None:
        # delete_view runs in a transaction: the record and the delete commit together.
        record(change_of(DELETED, obj, request.user, every_value(obj, created=False)))
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        # The "delete selected" action has no transaction of its own.
        with transaction.atomic():
            for obj in queryset:
                record(change_of(DELETED, obj, request.user, every_value(obj, created=False)))
            super().delete_queryset(request, queryset)

    def audited_update(self, request: HttpRequest, queryset: QuerySet, **values) -> int:
        """`queryset.update(**values)` for a bulk action, recording each object it changes; returns how many
        rows the update matched (as `update` does)."""
        with transaction.atomic():
            for obj in queryset.exclude(**values):
                after = {**raw_values(obj), **{queryset.model._meta.get_field(k).attname: v for k, v in values.items()}}
                record(change_of(CHANGED, obj, request.user, diff(type(obj), raw_values(obj), after)))
            return queryset.update(**values)

    def record_change(self, request: HttpRequest, obj: models.Model, before: dict[str, Any]) -> None:
        """Record a change made outside the form (an action that sets a field through a domain call)."""
        changes = diff(type(obj), before, raw_values(obj))
        if changes:
            record(change_of(CHANGED, obj, request.user, changes))
