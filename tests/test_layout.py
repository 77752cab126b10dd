"""zoo's floors (#20), kept true: the README's layout table gives each module of ``zoo/`` a floor,
and each module imports only modules on its own floor or below, at the top of the file, with no
circle among them. Imports inside functions are for heavy or optional third-party packages and
for the faces (floor 9), which stay fast by importing lazily.

The imports are read from the source with ``ast`` (no module is imported), so this runs in well
under a second.
"""

import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "zoo"
FACES = 9
ROW = re.compile(r"^\| (\d) [^|]*\| `(zoo/[^`]+\.py)` \|", re.MULTILINE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def floors() -> dict[str, int]:
    """Module -> floor, from the README's layout table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    layout = text[text.index("## Layout"):]
    return {module_name(ROOT / path): int(floor) for floor, path in ROW.findall(layout)}


@lru_cache(maxsize=None)
def imports(module: str) -> tuple[list[str], list[tuple[str, int]]]:
    """The zoo modules ``module`` imports at its top level, and those it imports inside a
    function or method (with the line)."""
    path = PACKAGE.parent / (module.replace(".", "/") + ".py")
    if not path.exists():
        path = path.with_suffix("") / "__init__.py"
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    top, inner = [], []

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if node.level:  # relative: from .x import y, from .. import backend
            base = ".".join(package[:len(package) - node.level + 1])
            if node.module:
                return [f"{base}.{node.module}"]
            return [f"{base}.{alias.name}" for alias in node.names]
        return [node.module]

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in targets(child):
                    if name.split(".")[0] != "zoo":
                        continue
                    while name not in floors() and "." in name:  # from .store import FeatureStore
                        name = name.rsplit(".", 1)[0]
                    (inner.append((name, child.lineno)) if in_function else top.append(name))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return top, inner


MODULES = sorted(module_name(path) for path in PACKAGE.rglob("*.py"))


def test_every_module_has_one_floor_in_the_readme():
    assert sorted(floors()) == MODULES, "add the module to the README's layout table, with its floor"


@pytest.mark.parametrize("module", MODULES)
def test_a_module_imports_only_its_floor_and_below(module):
    floor = floors()[module]
    above = [f"{name} (floor {floors()[name]})" for name in imports(module)[0]
             if name != module and floors().get(name, 0) > floor]
    assert above == [], f"{module} is on floor {floor}"


@pytest.mark.parametrize("module", MODULES)
def test_no_zoo_import_hides_in_a_function_below_the_faces(module):
    if floors()[module] == FACES:
        return  # the faces import lazily so that `zoo --help` and `zoo list` start fast
    assert imports(module)[1] == [], "import it at the top of the file (move it to a lower floor if it must)"


def test_the_imports_form_no_circle():
    graph = {module: {name for name in imports(module)[0] if name != module} for module in MODULES}
    state: dict[str, str] = {}

    def walk(module, path):
        state[module] = "open"
        for name in sorted(graph.get(module, ())):
            if state.get(name) == "open":
                cycle = path[path.index(name):] + [name]
                pytest.fail("a circle of imports: " + " -> ".join(cycle))
            if name not in state:
                walk(name, path + [name])
        state[module] = "done"

    for module in MODULES:
        if module not in state:
            walk(module, [module])
