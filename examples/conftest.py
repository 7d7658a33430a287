"""The examples' tests follow the suite's policy for missing components: a missing Node SDK,
Python SDK or Chromium skips locally and fails in CI (SYMBL_HARNESS_REQUIRE_COMPONENTS=1 or
CI=true). The policy lives in tests/conftest.py; its `require` fixture is used here as it is."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SUITE_CONFTEST = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"


def _suite_conftest() -> ModuleType:
    # Under the whole suite pytest has loaded it already; alone, the examples load it here.
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == str(SUITE_CONFTEST):
            return module
    sys.path.insert(0, str(SUITE_CONFTEST.parent))  # its own imports (`helpers`)
    spec = importlib.util.spec_from_file_location("symbl_harness_suite_conftest", SUITE_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


require = _suite_conftest().require
