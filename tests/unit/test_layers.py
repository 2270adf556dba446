"""Layers run one way: entry points -> paas.core -> engines -> leaf modules.

Read from the source with ``ast`` (every import, also those inside functions), so an arrow
that runs back up fails here before a reader trips over it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ("paas/runtime", "paas/router", "paas/build")
LEAVES = ("paas/errors.py", "paas/names.py", "paas/procfs.py", "paas/ttyframes.py")
ENTRY_POINTS = ("paas.api", "paas.git", "paas.cli", "paas.hostctl", "webui", "worker")


def modules_under(*paths: str) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        target = ROOT / path
        found.extend([target] if target.is_file() else sorted(target.rglob("*.py")))
    return found


def imported_names(path: Path) -> set[str]:
    """Every module ``path`` imports, with relative imports made absolute."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
    return names


def offending(paths: list[Path], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        bad = sorted(name for name in imported_names(path)
                     if any(name == f or name.startswith(f + ".") for f in forbidden))
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def test_it_finds_imports_anywhere_in_a_module(tmp_path, monkeypatch):
    module = tmp_path / "paas" / "runtime" / "sample.py"
    module.parent.mkdir(parents=True)
    module.write_text("import os\n\ndef later():\n    from paas.core.models import App\n"
                      "    from . import lines\n")
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)

    assert imported_names(module) == {"os", "paas.core.models", "paas.runtime"}


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_import_nothing_from_core_or_above(engine):
    forbidden = ("paas.core", "paas.settings", "paas.celery", "django", *ENTRY_POINTS)
    assert offending(modules_under(engine), forbidden) == {}


def test_leaf_modules_import_no_other_part_of_paas():
    for path in modules_under(*LEAVES):
        assert {name for name in imported_names(path) if name.startswith("paas")} \
            <= {"paas.errors"}, path


def test_core_imports_no_entry_point():
    # paas.celery is the Celery app the platform sends tasks through (core/platform.py),
    # not a caller of core.
    assert offending(modules_under("paas/core"), ENTRY_POINTS) == {}
