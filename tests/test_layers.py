"""The layers hold: every import of every module (at module level and inside functions) is read with ``ast``.

features/ does not read datasets/; evaluate/ and explain/ do not reach into train/; models/ depends on none of
datasets/, train/, evaluate/, explain/; only cli/ (and ``python -m wherewhen``) imports cli/.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "wherewhen"

# (layer, the layers it must not import)
FORBIDDEN: list[tuple[str, tuple[str, ...]]] = [
    ("features", ("datasets",)),
    ("evaluate", ("train",)),
    ("explain", ("train",)),
    ("models", ("datasets", "train", "evaluate", "explain")),
]
ENTRY_POINT = PACKAGE / "__main__.py"  # ``python -m wherewhen`` runs the command line, so it imports cli/


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every import in ``path``; ``from wherewhen import x`` counts as ``wherewhen.x``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            if node.module == "wherewhen":
                for alias in node.names:
                    yield node.lineno, f"wherewhen.{alias.name}"
            else:
                yield node.lineno, node.module


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "wherewhen" else None


def modules_in(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def shown(path: Path) -> Path:
    return path.relative_to(PACKAGE.parent) if path.is_relative_to(PACKAGE.parent) else path


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{shown(path)}:{line} imports {module}"
        for path in paths
        for line, module in imported_modules(path)
        if layer_of(module) in forbidden
    ]


@pytest.mark.parametrize(("layer", "forbidden"), FORBIDDEN, ids=[layer for layer, _ in FORBIDDEN])
def test_a_layer_does_not_import_the_layers_above_it(layer: str, forbidden: tuple[str, ...]) -> None:
    assert modules_in(layer), f"no modules under {PACKAGE / layer}"
    assert violations(modules_in(layer), forbidden) == []


def test_only_the_command_line_imports_the_command_line() -> None:
    outside = [p for p in sorted(PACKAGE.rglob("*.py")) if "cli" not in p.relative_to(PACKAGE).parts[:1]]
    assert violations([p for p in outside if p != ENTRY_POINT], ("cli",)) == []


def test_function_level_imports_are_seen(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from wherewhen.train.data import collate\n    from wherewhen import cli\n")
    assert violations([module], ("train", "cli")) == [
        f"{module}:2 imports wherewhen.train.data",
        f"{module}:3 imports wherewhen.cli",
    ]
