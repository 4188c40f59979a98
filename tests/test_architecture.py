"""The layering of the code, checked on the source (an AST walk, no imports).

- parsers/ is pure: stdlib and construct only, never espmon, and no I/O (no file, process,
  socket or terminal modules, no ``open``/``print``/``input``);
- only espmon/console/ imports prompt_toolkit, only espmon/plot/ imports matplotlib, only
  espmon/flash/ imports esptool (the tests use esptool as the reference client);
- the packages of espmon/ import each other without circles, lazy imports included;
- every module stays under the hard size limit.

ARCHITECTURE.md draws the same map in words.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500
STDLIB = set(sys.stdlib_module_names)
# Standard modules that touch the world: a parser gets bytes or text and returns events.
IO_MODULES = {"os", "sys", "io", "socket", "select", "selectors", "subprocess", "threading", "asyncio",
              "time", "pathlib", "shutil", "tempfile", "signal", "fcntl", "termios", "tty", "pty", "mmap"}
IO_CALLS = {"open", "print", "input"}
# third-party package -> the only espmon folder that may import it
OWNED = {"prompt_toolkit": "console", "matplotlib": "plot", "esptool": "flash"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(path: Path) -> set[str]:
    """Full dotted names imported anywhere in the module (relative imports resolved)."""
    names: set[str] = set()
    package = _dotted(path) if path.name == "__init__.py" else _dotted(path).rpartition(".")[0]
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(filter(None, [*anchor, base]))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _tops(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imported(path)}


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


ALL = _modules("espmon") + _modules("parsers")


@pytest.mark.parametrize("path", _modules("parsers"), ids=_rel)
def test_parsers_import_only_stdlib_and_construct(path):
    foreign = {name for name in _tops(path) if name not in STDLIB and name not in {"construct", "parsers"}}
    assert not foreign, f"{_rel(path)} imports {sorted(foreign)}"


@pytest.mark.parametrize("path", _modules("parsers"), ids=_rel)
def test_parsers_do_no_io(path):
    io = _tops(path) & IO_MODULES
    calls = {node.func.id for node in ast.walk(_tree(path))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_CALLS}
    assert not io and not calls, f"{_rel(path)} does I/O: imports {sorted(io)}, calls {sorted(calls)}"


@pytest.mark.parametrize("path", ALL, ids=_rel)
def test_each_heavy_library_has_one_home(path):
    parts = path.relative_to(ROOT).parts
    wrong = {lib for lib, home in OWNED.items()
             if lib in _tops(path) and not (parts[0] == "espmon" and len(parts) > 2 and parts[1] == home)}
    assert not wrong, f"{_rel(path)} imports {sorted(wrong)}: only espmon/{{{', '.join(OWNED[w] for w in wrong)}}}/ may"


def _package_of(dotted: str) -> str | None:
    """espmon.X.Y -> 'X' (a package, or a top-level module such as session)."""
    parts = dotted.split(".")
    return parts[1] if parts[0] == "espmon" and len(parts) > 1 else None


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in _modules("espmon"):
        src = _package_of(_dotted(path))
        if src is None:
            continue
        for name in _imported(path):
            dst = _package_of(name)
            if dst and dst != src and dst != "__version__":
                graph.setdefault(src, set()).add(dst)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[str]:
    found = []

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in trail:
                found.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            else:
                visit(nxt, trail + [nxt])

    for start in sorted(graph):
        visit(start, [start])
    return sorted(set(found))


def test_no_import_circles_between_packages():
    cycles = _cycles(_package_graph())
    assert not cycles, "import circles between espmon packages: " + "; ".join(cycles)


def test_the_checks_see_real_imports_and_circles():
    # guards for the walker itself
    graph = _package_graph()
    assert {"session", "port"} <= graph["commands"]
    assert "port" in graph["session"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a -> b -> c -> a", "b -> c -> a -> b",
                                                             "c -> a -> b -> c"]


@pytest.mark.parametrize("path", ALL, ids=_rel)
def test_modules_stay_small(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{_rel(path)} has {lines} lines (limit {MAX_LINES}): split it"
