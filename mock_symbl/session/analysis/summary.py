"""An extractive summary: the messages that carry the conversation's recurring words."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import cache

import yake

from mock_symbl.session.analysis import Json, numeric_id
from mock_symbl.store import StoredMessage

# A summary item covers at most this many consecutive messages, and keeps a third of them.
SUMMARY_SPAN = 10

_WORD = re.compile(r"[a-z0-9']+")


@cache
def _stopwords() -> frozenset[str]:
    return frozenset(yake.KeywordExtractor(lan="en").stopword_set)


def _content_words(text: str) -> list[str]:
    stop = _stopwords()
    return [w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in stop]


def extract(conversation_id: str, messages: Sequence[StoredMessage]) -> list[Json]:
    """An extractive summary: for every run of up to SUMMARY_SPAN messages, the third of
    them whose content words recur most across the conversation (Luhn's measure), in
    the order they were said, with references to those messages."""
    words = [_content_words(m.text) for m in messages]
    frequency = Counter(w for found in words for w in found)
    top = max(frequency.values(), default=1)

    def weight(index: int) -> float:
        distinct = set(words[index])
        said = max(len(messages[index].text.split()), 1)
        return sum(frequency[w] / top for w in distinct) / math.sqrt(said)

    items = []
    for first in range(0, len(messages), SUMMARY_SPAN):
        run = [i for i in range(first, min(first + SUMMARY_SPAN, len(messages))) if words[i]]
        if not run:
            continue
        keep = math.ceil(len(run) / 3)
        chosen = sorted(sorted(run, key=lambda i: (-weight(i), i))[:keep])
        items.append(
            {
                "id": numeric_id(conversation_id, "summary", messages[chosen[0]].id),
                "text": " ".join(messages[i].text for i in chosen),
                "messageRefs": [{"id": messages[i].id} for i in chosen],
            }
        )
    return items
