"""The house reads top-down: each folder imports only the floors below it, and no module imports itself
back through others. Every import counts, deferred ones included: a deferred import is still an arrow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.stack import PROJECT_DIR

PRODUCT = ("optbox", "storage", "flows", "deployments", "api", "cli")
NOT_SHIPPED = ("harness", "bench", "tests", "samples")
# what each folder may import of the project (itself always)
MAY_IMPORT = {
    "optbox": set(),
    "storage": {"optbox"},
    "flows": {"optbox"},
    "deployments": {"optbox"},
    "api": {"optbox", "storage"},
    "cli": {"optbox", "storage", "flows", "deployments", "api"},
}
PROJECT_PACKAGES = set(PRODUCT) | set(NOT_SHIPPED)


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> set[str]:
    """Every project module `path` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from optbox import sandbox` imports the module optbox.sandbox
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        found |= {name for name in names if name.split(".")[0] in PROJECT_PACKAGES}
    return found


def product_modules() -> dict[str, Path]:
    return {module_name(path): path for folder in PRODUCT for path in (PROJECT_DIR / folder).rglob("*.py")
            if "migrations" not in path.parts}


@pytest.mark.parametrize("folder", PRODUCT)
def test_a_folder_imports_only_the_floors_below_it(folder):
    allowed = MAY_IMPORT[folder] | {folder}
    wrong = sorted(f"{name} imports {target}" for name, path in product_modules().items() if name.split(".")[0] == folder
                   for target in project_imports(path) if target.split(".")[0] not in allowed)
    assert not wrong


def test_no_module_imports_itself_back_through_others():
    modules = product_modules()
    graph = {name: {target for target in project_imports(path) if target in modules and target != name}
             for name, path in modules.items()}
    cycles = strongly_connected_cycles(graph)
    assert not cycles, cycles


def strongly_connected_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one module: each is an import circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_circle_of_two():
    assert strongly_connected_cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]


PATCHES_MODULE = "optbox.patches"


def foreign_private_names(path: Path) -> list[str]:
    """Private names of other libraries `path` uses: a private module or name imported from a library,
    or a name-mangled attribute (`_Class__name`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] not in PROJECT_PACKAGES:
            private_module = any(part.startswith("_") and not part.startswith("__") for part in node.module.split("."))
            private_names = [alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
            if private_module or private_names:
                found.append(f"line {node.lineno}: from {node.module} import {', '.join(a.name for a in node.names)}")
        elif isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {alias.name}" for alias in node.names
                      if alias.name.split(".")[0] not in PROJECT_PACKAGES and any(p.startswith("_") and not p.startswith("__") for p in alias.name.split("."))]
        elif isinstance(node, ast.Attribute | ast.FunctionDef) and "__" in (name := getattr(node, "attr", None) or node.name).lstrip("_")[:-2] \
                and name.startswith("_") and not name.startswith("__"):
            found.append(f"line {node.lineno}: {name}")
    return found


def test_only_the_patches_module_touches_other_libraries_private_names():
    wrong = {name: used for name, path in product_modules().items() if name != PATCHES_MODULE and (used := foreign_private_names(path))}
    assert not wrong
    assert foreign_private_names(product_modules()[PATCHES_MODULE])  # the check sees what the patches module does
