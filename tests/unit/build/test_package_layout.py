"""paas.build's modules import one another one way, at module level, and never paas.core."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

BUILD_PACKAGE = Path(__file__).resolve().parents[3] / "paas" / "build"
MODULES = sorted(BUILD_PACKAGE.glob("*.py"))


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def import_statements(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)]


def imported_names(node: ast.Import | ast.ImportFrom) -> set[str]:
    """Dotted names an import statement may load: ``from paas import core`` counts as
    ``paas.core``."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    module = node.module or ""
    if node.level:  # relative to paas.build: ``from .job import BuildJob``
        package = ".".join(["paas", "build"][:3 - node.level])
        module = f"{package}.{module}" if module else package
    return {module} | {f"{module}.{alias.name}" for alias in node.names}


def names_imported_by(path: Path) -> set[str]:
    return {name for node in import_statements(parse(path)) for name in imported_names(node)}


def build_modules_imported_by(path: Path) -> set[str]:
    return names_imported_by(path) & {f"paas.build.{module.stem}" for module in MODULES}


def test_the_build_modules_import_one_way():
    graph = {f"paas.build.{path.stem}": build_modules_imported_by(path) for path in MODULES}
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as error:
        pytest.fail(f"import cycle in paas.build: {' -> '.join(error.args[1])}")
    assert order.index("paas.build.job") < order.index("paas.build.buildpack_runner")
    assert order.index("paas.build.buildpack_runner") < order.index("paas.build.builders")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_every_import_is_at_module_level(path):
    # An import inside a function or under ``if TYPE_CHECKING`` is how a cycle hides.
    tree = parse(path)
    nested = [node.lineno for node in import_statements(tree) if node not in tree.body]
    assert not nested, f"{path.name}: imports not at module level on lines {nested}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_nothing_under_paas_build_imports_paas_core(path):
    names = names_imported_by(path)
    assert not {name for name in names if name == "paas.core" or name.startswith("paas.core.")}
