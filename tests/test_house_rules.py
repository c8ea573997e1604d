"""DESIGN.md's house rules, checked by reading the source (no Django, no database: fast).

Each rule keeps an explicit ALLOWLIST of the places that break it today, so the suite passes
while the refactoring of issue 15 lands branch by branch. The test fails on a new offence
(fix it: the message says how) and on an allowlisted entry that no longer offends (remove
it): the lists only shrink, and the rule is true once its list is empty.
"""

import ast
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from radon.complexity import cc_rank, cc_visit, sorted_results

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("apps", "config")

MAX_MODULE_LINES = 450
# radon ranks A (1-5) B (6-10) C (11-20) D (21-30) E (31-40) F (41+); D and worse are refused.
WORST_RANK = "C"
KIND_TEST = re.compile(r"kind ?(==|in) ")
KINDS_HOME = "apps/automations/kinds/"
WRITE_CALLS = {"save", "delete", "update", "bulk_create"}

# The edge's writes (view, admin or API module, qualified name of the function, what it
# calls): each becomes one service call that owns its transaction.
WRITE_PATH_ALLOWLIST: set[tuple[str, str, str]] = set()

# select_for_update outside a lock_objects.py and the lease primitive: (module, function).
LOCKS_ALLOWLIST: set[tuple[str, str]] = set()

# Modules longer than MAX_MODULE_LINES: split by sub-domain into a package.
LONG_MODULES_ALLOWLIST: set[str] = set()

# Tests of a step kind's name outside apps/automations/kinds/: (file, how many it has today).
KIND_TESTS_ALLOWLIST: dict[str, int] = {}

# Periodic task specs declared outside the app's periodic.py (apps/core/periodic.py finds it):
# modules that build a PeriodicSpec.
PERIODIC_ALLOWLIST: set[str] = set()

# Functions radon ranks D or worse: (module, qualified name).
COMPLEXITY_ALLOWLIST: set[tuple[str, str]] = set()


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _files(pattern: str = "*.py") -> Iterator[Path]:
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob(pattern)):
            parts = path.relative_to(ROOT).parts
            if path.is_file() and "migrations" not in parts and "__pycache__" not in parts:
                yield path


def _compare(found: Iterable, allowed: Iterable, *, what: str, fix: str) -> None:
    found, allowed = set(found), set(allowed)
    new = sorted(found - allowed)
    stale = sorted(allowed - found)
    lines = []
    if new:
        lines += [f"{what} ({fix}):", *(f"  {entry!r}" for entry in new)]
    if stale:
        lines += [
            "allowlisted but no longer offending (remove them from the ALLOWLIST):",
            *(f"  {entry!r}" for entry in stale),
        ]
    assert not lines, "\n".join(lines)


class _Calls(ast.NodeVisitor):
    """Attribute calls and names, each with the qualified name of the function it is in."""

    def __init__(self) -> None:
        self.scope: list[str] = []
        self.dicts: list[set[str]] = [set()]  # names bound to a dict, per function
        self.found: list[tuple[str, str]] = []  # (qualified name, what)
        self.atomic_names: set[str] = set()  # `from django.db.transaction import atomic`
        self.dict_makers: set[str] = set()  # this module's functions annotated `-> dict`

    @property
    def where(self) -> str:
        return ".".join(self.scope) or "<module>"

    def _scoped(self, node, name: str) -> None:
        self.scope.append(name)
        self.dicts.append(set())
        self.generic_visit(node)
        self.dicts.pop()
        self.scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def visit_Module(self, node: ast.Module) -> None:
        self.dict_makers = {
            f.name
            for f in node.body
            if isinstance(f, ast.FunctionDef) and _annotated_dict(f.returns)
        }
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module in {"django.db.transaction", "django.db"}:
            for alias in node.names:
                if alias.name == "atomic":
                    self.atomic_names.add(alias.asname or alias.name)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if _is_dict(node.value, self.dict_makers):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.dicts[-1].add(target.id)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "atomic" and _named(node.value, "transaction"):
            self.found.append((self.where, "transaction.atomic"))
        if node.attr == "select_for_update":
            self.found.append((self.where, "select_for_update"))
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.atomic_names:
            self.found.append((self.where, "transaction.atomic"))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in WRITE_CALLS:
            receiver = func.value
            # dict.update on a dict this function built is no write; anything else is
            # taken for a model, queryset, form or serializer.
            is_dict = _is_dict(receiver, self.dict_makers) or (
                isinstance(receiver, ast.Name) and receiver.id in self.dicts[-1]
            )
            if not is_dict:
                name = "bulk_create" if func.attr == "bulk_create" else f".{func.attr}"
                self.found.append((self.where, name))
        self.generic_visit(node)


def _named(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_dict(node: ast.AST, makers: set[str]) -> bool:
    """A dict display, ``dict(...)``, or a call of a function of this module returning dict."""
    if isinstance(node, ast.Dict | ast.DictComp):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and (node.func.id == "dict" or node.func.id in makers)
    )


