"""One self-contained HTML page about a session: what was said, heard and found, and when.

`load_report` reads a session folder (and a baseline to compare it with); `render_report`
turns what was read into the page, with no I/O: inline CSS and SVG, no script and no
reference to anything outside the file, so it opens offline and sends no request. Every
text taken from the session is redacted of secrets and HTML-escaped before it is inserted.

The timeline's axis is the session clock (seconds since the connection opened): events sit
where they arrived, and speech where the audio holding it was sent, read on the same clock
as latency (`harness.tools.latency.SendClock`). A final's latency marker runs from the send
of its phrase's last word to the final's arrival; the words' times come from the session's
`transcript.json`, or for a replay, from that of the session it replayed (its header names
it: `harness.tools.replay.replay_source`). Insights, topics and tracker hits sit on the
timeline where they arrived, and beside the messages they refer to.
"""

from __future__ import annotations

import difflib
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.conformance.check import CONFORMANCE_FILE, check_log
from harness.errors import HarnessError
from harness.protocol import (
    InsightResponse,
    MessageResponse,
    RecognitionResult,
    TopicResponse,
    TrackerResponse,
    parse_message,
)
from harness.session_folder.log import TRANSCRIPT_FILE, SessionLog, read_session
from harness.session_folder.redact import Redactor
from harness.session_folder.transcript import Transcript, read_transcript
from harness.tools.compare import Comparison, Difference, Tolerances, compare
from harness.tools.latency import SendClock, session_latency
from harness.tools.replay import replay_source

REPORT_FILE = "report.html"
# The SVG's coordinate system: the page scales it to its width.
WIDTH = 1200
LEFT = 96
RIGHT = 16
WAVE_BINS = 1200


class ReportError(HarnessError):
    """A report that cannot be written; the message is one line."""


@dataclass(frozen=True)
class ReportData:
    """What a report shows, as read from the session folder (and the baseline)."""

    log: SessionLog
    transcript: Transcript | None
    conformance: Mapping[str, Any]
    conformance_recorded: bool
    latencies: tuple[float, ...] = ()
    baseline: Path | None = None
    comparison: Comparison | None = None
    notes: tuple[str, ...] = ()
    # The folder whose transcript.json is the reference: the session's own, or the one a
    # replay replayed.
    reference: Path | None = None


def load_report(
    session: Path, baseline: Path | None = None, tolerances: Tolerances | None = None
) -> ReportData:
    """Read a session folder, its reference transcript and conformance report, and compare
    it with `baseline` within `tolerances` (the defaults if None) if given; raises a
    HarnessError with a one-line reason on bad input."""
    log = read_session(session)
    notes: list[str] = []
    reference = _reference(session, log, notes)
    transcript = read_transcript(reference / TRANSCRIPT_FILE) if reference is not None else None
    conformance, recorded = _conformance(log, session / CONFORMANCE_FILE, notes)
    latencies = _latencies(log, transcript, notes)
    comparison = None
    if baseline is not None:
        comparison = compare(read_session(baseline), log, tolerances or Tolerances())
    return ReportData(
        log,
        transcript,
        conformance,
        recorded,
        latencies,
        baseline=baseline,
        comparison=comparison,
        notes=tuple(notes),
        reference=reference,
    )


def _reference(session: Path, log: SessionLog, notes: list[str]) -> Path | None:
    """The folder holding the reference transcript: the session's own, else that of the
    session it replayed (a replay of a replay: the first in the chain that has one)."""
    folder, header, seen = session, log.header, set()
    while not (folder / TRANSCRIPT_FILE).is_file():
        source = replay_source(folder, header)
        if source is None or source.resolve() in seen:
            named = header.get("replay_of") or header.get("replay_of_relative")
            if named:
                notes.append(
                    f"no {TRANSCRIPT_FILE} here nor in the replayed session "
                    f"{named} (or it is gone): no latency is measured"
                )
            return None
        seen.add(source.resolve())
        folder = source
        if not (folder / TRANSCRIPT_FILE).is_file():
            try:
                header = read_session(folder).header
            except HarnessError as error:
                notes.append(f"the replayed session cannot be read ({error})")
                return None
    return folder


def _conformance(log: SessionLog, path: Path, notes: list[str]) -> tuple[Mapping[str, Any], bool]:
    """The conformance report written while recording, or one judged now from the log."""
    if path.is_file():
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
            findings = report.get("findings") if isinstance(report, dict) else None
            if isinstance(findings, list) and all(
                isinstance(f, dict) and isinstance(f.get("evidence", {}), dict) for f in findings
            ):
                return report, True
            notes.append(f"{CONFORMANCE_FILE} holds no findings list; judged again from the log")
        except (OSError, ValueError) as error:
            notes.append(f"{CONFORMANCE_FILE} is unreadable ({error}); judged again from the log")
    return check_log(log), False


