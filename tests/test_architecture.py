"""The package's shape: a few top-level modules over layer subpackages, import contracts that hold every
subpackage and fail on a violation, no private name crossing a module, no long positional signatures, and
an architecture page that lists every module.

The layers themselves (which package may import which) are import-linter's contracts in pyproject.toml,
run by `make test` as `lint-imports`; here a copy of the package is linted with deliberate violations.
"""

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "stylejax"
NAMEDTUPLE_API = {"_replace", "_asdict", "_fields", "_make"}
MAX_POSITIONAL = 6
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


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


def subpackages() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_top_level_holds_four_modules_over_twelve_layer_subpackages():
    # Exact sets: a new top-level module or subpackage is a deliberate change, made here too.
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py", "__main__.py", "config.py", "errors.py"}
    assert subpackages() == {"cli", "jobs", "bench", "video", "network", "solve", "autoencoder", "objective", "optim",
                             "runtime", "nn", "io"}
    for package in subpackages():  # each says what it holds and what it may import
        doc = ast.get_docstring(ast.parse((PACKAGE / package / "__init__.py").read_text()))
        assert doc and "import" in doc.lower(), package


def test_the_layers_contract_names_every_subpackage_and_top_level_module():
    [layers] = [c for c in contracts() if c["type"] == "layers"]
    named = [name.strip() for layer in layers["layers"] for name in layer.split("|")]
    top = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert layers["containers"] == ["stylejax"] and layers["exhaustive"] is True
    assert sorted(named) == sorted(subpackages() | top)  # each exactly once


def lint_copy(tmp_path: Path, violation: tuple[str, str] | None = None) -> set[str]:
    """The names of the contracts `lint-imports` finds broken in a copy of the package with `violation`
    ((a file under stylejax/, a line appended to it)) made in it."""
    shutil.copytree(PACKAGE, tmp_path / "stylejax", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if violation is not None:
        path, line = tmp_path / "stylejax" / violation[0], violation[1]
        path.parent.mkdir(exist_ok=True)
        path.write_text((path.read_text() if path.exists() else '"""A module."""\n') + line + "\n")
    result = subprocess.run([str(LINT_IMPORTS), "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
                            cwd=tmp_path, env=os.environ | {"PYTHONPATH": str(tmp_path)}, capture_output=True,
                            text=True, timeout=120)
    broken = set(re.findall(r"^(.+) BROKEN\b", result.stdout, re.MULTILINE))
    assert (result.returncode != 0) == bool(broken), result.stdout + result.stderr
    assert "KEPT" in result.stdout or broken, result.stdout + result.stderr  # it ran the contracts
    return broken


def test_the_package_as_it_is_keeps_every_contract(tmp_path):
    assert lint_copy(tmp_path) == set()


LAYERS = "stylejax's layers import downward only"


# An import is checked with the chains it makes: nn.vgg importing cli also gives bench and network a way
# up, so those contracts break too. A narrower rule's violation is within the layers: its contract alone
# catches it.
@pytest.mark.parametrize(("violation", "caught_by"), [
    (("nn/vgg.py", "import stylejax.cli"), {LAYERS, "optim, nn and io import config and errors only"}),
    (("extra/__init__.py", ""), {LAYERS}),  # a subpackage no layer names
    (("network/inference.py", "import stylejax.solve.sizing"), {"network imports solve only to refine"}),
    (("bench/report.py", "import stylejax.video.flow"), {"bench imports solve and the layers below it"}),
    (("optim/loop.py", "import stylejax.io.images"), {"optim, nn and io import config and errors only"}),
    (("runtime/meshes.py", "import stylejax.nn.vgg"), {"runtime imports io, config and errors only"}),
], ids=["upward", "unlisted-subpackage", "network-to-solve", "bench-to-video", "optim-to-io", "runtime-to-nn"])
def test_a_deliberate_violation_breaks_its_contract(tmp_path, violation, caught_by):
    broken = lint_copy(tmp_path, violation)
    if LAYERS in caught_by:
        assert caught_by <= broken
    else:
        assert broken == caught_by


@pytest.mark.parametrize("path", sorted([*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py")]),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_crosses_a_module(path):
    assert private_uses(path) == []


def test_the_private_name_check_sees_both_forms(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from stylejax.solve import batch\nfrom stylejax.solve.batch import _on_device\n"
                      "batch._per_image(None)\nargs._replace(x=1)\n")
    assert len(private_uses(sample)) == 2


def long_signatures(source: str, name: str = "<sample>") -> list[str]:
    """Functions (and lambdas) of `source` with more than MAX_POSITIONAL positional parameters.

    Positional-only and ordinary parameters count, `*args` does not (nor anything after it); a first
    parameter named `self` or `cls` (a method's, which the caller does not write) does not count.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        positional = [a.arg for a in (*node.args.posonlyargs, *node.args.args)]
        if positional[:1] in (["self"], ["cls"]):
            positional = positional[1:]
        if len(positional) > MAX_POSITIONAL:
            found.append(f"{name}:{node.lineno} {getattr(node, 'name', 'lambda')} takes {len(positional)}")
    return found


def test_no_function_takes_more_than_six_positional_parameters():
    found = [line for path in sorted(PACKAGE.rglob("*.py"))
             for line in long_signatures(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


def test_the_signature_check_counts_what_a_caller_passes_by_position():
    sample = ("def seven(a, b, c, d, e, f, g): ...\n"
              "def six_and_options(a, b, c, d, e, f, *rest, g=1, h=2): ...\n"
              "class C:\n"
              "    def method(self, a, b, c, d, e, f): ...\n"
              "    def seven(self, a, b, c, d, e, f, /, g): ...\n"
              "key = lambda a, b, c, d, e, f, g: a\n")
    assert [line.split()[1] for line in long_signatures(sample)] == ["seven", "seven", "lambda"]


def test_the_architecture_page_lists_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text()
    modules = [p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent == PACKAGE]
    missing = [str(p.relative_to(ROOT)) for p in modules if f"`{p.relative_to(ROOT)}`" not in page]
    assert missing == []
    assert [p for p in subpackages() if f"`stylejax.{p}`" not in page] == []  # and every layer
