"""zoo's tree is its design (#20, #30): the README's layout table gives each package a floor and
lists its modules, and the packages import in one direction, down.

A module imports only modules on its own floor or below, at the top of the file, and no circle
closes among them. Imports inside functions are for heavy or optional third-party packages and
for the faces (the top floor), which stay fast by importing lazily. The imports are read from the
source with ``ast`` (nothing is imported), so the whole check runs in well under a second; the
planted tests copy the tree and break it on purpose, to show that each rule catches what it names.
"""

import ast
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
MAX_LINES = 400  # past this a module probably does two jobs
ROW = re.compile(r"^\| (\d)[^|]*\| `(zoo/(?:[a-z_]+/)?)` \| ([^|]+) \|", re.MULTILINE)


def layout(readme: str) -> tuple[dict[str, int], int]:
    """Module -> floor, from the README's layout table (a package's ``__init__`` is on its
    package's floor), and the faces' floor (the top one)."""
    table = readme[readme.index("## Layout"):]
    floors = {}
    for floor, package, modules in ROW.findall(table):
        dotted = package.rstrip("/").replace("/", ".")
        if dotted != "zoo":
            floors[dotted] = int(floor)
        for module in re.findall(r"`([a-z_]+)`", modules):
            floors[dotted if module == "__init__" else f"{dotted}.{module}"] = int(floor)
    return floors, max(floors.values())


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted((root / "zoo").rglob("*.py"))}


def imports(path: Path, module: str, known) -> tuple[list[str], list[tuple[str, int]]]:
    """The zoo modules ``module`` imports at its top level, and those it imports inside a function
    (with the line). ``from ..core import registry`` names the module ``zoo.core.registry``;
    ``from .scores import logme`` the package ``zoo.scores``."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    top, inner = [], []

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = node.module or ""
        if node.level:
            base = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
        return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in targets(child):
                    if name.split(".")[0] != "zoo":
                        continue
                    while name not in known and "." in name:  # from zoo.data.sources import ImageFiles
                        name = name.rsplit(".", 1)[0]
                    (inner.append((name, child.lineno)) if in_function else top.append(name))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return top, inner


def problems(root: Path) -> list[str]:
    """Every way the tree at ``root`` breaks its layout, one line each (none: it holds)."""
    floors, faces = layout((root / "README.md").read_text(encoding="utf-8"))
    found = modules(root)
    said = [f"{module} is not in the README's layout table: add it to its package's row"
            for module in found if module not in floors]
    said += [f"{module} is in the README's layout table but not in the tree" for module in floors if module not in found]
    graph = {}
    for module, path in found.items():
        top, inner = imports(path, module, found)
        graph[module] = {name for name in top if name != module}
        floor = floors.get(module)
        said += [f"{module} (floor {floor}) imports {name} (floor {floors[name]}), a package above it"
                 for name in sorted(graph[module]) if floor is not None and floors.get(name, 0) > floor]
        if floor != faces:  # the faces import lazily so that `zoo --help` and `zoo list` start fast
            said += [f"{module} imports {name} inside a function (line {line}): import it at the top of the file"
                     for name, line in inner]
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES:
            said.append(f"{module} has {lines} lines: past {MAX_LINES} it probably does two jobs")
    state: dict[str, str] = {}

    def walk(module, path):
        state[module] = "open"
        for name in sorted(graph.get(module, ())):
            if state.get(name) == "open":
                cycle = path[path.index(name):]
                first = cycle.index(min(cycle))  # said from its first module, whichever the walk met first
                cycle = cycle[first:] + cycle[:first]
                said.append("a circle of imports: " + " -> ".join(cycle + [cycle[0]]))
            elif name not in state:
                walk(name, path + [name])
        state[module] = "done"

    for module in graph:
        if module not in state:
            walk(module, [module])
    return said


def test_the_tree_holds_its_layout():
    assert problems(ROOT) == []


def test_the_packages_installed_are_the_packages_in_the_tree():
    """A non-editable install (a wheel) ships only the packages pyproject.toml names."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    in_tree = sorted(module for module, path in modules(ROOT).items() if path.name == "__init__.py")
    assert sorted(name for name in listed if name.startswith("zoo.") or name == "zoo") == in_tree


def test_zoo_itself_keeps_only_what_every_package_needs_and_the_faces():
    assert sorted(path.stem for path in (ROOT / "zoo").glob("*.py")) == \
        ["__init__", "__main__", "api", "backend", "errors", "hookspecs", "plugins", "worker"]


def planted(tmp_path, module: str, line: str) -> Path:
    """A copy of the tree (zoo/ and the README) with ``line`` added to ``module``."""
    shutil.copytree(ROOT / "zoo", tmp_path / "zoo", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    path = tmp_path / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    return tmp_path


def test_a_planted_import_from_a_package_above_is_caught(tmp_path):
    root = planted(tmp_path, "zoo.data.decode", "from ..results.report import results_frame")
    said = problems(root)
    assert said[0] == "zoo.data.decode (floor 3) imports zoo.results.report (floor 6), a package above it"
    assert said[1:] == ["a circle of imports: zoo.data.datasets -> zoo.data.sources -> zoo.data.decode -> "
                        "zoo.results.report -> zoo.training.trials -> zoo.data.datasets"], "and it closes a circle"


def test_a_planted_circle_is_caught(tmp_path):
    """zoo.data.sources imports zoo.data.decode: decode importing sources closes a circle on one floor."""
    root = planted(tmp_path, "zoo.data.decode", "from . import sources")
    assert problems(root) == ["a circle of imports: zoo.data.decode -> zoo.data.sources -> zoo.data.decode"]


def test_a_planted_import_inside_a_function_is_caught_below_the_faces(tmp_path):
    root = planted(tmp_path, "zoo.core.rows", "def later():\n    from .recipe import Recipe\n    return Recipe")
    [said] = problems(root)
    assert said.startswith("zoo.core.rows imports zoo.core.recipe inside a function (line ")


def test_a_planted_module_missing_from_the_table_is_caught(tmp_path):
    root = planted(tmp_path, "zoo.data.decode", "")
    (root / "zoo" / "data" / "manifests.py").write_text('"""CSV manifests."""\n')
    assert problems(root) == ["zoo.data.manifests is not in the README's layout table: add it to its package's row"]


def test_a_planted_module_too_long_is_caught(tmp_path):
    root = planted(tmp_path, "zoo.core.formatting", "\n" * MAX_LINES)
    [said] = problems(root)
    assert said.startswith("zoo.core.formatting has ") and said.endswith(f"past {MAX_LINES} it probably does two jobs")
