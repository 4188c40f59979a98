"""Import direction and module size, checked on the source (an AST walk, no imports).

- parsers/ is pure: stdlib and construct only, never espmon or an I/O/UI library;
- only espmon/console/ imports prompt_toolkit;
- every module stays under the hard size limit.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500
STDLIB = set(sys.stdlib_module_names)


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", _modules("parsers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_parsers_import_only_stdlib_and_construct(path):
    foreign = {name for name in _imports(path) if name not in STDLIB and name not in {"construct", "parsers"}}
    assert not foreign, f"{path.relative_to(ROOT)} imports {sorted(foreign)}"


@pytest.mark.parametrize("path", _modules("espmon") + _modules("parsers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_console_imports_prompt_toolkit(path):
    if "console" in path.relative_to(ROOT).parts:
        return
    assert "prompt_toolkit" not in _imports(path), f"{path.relative_to(ROOT)} imports prompt_toolkit"


@pytest.mark.parametrize("path", _modules("espmon") + _modules("parsers"), ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (limit {MAX_LINES}): split it"
