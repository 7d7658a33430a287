"""The layers of the packages hold: every import-linter contract in pyproject.toml is kept;
and the test tree's modules can be imported side by side."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from helpers import ROOT


def test_every_import_contract_is_kept() -> None:
    # The environment's own, also when it is not on PATH.
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    lint_imports = lint_imports or shutil.which("lint-imports")
    assert lint_imports is not None, "import-linter is a test dependency"
    done = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert " BROKEN" not in done.stdout
    # The contracts the layout rests on are among those checked.
    for contract in ("-> tools -> client -> foundation", "web -> session -> engines", "sans-I/O"):
        assert contract in done.stdout


def test_no_two_test_modules_share_a_name() -> None:
    # Test folders are not packages: two modules of one name cannot both be imported by one
    # pytest process (a worker that draws both fails with "import file mismatch").
    names = Counter(
        path.name
        for folder in ("tests", "examples")
        for path in (ROOT / folder).rglob("test_*.py")
        if "node_modules" not in path.parts
    )
    assert not [name for name, count in names.items() if count > 1]
