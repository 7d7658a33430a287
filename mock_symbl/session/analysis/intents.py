"""Call intents (the Telephony API's `intents`) recognised in the messages."""

from __future__ import annotations

import re
from collections.abc import Sequence

from mock_symbl.session.analysis import Json, numeric_id
from mock_symbl.store import StoredMessage

# Call intents (the Telephony API's `intents`), each recognised by the phrases that mark it.
# A negative phrase is looked for first and blanked, so "not interested" is not "interested".
_INTENT_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "answering_machine",
        re.compile(
            r"\b(leave (me |us )?(a|your) (message|name)|after the (tone|beep)|voice ?mail|"
            r"(is|am|are) not available|unable to (take|answer) (your|the) call|"
            r"record your message|mailbox)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "do_not_call",
        re.compile(
            r"\b((do not|don't|never) (call|contact|phone) (me|us|this number)|stop calling|"
            r"(remove|take) (me|us|my number) (off|from)|(put|add) (me|us) (on|to) (the|your) "
            r"do not call list)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "not_interested",
        re.compile(
            r"\b((am|are|is|'m|'re) not interested|not interested|no thanks|no thank you|"
            r"not (right )?now|not looking for|we are (all )?set|we're (all )?set|"
            r"(do not|don't) need (it|this|that|anything))\b",
            re.IGNORECASE,
        ),
    ),
    (
        "interested",
        re.compile(
            r"\b(interested|tell me more|sounds (good|great|interesting)|sign (me|us) up|"
            r"(i|we) would like to|(i|we)'d like to|let's do it|yes please|"
            r"send (me|us) (the|more|some) (details|information|info|pricing|quote))\b",
            re.IGNORECASE,
        ),
    ),
)


def _intent_hits(text: str) -> list[tuple[str, int]]:
    """The intents a message shows, with how many of their phrases it holds."""
    hits = []
    for intent, cue in _INTENT_CUES:
        found = sum(1 for _ in cue.finditer(text))
        if found:
            hits.append((intent, found))
            text = cue.sub(" ", text)
    return hits


def _intent_score(phrases: int) -> float:
    return round(min(0.7 + 0.1 * phrases, 0.99), 2)


def find(conversation_id: str, messages: Sequence[StoredMessage]) -> list[Json]:
    """The call intents in the messages: one per message that shows any, the strongest
    first and the others as its alternatives. A question shows none: an intent is the
    called party's answer ("Are you interested?" is not interest)."""
    out = []
    for message in messages:
        hits = [] if message.text.rstrip().endswith("?") else _intent_hits(message.text)
        if not hits:
            continue
        ranked = sorted(hits, key=lambda hit: -hit[1])
        best, phrases = ranked[0]
        out.append(
            {
                "id": numeric_id(conversation_id, "intent", message.id),
                "text": message.text,
                "type": "intent",
                "score": _intent_score(phrases),
                "messageIds": [message.id],
                "intent": best,
                "alternatives": [
                    {"intent": name, "score": _intent_score(n)} for name, n in ranked[1:]
                ],
                "entities": [],
            }
        )
    return out
