"""The import's parsing is pure: it reads and checks a file with no database at all."""

import ast
from pathlib import Path

from apps.crm.imports import parsing
from apps.crm.imports.parsing import RowRules

RULES = RowRules(
    fields={"city": "City"},
    clean_tag=lambda name: name.strip(),
    email_max=254,
    first_name_max=255,
    value_max=10,
)


def test_lines_are_checked_without_a_database():
    # given: a file with a good line, a bad address, a too-long value and a repeated address
    text = (
        "email,city,tags\n"
        "a@example.com,Paris,vip\n"
        "not-an-address,Rome,\n"
        "b@example.com,Rio de Janeiro,\n"
        "A@example.com,Oslo,\n"
    )
    header = parsing.import_header_read(text=text)

    # when: no django_db mark, so any query would fail the test
    check = parsing.lines_check(
        text=text,
        header=header,
        mapping=parsing.mapping_guess(header=header, fields=RULES.fields),
        extra_tags=["imported"],
        rules=RULES,
    )

    # then
    assert [(r.email, r.fields, r.tags) for r in check.rows] == [
        ("a@example.com", {"city": "Paris"}, ["imported", "vip"])
    ]
    assert [line for line, _message in check.errors] == [3, 4, 5]
    assert "at most 10 are allowed" in check.errors[1][1]
    assert check.rows_total == 4


def test_the_parsing_module_imports_nothing_of_the_orm():
    tree = ast.parse(Path(parsing.__file__).read_text())
    imported = [
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [m for m in imported if m.startswith("django.db") or m.endswith("models")]
    assert not [m for m in imported if m in ("services", "..services", "lock_objects")]
