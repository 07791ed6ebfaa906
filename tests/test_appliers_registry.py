"""The applier registry matches the kind table, and no import cycle between the engine and
the appliers, not even a type-level one.

Appliers depend on appliers/interface.py, never on the engine; the interface imports no
applier. Each module is imported first thing in a fresh interpreter, in which a cycle
would fail or pull in what the module must not depend on.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from imdsguard.remediate import appliers

PACKAGE = appliers.__name__
MODULES = sorted(m.name for m in pkgutil.iter_modules(appliers.__path__))
ENGINE_SIDE = (
    "imdsguard.remediate.engine",
    "imdsguard.remediate.apply",
    "imdsguard.remediate.rollback",
)


def _imports(name: str) -> set[str]:
    """Every module ``name`` imports, at run time or under TYPE_CHECKING."""
    tree = ast.parse(Path(appliers.__path__[0], f"{name}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_every_remediable_kind_has_an_applier_and_no_other_kind_has_one() -> None:
    from imdsguard.model.kinds import KINDS
    from imdsguard.remediate.appliers.registry import APPLIERS

    assert set(APPLIERS) == {k.plan_kind for k in KINDS if k.remediable}


@pytest.mark.parametrize("name", MODULES)
def test_no_appliers_module_imports_the_engine_side(name: str) -> None:
    assert not {m for m in _imports(name) if m.startswith(ENGINE_SIDE)}


def test_the_interface_imports_no_applier() -> None:
    assert not {m for m in _imports("interface") if m.startswith(PACKAGE + ".")}


@pytest.mark.parametrize("name", MODULES)
def test_each_appliers_module_imports_alone_in_a_fresh_interpreter(name: str) -> None:
    module = f"{PACKAGE}.{name}"
    others = [f"{PACKAGE}.{m}" for m in MODULES if m not in (name, "interface")]
    code = (
        f"import sys, {module}\n"
        f"engine = [m for m in sys.modules if m.startswith({ENGINE_SIDE!r})]\n"
        "assert not engine, engine\n"
        # the interface must come without any applier
        f"if {name!r} == 'interface':\n"
        f"    loaded = [m for m in {others!r} if m in sys.modules]\n"
        "    assert not loaded, loaded\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
