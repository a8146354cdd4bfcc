"""The core never names a provider kind, and clients, types and rules stay free of the ORM."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

from providers import registry

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORE_APPS = (
    "accounts",
    "api",
    "billing",
    "branding",
    "config",
    "demo",
    "inventory",
    "notifications",
    "ops",
    "payments",
    "providers",
    "web",
)


def registered_names() -> set[str]:
    names: set[str] = set()
    for integration in registry.all_integrations():
        names.add(integration.kind)
        names.update(kind.value for kind in integration.resource_kinds)
        names.update(kind.value for kind in integration.product_kinds)
    return names


def core_python_files() -> list[pathlib.Path]:
    return [
        path
        for app in CORE_APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts and path.name != "settings.py"
    ]


def test_every_integration_is_registered():
    assert {integration.kind for integration in registry.all_integrations()} >= {"unknownproxies", "shop", "iproxy"}


@pytest.mark.parametrize("path", core_python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_python_names_no_provider_kind(path):
    tree = ast.parse(path.read_text())
    names = registered_names()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            found.append(f"line {node.lineno}: {node.value!r}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("integrations"):
            found.append(f"line {node.lineno}: imports {node.module}")
        if isinstance(node, ast.Import) and any(alias.name.startswith("integrations") for alias in node.names):
            found.append(f"line {node.lineno}: imports integrations")
    assert not found, f"{path.relative_to(ROOT)} names a provider: {found}"


def test_core_templates_name_no_provider_kind():
    names = registered_names()
    pattern = re.compile("[\"']({})[\"']".format("|".join(map(re.escape, sorted(names)))))
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in pattern.finditer(path.read_text())
    ]
    assert not offenders


BOUNDARY_MODULES = sorted(
    path
    for pattern in (
        "integrations/*/client.py",
        "integrations/*/types.py",
        "integrations/*/rules.py",
        "providers/http/*.py",
    )
    for path in ROOT.glob(pattern)
)


@pytest.mark.parametrize("path", BOUNDARY_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_clients_types_and_rules_never_import_django_models(path):
    tree = ast.parse(path.read_text())
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    forbidden = [
        name for name in imported if name.startswith("django.db") or name.endswith(".models") or name == "django.apps"
    ]
    assert not forbidden
