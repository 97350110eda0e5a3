"""The public API is documented: every name `stylejax/__init__.py` exports, and every public method of the
classes among them, has a docstring of its own, and the API reference page lists every exported name.

Imports stylejax, compiles nothing: a second or two.
"""

import ast
import functools
import inspect
import re
from pathlib import Path

import pytest

import stylejax

ROOT = Path(__file__).parents[1]
API_PAGES = sorted((ROOT / "docs" / "api").glob("*.md"))


def exported_names() -> list[str]:
    """Every name `stylejax/__init__.py` imports, as it is exported (`from m import x as x`)."""
    tree = ast.parse((ROOT / "stylejax" / "__init__.py").read_text())
    return [alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
            for alias in node.names]


def own_docstring(obj: object) -> str:
    """The docstring written for `obj`: not a base class's, nor the signature a dataclass or NamedTuple makes up."""
    if inspect.isclass(obj):
        doc = (obj.__dict__.get("__doc__") or "").strip()
        return "" if re.fullmatch(rf"{re.escape(obj.__name__)}\(.*\)", doc, re.DOTALL) else doc
    return (inspect.unwrap(obj).__doc__ or "").strip()  # through jax.jit, custom_vjp and lru_cache wrappers


def public_methods(cls: type) -> dict[str, object]:
    """The methods and properties `cls` itself defines whose names are public (and `__call__`)."""
    methods = {}
    for name, member in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        if isinstance(member, staticmethod | classmethod):
            member = member.__func__
        elif isinstance(member, property):
            member = member.fget
        elif isinstance(member, functools.cached_property):
            member = member.func
        if inspect.isfunction(inspect.unwrap(member)):
            methods[name] = member
    return methods


def is_written(doc: str) -> bool:
    return bool(doc) and not doc.upper().startswith("TODO")


def test_the_public_api_is_found():
    names = exported_names()
    assert {"stylize", "StyleConfig", "StyleJaxError"} <= set(names)
    assert all(hasattr(stylejax, name) for name in names)


@pytest.mark.parametrize("name", exported_names())
def test_every_exported_name_has_a_docstring(name):
    assert is_written(own_docstring(getattr(stylejax, name))), f"stylejax.{name} has no docstring"


def test_every_public_method_of_an_exported_class_has_a_docstring():
    missing = [f"stylejax.{name}.{method}" for name in exported_names()
               if inspect.isclass(cls := getattr(stylejax, name))
               for method, member in public_methods(cls).items() if not is_written(own_docstring(member))]
    assert not missing, f"public methods without a docstring: {', '.join(missing)}"


def test_the_api_reference_lists_every_exported_name():
    directives = {match for page in API_PAGES
                  for match in re.findall(r"^::: stylejax\.(\w+)\s*$", page.read_text(), re.MULTILINE)}
    exported = set(exported_names())
    assert API_PAGES, "docs/api/ has no pages"
    assert not exported - directives, f"exported but not in docs/api/: {sorted(exported - directives)}"
    assert not directives - exported, f"in docs/api/ but not exported: {sorted(directives - exported)}"