def _latencies(
    log: SessionLog, transcript: Transcript | None, notes: list[str]
) -> tuple[float, ...]:
    """Each phrase's final latency in ms, as `harness.tools.latency` measures it."""
    if transcript is None or not log.audio_frames():
        return ()
    try:
        return tuple(session_latency(log, transcript).finalisation_ms)
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        # A server event of a shape the latency reader does not expect: the rest still shows.
        notes.append(
            f"final latency not measured: an event in the log has an unexpected shape ({error!r})"
        )
        return ()


def write_report(
    session: Path,
    baseline: Path | None = None,
    out: Path | None = None,
    tolerances: Tolerances | None = None,
) -> Path:
    """Write the report of `session` (to SESSION/report.html by default), compared with
    `baseline` within `tolerances` if given, and return its path."""
    data = load_report(session, baseline, tolerances)
    path = out if out is not None else session / REPORT_FILE
    try:
        path.write_text(render_report(data), encoding="utf-8")
    except OSError as error:
        raise ReportError(f"cannot write the report to {path}: {error.strerror or error}") from None
    return path


# ---------------------------------------------------------------------------------------------
# What the page shows, gathered from the log


@dataclass(frozen=True)
class _Final:
    number: int
    t: float
    text: str
    speaker: str
    sentiment: str | None
    polarity: float | None
    spoken: tuple[float, float] | None  # audio seconds
    latency_ms: float | None
    partials: int


@dataclass(frozen=True)
class _Arrival:
    t: float
    label: str
    detail: str
    # The ids of the messages it refers to (which may arrive after it).
    ids: tuple[str, ...] = ()


@dataclass
class _Timeline:
    partials: list[_Arrival] = field(default_factory=list)
    final_results: list[float] = field(default_factory=list)
    finals: list[_Final] = field(default_factory=list)
    insights: list[_Arrival] = field(default_factory=list)
    topics: list[_Arrival] = field(default_factory=list)
    trackers: list[_Arrival] = field(default_factory=list)
    # Each message id's number on the page.
    numbers: dict[str, int] = field(default_factory=dict)
    end: float = 0.0

    def refs(self, arrival: _Arrival) -> tuple[int, ...]:
        """The numbers of the messages `arrival` refers to, those that arrived."""
        return tuple(self.numbers[i] for i in arrival.ids if i in self.numbers)


def _sentiment(raw: Mapping[str, Any]) -> tuple[str | None, float | None]:
    sentiment = raw.get("sentiment")
    if not isinstance(sentiment, dict):
        return None, None
    label = sentiment.get("suggested")
    polarity = sentiment.get("polarity")
    score = polarity.get("score") if isinstance(polarity, dict) else None
    return (
        str(label) if label is not None else None,
        float(score) if isinstance(score, int | float) else None,
    )


def _spoken(raw: Mapping[str, Any]) -> tuple[float, float] | None:
    duration = raw.get("duration")
    if not isinstance(duration, dict):
        return None
    offset, length = duration.get("timeOffset"), duration.get("duration")
    if isinstance(offset, int | float) and isinstance(length, int | float):
        return float(offset), float(offset) + float(length)
    return None


def _timeline(data: ReportData) -> _Timeline:
    log = data.log
    latencies = data.latencies
    line = _Timeline(end=max([r.t for r in log.records] + [0.0]))
    numbers = line.numbers
    partials_since = 0
    responses = 0
    for frame in log.received():
        if not isinstance(frame.data, dict):
            continue
        event = parse_message(frame.data)
        if isinstance(event, RecognitionResult):
            if event.is_final:
                line.final_results.append(frame.t)
            elif event.transcript.strip():
                partials_since += 1
                line.partials.append(_Arrival(frame.t, "partial", event.transcript))
        elif isinstance(event, MessageResponse):
            latency = latencies[responses] if responses < len(latencies) else None
            responses += 1
            raws = [m for m in frame.data.get("messages") or [] if isinstance(m, dict)]
            for message, raw in zip(event.messages, raws, strict=False):
                number = len(line.finals) + 1
                numbers[str(message.id)] = number
                label, score = _sentiment(raw)
                line.finals.append(
                    _Final(
                        number=number,
                        t=frame.t,
                        text=message.text,
                        speaker=(message.sender.name or "") if message.sender else "",
                        sentiment=label,
                        polarity=score,
                        spoken=_spoken(raw),
                        latency_ms=latency,
                        partials=partials_since,
                    )
                )
                latency, partials_since = None, 0
        elif isinstance(event, InsightResponse):
            for insight in event.insights:
                ids = (insight.message_id,) if insight.message_id else ()
                line.insights.append(_Arrival(frame.t, insight.type, insight.text, ids))
        elif isinstance(event, TopicResponse):
            for topic in event.topics:
                scored = f"{topic.score:g}" if topic.score is not None else ""
                line.topics.append(_Arrival(frame.t, topic.phrases, scored, topic.message_ids))
        elif isinstance(event, TrackerResponse):
            for tracker in event.trackers:
                line.trackers += [
                    _Arrival(frame.t, tracker.name, match.value, match.message_ids)
                    for match in tracker.matches
                ]
    return line


