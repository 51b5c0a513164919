"""What pyproject.toml declares: dependencies of every import, package data, one version, the license, extras."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.resources
import importlib.util
import re
import sys
import tomllib

import ola_core
from tests.packaging_helpers import ROOT


# --- what the package declares ------------------------------------------------------------------
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-") for req in requirements}


def _third_party_imports() -> set[str]:
    """Top-level module names our code imports that are neither ours nor the standard library."""
    names: set[str] = set()
    for package in ("ola_core", "app"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("ola_core", "app")}


# Imported (lazily) only by writers of test checkpoints, so a dev extra is enough.
_DEV_ONLY_IMPORTS = {"onnx"}  # speech/cosyvoice/tiny.py: stand-in ONNX graphs


def test_every_imported_distribution_is_declared() -> None:
    project = _pyproject()["project"]
    extras = project["optional-dependencies"]
    declared = _requirement_names(project["dependencies"])
    for extra, requirements in extras.items():
        if extra != "dev":
            declared |= _requirement_names(requirements)
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: providers.get(module, ["?"])
        for module in _third_party_imports()
        if not {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        & (declared | (_requirement_names(extras["dev"]) if module in _DEV_ONLY_IMPORTS else set()))
    }
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_package_data_patterns_match_real_files() -> None:
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]
    for package, patterns in package_data.items():
        folder = ROOT.joinpath(*package.split("."))
        assert folder.is_dir(), f"package-data names {package}, which is not a package folder"
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{package}: {pattern} matches no file"


def test_the_version_is_written_once() -> None:
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "ola_core.__version__"}
    assert importlib.metadata.version("ola-assistant") == ola_core.__version__


def test_license_file_is_declared_and_installed() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")[:200]
    requires = _pyproject()["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77 for r in requires)
    dist = importlib.metadata.distribution("ola-assistant")
    assert dist.metadata["License-Expression"] == "Apache-2.0"


def test_the_installer_installs_every_optional_part() -> None:
    extras = _pyproject()["project"]["optional-dependencies"]
    assert _requirement_names(extras["full"]) == {"ola-assistant"}
    assert set(re.findall(r"\[([a-z,]+)\]", extras["full"][0])[0].split(",")) == set(extras) - {"dev", "full"}
    assert '-e ".[full]"' in (ROOT / "scripts" / "install-and-run.sh").read_text(encoding="utf-8")
