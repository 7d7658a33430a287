"""What a session folder holds, in a few figures: the content of `symbl-harness inspect`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.protocol import Dispatcher, InsightResponse, ProtocolError, ServerError
from harness.session_folder.log import AudioFrame, ErrorRecord, SessionLog, TextFrame


def summarise(log: SessionLog) -> dict[str, Any]:
    """Header, audio, record and event counts, what a client learned, and any problems."""
    dispatcher = Dispatcher()
    insights: list[str] = []
    errors: list[str] = []
    event_types: Counter[str] = Counter()
    for frame in log.received():
        (event,) = dispatcher.feed(frame.frame)
        event_types[event.type or type(event).__name__] += 1
        if isinstance(event, InsightResponse):
            insights.extend(f"{insight.type}: {insight.text}" for insight in event.insights)
        elif isinstance(event, ProtocolError):
            errors.append(event.reason)
        elif isinstance(event, ServerError):
            errors.append(event.message or event.details or "error")
    kinds: Counter[str] = Counter()
    for record in log.records:
        if isinstance(record, TextFrame):
            kinds[f"{record.direction} text"] += 1
        elif isinstance(record, AudioFrame):
            kinds["send audio"] += 1
        else:
            kinds[type(record).__name__.lower()] += 1
    rate = log.sample_rate
    return {
        "folder": str(log.folder),
        "complete": log.complete,
        "endpoint": log.header.get("endpoint"),
        "created": log.header.get("created"),
        "tool": log.header.get("tool"),
        "sample_rate": rate,
        "encoding": log.header.get("encoding"),
        "audio_samples": int(log.audio.size),
        "audio_seconds": round(log.audio.size / rate, 3),
        "audio_frames": kinds["send audio"],
        "records": dict(kinds),
        "events": dict(event_types),
        "conversation_id": dispatcher.conversation_id,
        "final_transcripts": dispatcher.final_transcripts,
        "insights": insights,
        "errors": errors + [r.message for r in log.records if isinstance(r, ErrorRecord)],
        "problems": list(log.problems),
    }
