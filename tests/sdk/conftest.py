"""The official SDKs as clients of the mock: the components they need. A missing one skips
locally and fails in CI, through the `require` fixture of tests/conftest.py."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
PYTHON_INSTALL = (
    "pip install -r examples/python-sdk/requirements.txt && pip install --no-deps symbl==2.0.6"
)
NODE_INSTALL = (
    "apt-get install nodejs npm && "
    "(cd tests/sdk/node && npm ci --ignore-scripts --no-audit --no-fund)"
)

Require = Callable[[str, bool, str], None]


@pytest.fixture(scope="module")
def python_sdk(require: Require) -> None:
    """symbl 2.0.6 with symbl_rest and websocket-client is importable."""
    found = all(importlib.util.find_spec(name) for name in ("symbl", "symbl_rest", "websocket"))
    require("the symbl Python SDK", found, PYTHON_INSTALL)


@pytest.fixture(scope="module")
def node_sdk(require: Require) -> str:
    """The node executable, with tests/sdk/node's locked dependencies installed."""
    node = shutil.which("node")
    installed = (NODE_DIR / "node_modules" / "@symblai" / "symbl-js" / "package.json").is_file()
    require("the Node SDK (node and its node_modules)", bool(node and installed), NODE_INSTALL)
    assert node is not None
    return node