# ---------------------------------------------------------------------------------------------
# Rendering


class _Text:
    """Session text made safe to insert: secrets redacted, then HTML-escaped."""

    def __init__(self) -> None:
        self._redactor = Redactor()

    def __call__(self, value: object) -> str:
        return html.escape(self._redactor.text(str(value)), quote=True)


def _seconds(value: float) -> str:
    return f"{value:.2f}"


def _ticks(end: float) -> list[float]:
    """Round tick positions, about ten over the axis."""
    raw = max(end, 1.0) / 10
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(end / step) + 1)]


class _Axis:
    def __init__(self, end: float) -> None:
        self.end = max(end, 1e-3)

    def x(self, t: float) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * min(max(t, 0.0), self.end) / self.end, 1)


def _envelope(log: SessionLog, clock: SendClock, axis: _Axis) -> str:
    """The audio's peak envelope, drawn where each sample was sent: an SVG path."""
    audio = log.audio
    if not log.audio_frames() or audio.size == 0:
        return ""
    bins = min(WAVE_BINS, audio.size)
    edges = np.linspace(0, audio.size, bins + 1).astype(np.int64)[:-1]
    peaks = np.maximum.reduceat(np.abs(audio.astype(np.int32)), edges) / 32768.0
    sent = [clock.sent(int(edge) / log.sample_rate) or 0.0 for edge in edges]
    middle, half = 69.0, 31.0
    top = [
        f"{axis.x(float(t))},{middle - half * float(p):.1f}"
        for t, p in zip(sent, peaks, strict=True)
    ]
    bottom = [
        f"{axis.x(float(t))},{middle + half * float(p):.1f}"
        for t, p in zip(sent[::-1], peaks[::-1], strict=True)
    ]
    return f'<path class="waveform" d="M{" L".join(top + bottom)} Z"/>'


def _finding_marks(data: ReportData, clock: SendClock, axis: _Axis, text: _Text) -> list[str]:
    """A mark on the waveform at each audio position a finding's evidence names."""
    log = data.log
    marks = []
    for finding in data.conformance.get("findings") or []:
        positions = (finding.get("evidence") or {}).get("first_positions")
        if not isinstance(positions, list) or not log.audio_frames():
            continue
        samples = [p for p in positions if isinstance(p, int) and 0 <= p < log.audio.size]
        if not samples:
            continue
        code = text(finding.get("code", "?"))
        for sample in samples:
            x = axis.x(clock.sent(sample / log.sample_rate) or 0.0)
            marks.append(
                f'<path class="finding-mark" d="M{x},102 l-5,8 h10 Z"><title>{code} at sample '
                f"{sample} ({sample / log.sample_rate:.3f} s of audio)</title></path>"
            )
    return marks


SENTIMENT_CLASSES = {"positive": "positive", "negative": "negative", "neutral": "neutral"}


def _sentiment_class(label: str | None) -> str:
    return SENTIMENT_CLASSES.get((label or "").lower(), "unknown")


def _mark(css: str, x: float, y: float) -> str:
    """A triangle for what the server inferred (insight, topic); a diamond for a tracker
    hit, words found rather than inferred."""
    if css == "tracker":
        return f"M{x},{y - 7} L{x + 6},{y} L{x},{y + 7} L{x - 6},{y} Z"
    return f"M{x},{y - 7} L{x + 6},{y + 5} L{x - 6},{y + 5} Z"


