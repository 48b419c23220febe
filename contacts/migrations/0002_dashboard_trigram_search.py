"""Trigram GIN indexes for the dashboard's free-text contact search (PostgreSQL only).

Django's `icontains` on PostgreSQL compiles to `UPPER("col"::text) LIKE UPPER('%q%')`, so each
index is on that exact expression: the planner then uses it (a bitmap OR of the three) instead
of scanning every contact. SQLite has no pg_trgm; there the migration does nothing.
"""

from django.db import migrations

FIELDS = ("name", "title", "public_id")


def index_name(field: str) -> str:
    return f"contact_{field}_trgm_idx"


def create_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for field in FIELDS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {index_name(field)} ON contacts_contact '
            f'USING gin ((UPPER("{field}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for field in FIELDS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {index_name(field)}")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_indexes, drop_indexes, elidable=False),
    ]
