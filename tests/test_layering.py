"""The layering contract in pyproject.toml ([tool.importlinter]) holds, and it has teeth: an
upward import, even one inside a function, breaks it. ``make lint`` runs the same contracts
with ``lint-imports``; here they also run with the suite."""

from copy import deepcopy
from pathlib import Path

import grimp
import pytest
from importlinter import configuration
from importlinter.adapters.user_options import TomlFileUserOptionReader
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_TYPES = {"layers": LayersContract, "forbidden": ForbiddenContract}


def _options():
    # Read as lint-imports reads them (its reader needs its file-system adapter configured).
    configuration.configure()
    options = TomlFileUserOptionReader().read_options(str(ROOT / "pyproject.toml"))
    assert options is not None, "pyproject.toml has no [tool.importlinter]"
    return options


def _contract(contract_id: str):
    options = _options()
    raw = next(c for c in options.contracts_options if c["id"] == contract_id)
    return CONTRACT_TYPES[raw["type"]](raw["name"], options.session_options, raw)


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        *_options().session_options["root_packages"], include_external_packages=False
    )


def _kept(contract_id: str, graph: grimp.ImportGraph) -> bool:
    return _contract(contract_id).check(deepcopy(graph), verbose=False).kept


def test_every_contract_holds(graph):
    assert {c["id"] for c in _options().contracts_options} == {"layers", "config-on-top"}
    assert _kept("layers", graph)
    assert _kept("config-on-top", graph)


@pytest.mark.parametrize(
    "importer, imported",
    [
        ("apps.crm.hooks", "apps.api.services"),  # crm is below api
        ("apps.core.oncommit", "apps.crm.models"),  # core is below everything
        ("apps.tags.services", "apps.offerings.models"),  # tags is below offerings
        ("apps.automations.engine", "apps.offerings.models"),  # independent siblings
        ("apps.members.services", "apps.commerce.models"),  # commerce sits on members
    ],
)
def test_an_upward_import_breaks_the_layers(graph, importer, imported):
    # given: an import the layering refuses, as a lazy import inside a function also records it
    wrong = deepcopy(graph)
    wrong.add_import(importer=importer, imported=imported, line_number=1, line_contents="x")

    # then
    assert not _contract("layers").check(wrong, verbose=False).kept


def test_an_app_importing_config_breaks_the_contract(graph):
    wrong = deepcopy(graph)
    wrong.add_import(
        importer="apps.crm.services", imported="config.settings", line_number=1, line_contents="x"
    )

    assert not _contract("config-on-top").check(wrong, verbose=False).kept


def test_an_import_inside_a_function_is_in_the_graph(graph):
    # crm's broadcast audience imports the tags compiler inside the function (the contract's
    # one named exception): the graph lint-imports checks sees it all the same.
    crm_importers = {
        m
        for m in graph.find_modules_that_directly_import("apps.tags.conditions")
        if m.startswith("apps.crm.")
    }
    assert crm_importers
