"""The documentation: the site builds with every warning an error, and every relative link of
the README reaches a file of the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# A file the README names in prose, such as PROTOCOL.md, is a promise of that file too.
_NAMED_FILE = re.compile(r"(?<![\w/.-])([\w./-]+\.md)\b")


def test_the_site_builds_with_warnings_as_errors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "WARNING" not in output, output
    # The command reference is generated from the Click commands: every one has its section.
    from harness.cli import main

    cli_page = (tmp_path / "cli" / "index.html").read_text()
    for name in main.commands:
        assert f'id="symbl-harness-{name}"' in cli_page, name
    # Defaults as Click prints them, not its internal sentinel for "none given".
    assert "Sentinel" not in cli_page


def _relative_targets(text: str) -> list[str]:
    targets = [t for t in _LINK.findall(text) if not urlsplit(t).scheme]
    prose = _LINK.sub("", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    return targets + _NAMED_FILE.findall(prose)


def test_every_relative_link_of_the_readme_reaches_a_file() -> None:
    missing = []
    for target in _relative_targets(README.read_text()):
        path = unquote(urlsplit(target).path)
        if path and not (ROOT / path).exists():
            missing.append(target)
    assert not missing, f"README.md links files that are not in the repository: {missing}"


def test_the_link_check_sees_links_and_named_files() -> None:
    text = "See [the protocol](docs/protocol.md#auth), PROTOCOL.md and [x](https://a.b/c.md).\n"
    assert _relative_targets(text) == ["docs/protocol.md#auth", "PROTOCOL.md"]
