"""The mock's Insights UI: one self-contained HTML page of a conversation (what Symbl's
pre-built "Insights UI" / "Call Summary UI" showed): title, members, transcript with speaker,
time and sentiment, topics, questions, action items, follow-ups, summary and, when asked, the
call score and its criteria.

Pure: the conversation's data in, a string out. Every text is escaped; the page loads nothing
(inline CSS, no script, no image), so it opens offline and under a `default-src 'none'` policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from mock_symbl.session.analysis import Json
from mock_symbl.session.insights import suggested
from mock_symbl.store import Conversation, Member, StoredInsight, StoredMessage, StoredTopic

# What the page's Content-Security-Policy allows: its own inline style, nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#262b3a;color:#fff;padding:20px 32px}
header h1{margin:0 0 4px;font-size:22px}
header p{margin:0;opacity:.8}
main{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:20px;padding:20px 32px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin-bottom:20px;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:16px;margin:0 0 10px}
ol,ul{margin:0;padding-left:20px}
li{margin:4px 0}
.message{display:grid;grid-template-columns:64px 1fr;gap:2px 12px;padding:8px 0;
border-bottom:1px solid #eceef2}
.time{color:#6b7280;font-variant-numeric:tabular-nums}
.speaker{font-weight:600}
.sentiment{font-size:12px;border-radius:10px;padding:0 8px;margin-left:8px}
.positive{background:#dcfce7;color:#166534}
.neutral{background:#eef0f4;color:#374151}
.negative{background:#fee2e2;color:#991b1b}
.score{font-size:36px;font-weight:700}
.note{color:#6b7280}
.topic{display:inline-block;background:#e0e7ff;border-radius:12px;padding:2px 10px;margin:3px}
"""


@dataclass(frozen=True, slots=True)
class InsightsPage:
    """What the page shows. `summary` is None while the conversation is open; `call_score`
    is None when not asked for, `call_score_note` says why a call score asked for is absent."""

    conversation: Conversation
    messages: Sequence[StoredMessage]
    topics: Sequence[StoredTopic]
    questions: Sequence[StoredInsight]
    action_items: Sequence[StoredInsight]
    follow_ups: Sequence[StoredInsight]
    analytics: Json
    summary: Sequence[Json] | None
    call_score: Json | None = None
    call_score_note: str | None = None


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def clock(seconds: float) -> str:
    """`M:SS` (`H:MM:SS` past an hour) of an offset in seconds."""
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _who(member: Member) -> str:
    return str(member.name or member.email or member.id)


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _list(items: Sequence[str], empty: str) -> str:
    if not items:
        return f'<p class="note">{_e(empty)}</p>'
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _messages(page: InsightsPage) -> str:
    rows = []
    for message in page.messages:
        mood = suggested(message.sentiment)
        rows.append(
            '<div class="message">'
            f'<span class="time">{_e(clock(message.time_offset))}</span>'
            f'<span><span class="speaker">{_e(_who(message.sender))}</span>'
            f'<span class="sentiment {mood}" title="polarity {message.sentiment:.2f}">'
            f"{mood} {message.sentiment:+.2f}</span></span>"
            f"<span></span><span>{_e(message.text)}</span></div>"
        )
    if not rows:
        return '<p class="note">No messages yet.</p>'
    return "".join(rows)


def _members(page: InsightsPage) -> str:
    talk = {m["id"]: m for m in page.analytics.get("members", [])}
    items = []
    for member in page.conversation.members:
        line = _e(_who(member))
        if member.email and member.email != member.name:
            line += f' <span class="note">{_e(member.email)}</span>'
        found = talk.get(member.id)
        if found is not None:
            line += (
                f' <span class="note">talked {found["talkTime"]["percentage"]:.0f}% '
                f"at {found['pace']['wpm']} words per minute</span>"
            )
        items.append(line)
    return _list(items, "No members.")


def _insights(found: Sequence[StoredInsight], empty: str) -> str:
    items = []
    for insight in found:
        line = _e(insight.text)
        if insight.assignee is not None:
            line += f' <span class="note">assigned to {_e(_who(insight.assignee))}</span>'
        if insight.due_by:
            line += f' <span class="note">due {_e(insight.due_by)}</span>'
        items.append(line)
    return _list(items, empty)


def _summary(page: InsightsPage) -> str:
    if page.summary is None:
        return '<p class="note">The summary is ready once the conversation has ended.</p>'
    return _list([_e(item["text"]) for item in page.summary], "Nothing to summarise.")


def _call_score(page: InsightsPage) -> str:
    score = page.call_score
    if score is None:
        return f'<p class="note">{_e(page.call_score_note or "No call score.")}</p>'
    criteria = "".join(
        f"<li><strong>{_e(c['name'])}</strong>: {_e(c['score'])} of 100"
        f"<br>{_e(c['summary'])}"
        f'<br><span class="note">Went well: {_e(c["feedback"]["positive"]["summary"])} '
        f"To improve: {_e(c['feedback']['negative']['summary'])}</span></li>"
        for c in score.get("criteria", [])
    )
    return (
        f'<p><span class="score">{_e(score["score"])}</span> of 100</p>'
        f"<p>{_e(score['summary'])}</p><ol>{criteria}</ol>"
    )


def render(page: InsightsPage) -> str:
    """The page's HTML."""
    conversation = page.conversation
    title = conversation.name or "Conversation"
    when = conversation.start_time + (
        f" to {conversation.end_time}" if conversation.end_time else " (in progress)"
    )
    side = [
        _section("Summary", _summary(page), "summary"),
        _section("Members", _members(page), "members"),
        _section(
            "Topics",
            "".join(f'<span class="topic">{_e(t.text)}</span>' for t in page.topics)
            or '<p class="note">No topics.</p>',
            "topics",
        ),
        _section("Questions", _insights(page.questions, "No questions."), "questions"),
        _section("Next steps", _insights(page.action_items, "No action items."), "action-items"),
        _section("Follow-ups", _insights(page.follow_ups, "No follow-ups."), "follow-ups"),
    ]
    if page.call_score is not None or page.call_score_note is not None:
        side.insert(0, _section("Call score", _call_score(page), "call-score"))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}: Insights</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><p>Conversation {_e(conversation.id)}, {_e(when)}</p>"
        "</header><main>"
        f"<div>{_section('Transcript', _messages(page), 'transcript')}</div>"
        f"<div>{''.join(side)}</div></main></body></html>\n"
    )
