"""Every name the packages export imports, and importing a package root imports nothing heavy."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import harness
import mock_symbl

HEAVY = ("numpy", "fastapi", "uvicorn", "websockets", "httpx", "matplotlib", "soundfile")


@pytest.mark.parametrize("package", [harness, mock_symbl], ids=lambda p: p.__name__)
def test_every_exported_name_imports(package: object) -> None:
    names = package.__all__  # type: ignore[attr-defined]
    assert names
    for name in names:
        assert getattr(package, name) is not None, name


@pytest.mark.parametrize("package", ["harness", "mock_symbl"])
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = importlib.import_module(package).nothing_here


@pytest.mark.parametrize("package", ["harness", "mock_symbl"])
def test_importing_a_package_root_imports_nothing_heavy(package: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import sys, {package}; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(done.stdout.split())
    assert not loaded & set(HEAVY)