def _annotated_dict(annotation: ast.expr | None) -> bool:
    if isinstance(annotation, ast.Subscript):
        annotation = annotation.value
    return isinstance(annotation, ast.Name) and annotation.id == "dict"


def _calls(path: Path) -> list[tuple[str, str]]:
    visitor = _Calls()
    visitor.visit(ast.parse(path.read_text(), filename=str(path)))
    return visitor.found


def _is_edge(rel: str) -> bool:
    """A view, admin or versioned-API module: the edge that calls services."""
    parts = rel.split("/")
    stem = parts[-1].removesuffix(".py")
    if rel.startswith(("apps/api/v1/", "apps/api/v3/", "apps/api/v4/")):
        return True
    if "views" in stem or "views" in parts[:-1]:
        return True
    return stem.startswith("admin") or "admin" in parts[:-1]


def _is_lock_home(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1]
    if name == "lock_objects.py" or "/lock_objects/" in rel:
        return True
    return rel.startswith(("apps/core/leases", "apps/core/outbox"))


def write_path_offences() -> set[tuple[str, str, str]]:
    found = set()
    for path in _files():
        rel = _rel(path)
        if rel.startswith("apps/") and _is_edge(rel):
            found |= {
                (rel, where, what) for where, what in _calls(path) if what != "select_for_update"
            }
    return found


def lock_offences() -> set[tuple[str, str]]:
    found = set()
    for path in _files():
        rel = _rel(path)
        if rel.startswith("apps/") and not _is_lock_home(rel):
            found |= {(rel, where) for where, what in _calls(path) if what == "select_for_update"}
    return found


def long_modules() -> set[str]:
    return {
        _rel(path) for path in _files() if len(path.read_text().splitlines()) > MAX_MODULE_LINES
    }


def kind_tests() -> dict[str, int]:
    counts: Counter[str] = Counter()
    for path in (ROOT / "apps").rglob("*"):
        rel = _rel(path)
        if not path.is_file() or rel.startswith(KINDS_HOME) or "__pycache__" in rel:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:  # a picture or a compiled file: no code to read
            continue
        for line in text.splitlines():
            if KIND_TEST.search(line):
                counts[rel] += 1
    return dict(counts)


def periodic_spec_homes() -> set[str]:
    found = set()
    for path in _files():
        rel = _rel(path)
        if not rel.startswith("apps/") or path.name == "periodic.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=rel)):
            if isinstance(node, ast.Call) and _named(node.func, "PeriodicSpec"):
                found.add(rel)
    return found


def complex_functions() -> set[tuple[str, str]]:
    found = set()
    for path in _files():
        for block in sorted_results(cc_visit(path.read_text())):
            if cc_rank(block.complexity) > WORST_RANK:
                found.add((_rel(path), block.fullname))
    return found


def test_views_admin_and_the_api_write_only_through_services():
    _compare(
        write_path_offences(),
        WRITE_PATH_ALLOWLIST,
        what="a view, admin or API module writes or opens a transaction itself",
        fix="move the write into a service in the app's services that owns its transaction, "
        "and call that",
    )


def test_select_for_update_only_in_lock_objects_and_the_lease_primitive():
    _compare(
        lock_offences(),
        LOCKS_ALLOWLIST,
        what="select_for_update outside a lock_objects.py",
        fix="build the locking queryset in the app's lock_objects.py and call it",
    )


def test_no_module_passes_the_line_limit():
    _compare(
        long_modules(),
        LONG_MODULES_ALLOWLIST,
        what=f"modules longer than {MAX_MODULE_LINES} lines",
        fix="split the module by sub-domain into a package",
    )


def test_only_the_kinds_package_tests_a_step_kind_by_name():
    found = kind_tests()
    grown = {rel: n for rel, n in found.items() if n > KIND_TESTS_ALLOWLIST.get(rel, 0)}
    shrunk = {
        rel: found.get(rel, 0) for rel, n in KIND_TESTS_ALLOWLIST.items() if found.get(rel, 0) < n
    }
    assert not grown, (
        f"a kind's name tested outside {KINDS_HOME} (ask the kind class instead): {grown}"
    )
    assert not shrunk, f"fewer kind tests than allowlisted (lower or remove the entries): {shrunk}"


def test_each_apps_periodic_tasks_are_declared_in_its_periodic_module():
    _compare(
        periodic_spec_homes(),
        PERIODIC_ALLOWLIST,
        what="periodic task specs declared outside the app's periodic.py",
        fix="return them from periodic_specs() in apps/<app>/periodic.py, which core finds",
    )


def test_no_function_is_ranked_d_or_worse_by_radon():
    _compare(
        complex_functions(),
        COMPLEXITY_ALLOWLIST,
        what="functions radon ranks D or worse (cyclomatic complexity over 20)",
        fix="split them into small functions or a table of rules",
    )
