"""The `seed-audit` command: what the seed tutorial's audio loop does to a recording."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

from harness.cli.options import fixture_option, print_json

if TYPE_CHECKING:
    from pathlib import Path

    from harness.audio.audit import ConversionAudit


@click.command("seed-audit")
@fixture_option("feedback", "to use")
@click.option(
    "--gain-db",
    type=float,
    default=6.0,
    show_default=True,
    help="Gain before conversion, as a hot microphone or a gain node would add.",
)
@click.option(
    "--frame-samples",
    type=click.IntRange(1, 16384),
    default=1024,
    show_default=True,
    help="Samples per frame, as the browser's ScriptProcessorNode delivers them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def seed_audit(folder: Path, gain_db: float, frame_samples: int, as_json: bool) -> None:
    """Show, measured on a bundled recording, what the seed tutorial's audio loop does.

    The tutorial converts each Float32 frame to Int16 with a loop that never writes
    sample 0 and does not clamp below -1, so loud negative peaks wrap to positive.

    Example: symbl-harness seed-audit --fixture standup --gain-db 9
    """
    from harness.audio.audit import audit_seed_conversion
    from harness.audio.pcm import int16_to_float32, level
    from harness.session_folder.transcript import read_transcript
    from harness.session_folder.wavfile import read_pcm16

    audio = read_pcm16(folder / "audio.wav")
    transcript = read_transcript(folder / "transcript.json")
    signal = int16_to_float32(audio.samples) * 10 ** (gain_db / 20)
    audit = audit_seed_conversion(signal, frame_samples)
    figures = {
        "fixture": folder.name,
        "sample_rate": audio.sample_rate,
        "seconds": round(audio.samples.size / audio.sample_rate, 3),
        "gain_db": gain_db,
        "peak_dbfs": round(level(signal).peak_dbfs, 2),
        "words": len(transcript.words),
        **audit.to_json(),
    }
    if as_json:
        print_json(figures)
        return
    _show_audit(figures, audit, transcript.text)


def _db(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f} dB"


def _show_audit(figures: dict[str, Any], audit: ConversionAudit, text: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)
    console.print(
        f"[bold]{figures['fixture']}[/]: {figures['sample_rate']} Hz, {figures['seconds']} s, "
        f"{figures['words']} words, "
        f"peak {figures['peak_dbfs']} dBFS after {figures['gain_db']:+} dB"
    )
    console.print(f"[dim]{text[:160]}{'…' if len(text) > 160 else ''}[/]")
    table = Table(title="Seed tutorial conversion vs a correct one", title_justify="left")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"frames of {audit.frame_samples} samples", f"{audit.frames:,}")
    table.add_row("frames whose first sample the loop zeroes", f"{audit.first_sample_zeroed:,}")
    table.add_row("negative samples wrapped to positive", f"{audit.wrapped_samples:,}")
    table.add_row("samples beyond full scale", f"{audit.beyond_full_scale:,}")
    table.add_row("worst error (LSB)", f"{audit.worst_error_lsb:,}")
    table.add_row("signal-to-error, seed loop", _db(audit.seed_snr_db))
    table.add_row("signal-to-error, correct conversion", _db(audit.correct_snr_db))
    console.print(table)
