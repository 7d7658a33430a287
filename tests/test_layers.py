"""The layers of the packages hold: every import-linter contract in pyproject.toml is kept."""

from __future__ import annotations

import shutil
import subprocess

from helpers import ROOT


def test_every_import_contract_is_kept() -> None:
    lint_imports = shutil.which("lint-imports")
    assert lint_imports is not None, "import-linter is a test dependency"
    done = subprocess.run(
        [lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:]
    assert " BROKEN" not in done.stdout
    # The contracts the layout rests on are among those checked.
    for contract in ("-> tools -> client -> foundation", "web -> session -> engines", "sans-I/O"):
        assert contract in done.stdout
