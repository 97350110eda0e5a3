"""The package's shape: a few top-level modules over layer subpackages, and no private name crossing a module.

The layers themselves (which package may import which) are import-linter's contract in pyproject.toml,
run by `make test` as `lint-imports`.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "stylejax"
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}


def private_uses(path: Path) -> list[str]:
    """`from m import _x` and `m._x` (m an imported module) in one file: the private names it takes from others."""
    tree = ast.parse(path.read_text())
    modules, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stylejax"):
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} imports {node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(alias.asname or alias.name.split(".")[0] for alias in node.names
                           if alias.name.startswith("stylejax"))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__") and node.attr not in NAMEDTUPLE_API):
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_the_top_level_holds_few_modules_over_layer_subpackages():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())
    assert len(modules) <= 6, modules
    assert len(packages) >= 5, packages
    for package in packages:  # each says what it holds and what it may import
        doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), package


@pytest.mark.parametrize("path", sorted([*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_module(path):
    assert private_uses(path) == []


def test_the_private_name_check_sees_both_forms(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from stylejax.solve import batch\nfrom stylejax.solve.batch import _on_device\n"
                      "batch._per_image(None)\nargs._replace(x=1)\n")
    assert len(private_uses(sample)) == 2