def _svg(data: ReportData, line: _Timeline, text: _Text) -> str:
    axis = _Axis(line.end)
    clock = SendClock(data.log)
    lanes = {
        "audio": 20,
        "partials": 118,
        "finals": 150,
        "insights": 206,
        "topics": 236,
        "trackers": 266,
    }
    height = 330
    out = [
        f'<svg id="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="timeline of the session" xmlns="http://www.w3.org/2000/svg">'
    ]
    names = {
        "audio": "audio sent",
        "partials": "partials",
        "finals": "finals",
        "insights": "insights",
        "topics": "topics",
        "trackers": "trackers",
    }
    for lane, y in lanes.items():
        label_y = y + 44 if lane == "audio" else y + 14
        out.append(f'<text class="lane" x="4" y="{label_y}">{names[lane]}</text>')
    for tick in _ticks(axis.end):
        x = axis.x(tick)
        out.append(f'<line class="grid" x1="{x}" y1="14" x2="{x}" y2="{height - 34}"/>')
        out.append(f'<text class="tick" x="{x}" y="{height - 22}">{tick:g}</text>')
    labels = []
    for number, (label, start, end) in enumerate(_speech_spans(data, line), start=1):
        first, last = clock.sent(start), clock.sent(end, end=True)
        if first is None or last is None:
            continue
        x0, x1 = axis.x(first), axis.x(last)
        out.append(
            f'<rect class="phrase" x="{x0}" y="22" width="{max(x1 - x0, 1):.1f}" height="80">'
            f"<title>{text(label)}</title></rect>"
        )
        # As many of the phrase's words as its span holds (its full text is in the title).
        room = int((x1 - x0 - 14) / 6.2)
        words = label if len(label) <= room else label[: max(room - 1, 0)].rstrip() + "…"
        labels.append(
            f'<text class="phrase-number" x="{x0 + 2}" y="33">{number}'
            f'<tspan class="phrase-words" dx="4">{text(words) if room > 3 else ""}</tspan></text>'
        )
    # The waveform over the spans, their labels above both.
    out.append(_envelope(data.log, clock, axis))
    out += labels
    out += _finding_marks(data, clock, axis, text)
    for partial in line.partials:
        x = axis.x(partial.t)
        out.append(
            f'<line class="partial" x1="{x}" y1="{lanes["partials"] + 2}" x2="{x}" '
            f'y2="{lanes["partials"] + 22}"><title>{_seconds(partial.t)} s: '
            f"{text(partial.detail)}</title></line>"
        )
    y = lanes["finals"]
    for t in line.final_results:
        x = axis.x(t)
        out.append(f'<line class="final-result" x1="{x}" y1="{y}" x2="{x}" y2="{y + 10}"/>')
    for final in line.finals:
        x = axis.x(final.t)
        row = y + 22 + 14 * ((final.number - 1) % 2)
        if final.latency_ms is not None:
            x0 = axis.x(final.t - final.latency_ms / 1000)
            out.append(
                f'<line class="latency" x1="{x0}" y1="{row}" x2="{x}" y2="{row}">'
                f"<title>message {final.number}: final latency {final.latency_ms:.0f} ms"
                "</title></line>"
            )
            out.append(
                f'<text class="latency-label" x="{x0 - 3}" y="{row + 4}">'
                f"{final.latency_ms:.0f} ms</text>"
            )
        sentiment = f", {text(final.sentiment)}" if final.sentiment else ""
        out.append(
            f'<circle class="final {_sentiment_class(final.sentiment)}" cx="{x}" cy="{row}" r="6">'
            f"<title>{_seconds(final.t)} s: message {final.number}{sentiment}: "
            f"{text(final.text)}</title></circle>"
        )
        out.append(f'<text class="final-number" x="{x + 8}" y="{row + 4}">{final.number}</text>')
    for lane, arrivals, css in (
        ("insights", line.insights, "insight"),
        ("topics", line.topics, "topic"),
        ("trackers", line.trackers, "tracker"),
    ):
        y = lanes[lane] + 12
        # What one frame brought is one mark, counted, its title listing them all.
        together: dict[float, list[_Arrival]] = {}
        for arrival in arrivals:
            together.setdefault(arrival.t, []).append(arrival)
        for t, group in together.items():
            x = axis.x(t)
            each = [
                f"{text(a.label)}: {text(a.detail)} (message {_refs(line.refs(a))})" for a in group
            ]
            listed = each[0] if len(each) == 1 else f"{len(each)} {lane}:\n" + "\n".join(each)
            out.append(
                f'<path class="{css}" d="{_mark(css, x, y)}">'
                f"<title>{_seconds(t)} s: {listed}</title></path>"
            )
            if len(group) > 1:
                out.append(f'<text class="count" x="{x + 8}" y="{y + 5}">&#215;{len(group)}</text>')
    out.append(
        f'<text class="axis-label" x="{(LEFT + WIDTH - RIGHT) / 2}" y="{height - 6}">'
        "seconds since the connection opened</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def _speech_spans(data: ReportData, line: _Timeline) -> list[tuple[str, float, float]]:
    """The phrases spoken (from the transcript), else the finals' own audio spans."""
    if data.transcript is not None:
        return [(p.text, p.start, p.end) for p in data.transcript.phrases]
    return [(f.text, *f.spoken) for f in line.finals if f.spoken is not None]


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    """An HTML table from cells already made safe."""
    cls = f' class="{css}"' if css else ""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table{cls}><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _refs(numbers: tuple[int, ...]) -> str:
    return ", ".join(f"#{n}" for n in numbers) or "-"


def _found(line: _Timeline, text: _Text) -> dict[int, list[str]]:
    """Per message number, the insights, topics and tracker hits that refer to it, each
    with when it arrived."""
    found: dict[int, list[str]] = {}

    def tag(css: str, what: str, detail: str, t: float, numbers: Iterable[int]) -> None:
        shown = (
            f'<div class="tag {css}"><b>{text(what)}</b> {text(detail)} '
            f'<span class="at">at {_seconds(t)} s</span></div>'
        )
        for number in numbers:
            found.setdefault(number, []).append(shown)

    for insight in line.insights:
        tag("insight", insight.label, insight.detail, insight.t, line.refs(insight))
    # The topics of one topic_response, on one line per message.
    for t, message, group in _by_frame_and_message(line, line.topics):
        phrases = ", ".join(topic.label for topic in group)
        tag("topic", "topics" if len(group) > 1 else "topic", phrases, t, (message,))
    for hit in line.trackers:
        tag("tracker", "tracker", f"{hit.label}: {hit.detail}", hit.t, line.refs(hit))
    return found


def _by_frame_and_message(
    line: _Timeline, arrivals: list[_Arrival]
) -> list[tuple[float, int, list[_Arrival]]]:
    """Arrivals grouped by the frame they came in (its time) and each message they name."""
    groups: dict[tuple[float, int], list[_Arrival]] = {}
    for arrival in arrivals:
        for number in line.refs(arrival):
            groups.setdefault((arrival.t, number), []).append(arrival)
    return [(t, number, group) for (t, number), group in groups.items()]


def _messages(line: _Timeline, text: _Text) -> str:
    if not line.finals:
        return "<p>No final message arrived.</p>"
    rows = []
    found = _found(line, text)
    for final in line.finals:
        spoken = f"{final.spoken[0]:.2f}-{final.spoken[1]:.2f}" if final.spoken else "-"
        latency = f"{final.latency_ms:.0f}" if final.latency_ms is not None else "-"
        polarity = f" ({final.polarity:+.2f})" if final.polarity is not None else ""
        sentiment = (
            f'<span class="badge {_sentiment_class(final.sentiment)}">'
            f"{text(final.sentiment)}{polarity}</span>"
            if final.sentiment
            else "-"
        )
        rows.append(
            (
                f"#{final.number}",
                _seconds(final.t),
                spoken,
                latency,
                str(final.partials),
                sentiment,
                text(final.speaker) or "-",
                f'<span class="message-text">{text(final.text)}</span>',
                "".join(found.get(final.number, [])) or "-",
            )
        )
    return _table(
        (
            "#",
            "arrived (s)",
            "spoken (audio s)",
            "final latency (ms)",
            "partials",
            "sentiment",
            "speaker",
            "text",
            "insights, topics, trackers",
        ),
        rows,
        "messages",
    )


def _arrivals(
    line: _Timeline, arrivals: list[_Arrival], what: str, head: tuple[str, str], text: _Text
) -> str:
    if not arrivals:
        return f"<p>No {what} arrived.</p>"
    rows = [
        (_seconds(a.t), text(a.label), text(a.detail) or "-", _refs(line.refs(a))) for a in arrivals
    ]
    return _table(("arrived (s)", *head, "messages"), rows, what)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _conformance_html(data: ReportData, text: _Text) -> str:
    report = data.conformance
    source = (
        f"from {CONFORMANCE_FILE}, judged while the session was recorded"
        if data.conformance_recorded
        else f"judged now from the recorded traffic (the folder holds no {CONFORMANCE_FILE})"
    )
    declared = report.get("declared") or {}
    summary = (
        f"{report.get('frames', '?')} audio frames, {report.get('audio_seconds', '?')} s of audio "
        f"over {report.get('wall_seconds', '?')} s; declared {declared.get('encoding', '?')} "
        f"{declared.get('sample_rate', '?')} Hz; arrival rate "
        f"{report.get('arrival_rate_hz', '?')} Hz; level {report.get('level_dbfs', '?')} dBFS"
    )
    parts = [f'<p class="source">{text(source)}</p>', f"<p>{text(summary)}</p>"]
    if report.get("note"):
        parts.append(f'<p class="note">{text(report["note"])}</p>')
    findings = report.get("findings") or []
    if not findings:
        parts.append('<p class="ok">No findings: the client sent what the protocol expects.</p>')
    for finding in findings:
        evidence = finding.get("evidence") or {}
        rows = "".join(
            f"<tr><th>{text(key)}</th><td>{text(_value(value))}</td></tr>"
            for key, value in evidence.items()
        )
        parts.append(
            f'<div class="finding"><h3><code>{text(finding.get("code", "?"))}</code></h3>'
            f"<p>{text(finding.get('explanation', ''))}</p>"
            f'<table class="evidence"><tbody>{rows}</tbody></table></div>'
        )
    return "\n".join(parts)


def _word_diff(before: str, after: str, text: _Text) -> tuple[str, str]:
    """Both texts with the words that differ marked."""
    a, b = before.split(), after.split()
    old: list[str] = []
    new: list[str] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        left, right = text(" ".join(a[a0:a1])), text(" ".join(b[b0:b1]))
        if tag == "equal":
            old.append(left)
            new.append(right)
            continue
        if left:
            old.append(f"<del>{left}</del>")
        if right:
            new.append(f"<ins>{right}</ins>")
    return " ".join(old), " ".join(new)


# What each tolerance bounds, and how its figure reads.
TOLERANCE_MEANINGS = {
    "wer": ("word error rate, normalised", "{:.3f}"),
    "timing_ms": ("largest shift of a message in the audio (ms)", "{:.0f}"),
    "insight_similarity": ("least text similarity for an insight to match", "{:g}"),
    "missing_insights": ("baseline insights missing", "{:.0f}"),
    "extra_insights": ("insights not in the baseline", "{:.0f}"),
    "missing_topics": ("baseline topics missing", "{:.0f}"),
    "sentiment_flips": ("matched messages whose sentiment changed", "{:.0f}"),
}


def _verdict(difference: Difference) -> str:
    if difference.within:
        return '<span class="ok">within</span>'
    # No tolerance loosens the order of events: a difference there always counts.
    unbounded = " (no tolerance applies)" if difference.aspect == "sequence" else ""
    return f'<span class="bad">outside</span><span class="rule">{unbounded}</span>'


def _tolerances_html(comparison: Comparison) -> str:
    """Each tolerance: its bound (default or set), the figure measured and the verdict."""
    defaults = Tolerances()
    rows = []
    for check in comparison.checks():
        meaning, form = TOLERANCE_MEANINGS.get(check.name, (check.name, "{:g}"))
        default = getattr(defaults, check.name)
        bound = form.format(check.bound) + (
            " (default)" if check.bound == default else f" (set; default {form.format(default)})"
        )
        if check.name == "insight_similarity":
            measured, verdict = "-", '<span class="rule">used to match insights</span>'
        elif check.measured is None:
            measured, verdict = "-", '<span class="rule">not measured</span>'
        else:
            measured = form.format(check.measured)
            verdict = (
                '<span class="ok">within</span>'
                if check.within
                else '<span class="bad">outside</span>'
            )
        rows.append((f"<code>{check.name}</code>", meaning, bound, measured, verdict))
    return _table(
        ("tolerance", "what it bounds", "allowed", "this session", "verdict"), rows, "tolerances"
    )


def _comparison_html(data: ReportData, text: _Text) -> str:
    comparison = data.comparison
    if comparison is None:
        return ""
    figures = comparison.figures
    verdict = (
        '<p class="verdict ok">matches the baseline within the tolerances</p>'
        if comparison.matches
        else '<p class="verdict bad">differs from the baseline beyond the tolerances</p>'
    )
    rows = [
        ("word error rate, normalised", f"{figures['wer']:.3f}"),
        ("word error rate, raw", f"{figures['wer_raw']:.3f}"),
    ]
    for key in ("messages", "insights", "topics"):
        pair = figures[key]
        rows.append((key, f"{pair['baseline']} in the baseline, {pair['candidate']} here"))
    rows.append(("sentiment flips", str(figures["sentiment_flips"])))
    if "timing_ms" in figures:
        timing = figures["timing_ms"]
        rows.append(
            (
                "message timing vs baseline (ms)",
                f"mean {timing['mean']:+.0f}, from {timing['earliest']:+.0f} "
                f"to {timing['latest']:+.0f}",
            )
        )
    parts = [
        f"<h2>Against the baseline</h2><p>Baseline: <code>{text(data.baseline)}</code></p>",
        verdict,
        _table(("figure", "value"), rows, "figures"),
        "<h3>Tolerances</h3>",
        _tolerances_html(comparison),
    ]
    parts.append("<h3>Differences</h3>")
    if comparison.differences:
        parts.append(
            _table(
                ("aspect", "difference", "verdict"),
                ((text(d.aspect), text(d.detail), _verdict(d)) for d in comparison.differences),
                "differences",
            )
        )
    else:
        parts.append("<p>No differences.</p>")
    parts += [f'<p class="note">note: {text(note)}</p>' for note in comparison.notes]
    aligned = []
    for row in comparison.aligned:
        if row.status == "changed" and row.baseline is not None and row.candidate is not None:
            old, new = _word_diff(row.baseline, row.candidate, text)
        else:
            old, new = text(row.baseline or ""), text(row.candidate or "")
        aligned.append((f'<span class="status {row.status}">{row.status}</span>', old, new))
    if aligned:
        parts.append("<h3>Messages side by side</h3>")
        parts.append(_table(("", "baseline", "this session"), aligned, "aligned"))
    return '<section id="comparison">' + "\n".join(parts) + "</section>"


def _reference_fact(data: ReportData) -> str:
    if data.transcript is None or data.reference is None:
        return (
            f"no {TRANSCRIPT_FILE}: the shaded spans are the messages' own audio spans, "
            "and no latency is measured"
        )
    phrases = f"{TRANSCRIPT_FILE}: {len(data.transcript.phrases)} phrases"
    if data.reference == data.log.folder:
        return phrases
    return f"{phrases}, of the session this one replayed: {data.reference}"


def _count(number: int, what: str) -> str:
    return f"{number} {what}" + ("" if number == 1 else "s")


def _header_html(data: ReportData, line: _Timeline, text: _Text) -> str:
    log = data.log
    header = log.header
    seconds = log.audio.size / log.sample_rate
    facts = [
        ("endpoint", header.get("endpoint", "")),
        ("recorded", header.get("created", "")),
        ("by", header.get("tool", "")),
        ("audio", f"{seconds:.2f} s, {log.sample_rate} Hz {header.get('encoding', '')}"),
        (
            "received",
            ", ".join(
                _count(len(things), what)
                for things, what in (
                    (line.partials, "partial"),
                    (line.finals, "message"),
                    (line.insights, "insight"),
                    (line.topics, "topic"),
                    (line.trackers, "tracker hit"),
                )
            ),
        ),
        ("reference", _reference_fact(data)),
    ]
    rows = "".join(f"<tr><th>{k}</th><td>{text(v)}</td></tr>" for k, v in facts)
    problems = list(log.problems) + list(data.notes)
    warn = "".join(f'<p class="note">{text(p)}</p>' for p in problems)
    if data.comparison is not None:
        outcome = "matches" if data.comparison.matches else "differs from"
        css = "ok" if data.comparison.matches else "bad"
        warn += (
            f'<p class="verdict {css}">This session {outcome} the baseline '
            f"<code>{text(data.baseline)}</code> (word error rate "
            f"{data.comparison.figures['wer']:.3f} normalised): "
            '<a href="#comparison">the differences</a></p>'
        )
    return f'<table class="facts"><tbody>{rows}</tbody></table>{warn}'


STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid
#d8dce3;padding-bottom:4px}h3{font-size:15px;margin:12px 0 4px}
table{border-collapse:collapse;background:#fff;margin:6px 0;font-size:14px}
th,td{border:1px solid #dde1e7;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#eef1f5}.facts th,.evidence th{background:#f3f5f8;font-weight:600}
table.messages,table.aligned{width:100%}
#timeline{width:100%;min-width:960px;height:auto;background:#fff;border:1px solid #dde1e7}
.scroll{overflow-x:auto}
.waveform{fill:#4a6fa5;stroke:#4a6fa5;stroke-width:.5}
.phrase{fill:#f2c14e;opacity:.28}.phrase-number{font-size:11px;fill:#8a6d1a}
.lane{font-size:12px;fill:#4b5263;font-weight:600}.tick{font-size:11px;fill:#6b7280;
text-anchor:middle}.axis-label{font-size:12px;fill:#4b5263;text-anchor:middle}
.phrase-words{fill:#5c4a12}
.grid{stroke:#e7e9ee;stroke-width:1}.partial{stroke:#7c8db5;stroke-width:1.2}
.final-result{stroke:#333;stroke-width:1.5}
.latency{stroke:#c2410c;stroke-width:3;opacity:.75}.latency-label{font-size:10px;fill:#c2410c;
text-anchor:end}.final-number{font-size:11px;fill:#1d2330}
circle.final{stroke:#1d2330;stroke-width:1}
.insight{fill:#7c3aed}.finding-mark{fill:#dc2626}.topic{fill:#0d9488}.tracker{fill:#db2777}
.tag{font-size:13px;margin:1px 0}.count{font-size:11px;fill:#4b5263}
.message-text{display:block;min-width:16em}.tag b{font-weight:600}
.tag.insight b{color:#7c3aed}.tag.topic b{color:#0d9488}.tag.tracker b{color:#db2777}
.tag .at{color:#6b7280;font-size:12px}
circle.positive{fill:#16a34a}circle.negative{fill:#dc2626}circle.neutral{fill:#9ca3af}
circle.unknown{fill:#60a5fa}
.badge{border-radius:8px;padding:1px 7px;font-size:13px;color:#fff;white-space:nowrap}
.badge.positive{background:#16a34a}.badge.negative{background:#dc2626}
.badge.neutral{background:#6b7280}.badge.unknown{background:#2563eb}
.legend{font-size:13px;color:#4b5263;margin:6px 0}.legend span{margin-right:14px;
white-space:nowrap}.key{display:inline-block;width:11px;height:11px;border-radius:6px;
vertical-align:-1px;margin-right:4px}
.finding{background:#fff;border-left:4px solid #dc2626;padding:6px 12px;margin:10px 0}
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}
.note{color:#92400e}.source{color:#4b5263;font-style:italic}.rule{color:#6b7280}
del{background:#fde2e2;text-decoration:line-through}ins{background:#dcfce7;
text-decoration:none}.status{font-weight:600}.status.missing,.status.changed{color:#b91c1c}
.status.extra{color:#b45309}.status.same{color:#15803d}
"""

LEGEND = (
    '<p class="legend"><span><i class="key" style="background:#f2c14e;opacity:.6"></i>'
    'phrase spoken (numbered)</span><span><i class="key" style="background:#7c8db5;'
    'width:2px;border-radius:0"></i>partial arrived</span><span><i class="key" '
    'style="background:#16a34a"></i>final: positive</span><span><i class="key" '
    'style="background:#9ca3af"></i>neutral</span><span><i class="key" '
    'style="background:#dc2626"></i>negative</span><span><i class="key" '
    'style="background:#60a5fa"></i>no sentiment</span><span><i class="key" '
    'style="background:#333;width:2px;border-radius:0"></i>final recognition_result</span>'
    '<span><i class="key" '
    'style="background:#c2410c;height:3px;border-radius:0"></i>final latency: last word '
    'sent to final arrived</span><span><i class="key" style="background:#7c3aed;'
    'border-radius:0"></i>insight</span><span><i class="key" style="background:#0d9488;'
    'border-radius:0"></i>topic</span><span><i class="key" style="background:#db2777;'
    'border-radius:0;transform:rotate(45deg) scale(.8)"></i>tracker hit</span>'
    '<span><i class="key" style="background:#dc2626;'
    'border-radius:0"></i>where a finding&#39;s evidence points</span></p>'
)


def render_report(data: ReportData) -> str:
    """The whole page, self-contained: inline CSS and SVG, nothing to fetch."""
    text = _Text()
    line = _timeline(data)
    name = data.log.folder.name or str(data.log.folder)
    body = [
        f"<h1>Session {text(name)}</h1>",
        _header_html(data, line, text),
        "<h2>Timeline</h2>",
        LEGEND,
        # On a narrow screen the timeline scrolls rather than shrinking its text away.
        f'<div class="scroll">{_svg(data, line, text)}</div>',
        '<p class="legend">Events sit where they arrived; speech sits where the audio holding '
        "it was sent. Hover a mark for its text.</p>",
        "<h2>Messages</h2>",
        _messages(line, text),
        "<h2>Insights</h2>",
        _arrivals(line, line.insights, "insights", ("type", "text"), text),
        "<h2>Topics</h2>",
        _arrivals(line, line.topics, "topics", ("phrase", "score"), text),
        "<h2>Trackers</h2>",
        _arrivals(line, line.trackers, "trackers", ("tracker", "found"), text),
        "<h2>Conformance of the client</h2>",
        _conformance_html(data, text),
        _comparison_html(data, text),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # No request may leave the file: forbid every fetch but inline style and data: images.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>symbl-harness report: {text(name)}</title><style>{STYLE}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )
