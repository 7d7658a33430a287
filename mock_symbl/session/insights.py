"""What the mock finds in finalised messages: sentences, sentiment, insights, topics, trackers.

All pure functions of text. Sentiment is VADER's compound score, courtesy words set aside;
topics are YAKE key phrases; questions, action items and follow-ups are judged sentence by
sentence with rules on the words that mark them in English (question word order,
commitments, requests, follow-up phrases), each rule explained where it is defined.
fixtures/insights holds the labelled sentences benchmarks/bench_insights.py scores them on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import yake
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# Thresholds of docs/protocol.md: -0.3 is still neutral, -0.437 is negative.
NEGATIVE_BELOW = -0.3
POSITIVE_ABOVE = 0.3


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Words that open a question when the subject follows them ("can you", "is there").
# Judged on spelt-out words, so "isn't the" is "is not the".
_AUXILIARIES = _set(
    "can could would will is are am was were do does did should shall may might have has had"
)
_WH_WORDS = _set("what why how when where who whom whose which")
# What may follow an inverted auxiliary as its subject: "have you", "is the", "do we".
_SUBJECTS = _set(
    "i you we he she it they there this that these those the my your our his her their "
    "anyone anybody someone somebody everyone everybody anything something"
)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
# Contractions spelt out, so one rule covers "I'll" and "I will", "won't" and "will not".
_CONTRACTIONS = (
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bshan't\b"), "shall not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\b(it|that|there|here|what|who|where|how)'s\b"), r"\1 is"),
    (re.compile(r"'s\b"), ""),
)


# A request or commitment with a date is the "by when" of Symbl's action items.
_DEADLINE = re.compile(
    r"\b(by|before|until|on|next|this|end of( the)?)\s+(monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday|tomorrow|tonight|today|week|month|afternoon|morning|day|sprint)\b|"
    r"\b(tomorrow|tonight|today)\b"
)
# Small talk asked as a question: Symbl's questions ignore chit chat.
_SMALL_TALK = re.compile(
    r"^(hey |hi |so |and )?(how are you|how is it going|how are things|how have you been|"
    r"how was your (weekend|day|week|holiday|trip|vacation)|how is everyone|how are we all)\b"
)
# Asking for information without a question mark: Symbl's "implicit questions".
_IMPLICIT_QUESTION = re.compile(
    r"\b(i would like to know|i wonder (if|whether|what|why|how|when|who)|i was wondering|"
    r"i need to know|i would love to know|do you know (if|whether|what|why|how|when))\b"
)
# Words that, placed before a commitment, say it may not happen (a hedge or a doubt):
# no action item then, though a follow-up still is one (Symbl's own follow-up examples hedge).
_HEDGE = re.compile(
    r"\b(might|may|maybe|perhaps|possibly|not sure|can not promise|do not think|doubt|"
    r"if i have time|someday|one day)\b"
)
# A negated commitment or follow-up ("I won't", "no need to follow up") is none.
_NEGATION = _set("not never no nobody nothing none neither")
# Language that asks for following up: a later contact, a later talk, a meeting to discuss.
_FOLLOW_UP = re.compile(
    r"\b(follow up|follow-up|get back to|circle back|touch base|check in with|sync up|"
    r"reconvene|regroup|reconnect|loop back|get in touch|catch up with|reach out to|"
    r"give (you|us|me|him|her|them) a (call|ring)|"
    r"keep (you|us|me|them|everyone) (posted|updated|informed|in the loop)|"
    r"call (you|us|me|him|her|them) back|pick (this|it|that) up again|take (this|it|that) offline|"
    r"(discuss|talk about|go over) (this|it|that)( \w+)? (later|further|again)|"
    r"(email|send) (you|them|him|her|us) an update|"
    r"ping (you|us|me|him|her|them)|revisit|"
    r"((set up|schedule|arrange|book|have) a (meeting|call|session)|get together|meet|sit down)"
    r"\b.* to (discuss|go over|find out|review|talk))"
)
# Who may take an action item: people in the conversation ("I", "we", "you") or anyone
# named or designated; "they", "he", "it" or "the vendor" speak of people outside it.
_PEOPLE = _set("i we you someone somebody everyone everybody")
_NOT_NAMES = _set(
    "the a an this that these those it they he she there here what who which my your our their "
    "his her its yesterday today tomorrow last next so and but or okay yes no"
)
# What a commitment is made with; "would" and "could" only wish or offer.
_MODALS = (
    ("will",),
    ("shall",),
    ("am", "going", "to"),
    ("are", "going", "to"),
    ("is", "going", "to"),
    ("need", "to"),
    ("needs", "to"),
    ("have", "to"),
    ("has", "to"),
    ("must",),
    ("have", "got", "to"),
    ("has", "got", "to"),
    ("should",),
    ("can",),
)
# Words that may stand between a modal and its verb: "I will probably sync up".
_ADVERBS = _set("also just probably definitely then now still personally first all both")
# Verbs that name no task: a state or something that happens to the subject.
_NOT_TASKS = _set("be receive see hear know notice like love want feel seem get need happen try")
# Imperative task verbs: a sentence opening with one asks the listener to do something.
_TASK_VERBS = _set(
    "send update make go keep try remember schedule book call email share review check fix "
    "finish submit prepare fill attach unplug restart reboot install reinstall clear delete "
    "remove add write draft create set move follow reach bring tap click open close turn plug "
    "contact confirm test upload download sign print forward ask run ship file order pay "
    "cancel renew replace return escalate document organise organize invite notify assign "
    "complete finalize finalise double-check look put remind hold give tell show explain "
    "collect gather verify monitor track plan arrange coordinate reply respond answer approve "
    "publish post deploy merge push release back archive migrate rename read pick buy reset "
    "enable disable activate register log enter type select choose press switch connect "
    "disconnect charge restore refresh reload retry rebuild investigate audit clean cut freeze "
    "prioritise prioritize estimate summarise summarize note record include scan hand stop "
    "pause resume hire interview train draw sketch fetch grab uninstall"
)
# What only makes the listener wait: "hold on", "give me a second", "I'll put you on hold".
_WAITING = re.compile(
    r"\b(hold on|hang on|give me a (second|moment|minute)|put you on( \w+){0,2} hold|"
    r"transfer you|be with you)\b"
)
# Discourse words and vocatives that may precede an imperative: "okay, so, please send".
_OPENERS = _set("okay ok so and then also now alright right well first just")
# "Let's start", "let me check": steps taken in the conversation itself, no outcome after it.
_IN_THE_MEETING = _set(
    "start begin get go move wrap hear continue kick recap turn look see take talk"
)
_IN_THE_CALL = _set("check see look pull transfer put find confirm verify know grab")
# "Please hold", "please wait": requests that hold the call rather than ask for a task.
_HOLDING = _set("hold wait bear stay")
# A task asked for or stated as needed without an imperative: "I need you to review",
# "it would help if you could finish", "the documentation needs to be updated".
_INDIRECT_REQUEST = re.compile(
    r"\b(i|we) (need|would like|want) (you|someone|somebody) to\b|\bif you could\b|"
    r"\b(needs|need|has|have) to be \w+(ed|en|ne)\b"
)


@dataclass(frozen=True, slots=True)
class Finding:
    """An insight found in one sentence of a message, with that sentence."""

    type: str
    confidence: float
    text: str


@dataclass(frozen=True, slots=True)
class TopicPhrase:
    """A key phrase of a conversation, its score in (0, 1] and the messages it occurs in."""

    text: str
    score: float
    message_indexes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TrackerHit:
    """A tracker phrase found in a message: `offset` of an exact match, -1 for a similar one."""

    tracker: str
    value: str
    message_index: int
    offset: int


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    analyzer = SentimentIntensityAnalyzer()
    # Courtesy that carries no feeling: "please send", "kindly fill", "how may I help".
    for word in ("please", "kindly", "help"):
        analyzer.lexicon.pop(word, None)
    # Forms of a word VADER knows only in another form.
    for word in ("crashing", "crashes", "crashed"):
        analyzer.lexicon.setdefault(word, analyzer.lexicon["crash"])
    return analyzer


# Requests and hedges worded with a word of feeling that expresses none: "would you like",
# "make sure", "take care of", "it looks like".
_NO_FEELING = (
    (re.compile(r"\b(would|'d)( you| we| they)? like\b", re.IGNORECASE), "want"),
    (re.compile(r"\bmake sure\b", re.IGNORECASE), "ensure"),
    (re.compile(r"\btake care of\b", re.IGNORECASE), "handle"),
    (re.compile(r"\b(looks|seems|sounds|feels) like\b", re.IGNORECASE), "seems"),
)


def sentence(words: Sequence[str]) -> str:
    """Recognised words as a sentence: capitalised, `I` upper-case, ending `.` or `?`."""
    cleaned = [w.strip() for w in words if w.strip()]
    if not cleaned:
        return ""
    cleaned = [
        "I" + w[1:] if w.lower() == "i" or w.lower().startswith("i'") else w for w in cleaned
    ]
    text = " ".join(cleaned)
    text = text[0].upper() + text[1:]
    if text[-1] in ".?!":
        return text
    return text + ("?" if _asks(_words(" ".join(cleaned[:2]))) else ".")


def polarity(text: str) -> float:
    """Sentiment polarity in [-1, 1]: VADER's compound score, courtesy set aside."""
    for pattern, plain in _NO_FEELING:
        text = pattern.sub(plain, text)
    return float(_analyzer().polarity_scores(text)["compound"])


def suggested(score: float) -> str:
    """`negative`, `neutral` or `positive` by the thresholds of docs/protocol.md."""
    if score < NEGATIVE_BELOW:
        return "negative"
    if score > POSITIVE_ABOVE:
        return "positive"
    return "neutral"


def sentiment_json(score: float) -> dict[str, object]:
    """The `sentiment` object of a message or topic."""
    return {"polarity": {"score": round(score, 3)}, "suggested": suggested(score)}


def sentences(text: str) -> list[str]:
    """The sentences of a message, split after `.`, `?` or `!` (as the async API splits)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _words(clause: str) -> list[str]:
    spelt = clause.lower().replace("\u2019", "'")
    for pattern, replacement in _CONTRACTIONS:
        spelt = pattern.sub(replacement, spelt)
    return spelt.split()


def _clauses(text: str) -> list[tuple[list[str], list[str]]]:
    """Each comma-separated clause as its spelt-out lower-case words and its original tokens."""
    out = []
    for part in re.split(r"[,;:]", text):
        original = re.findall(r"[A-Za-z][A-Za-z'\u2019-]*", part)
        words = _words(" ".join(original))
        if words:
            out.append((words, original))
    return out


def _asks(words: Sequence[str]) -> bool:
    """A clause in question word order: "can you", "is there", "what is", not "what a"."""
    if not words:
        return False
    if words[0] in _WH_WORDS:
        return len(words) == 1 or words[1] not in ("a", "an")
    # "Isn't the deadline" is spelt "is not the deadline".
    after = words[2:3] if words[1:2] == ["not"] else words[1:2]
    return words[0] in _AUXILIARIES and bool(after) and after[0] in _SUBJECTS


def _question(text: str, lowered: str) -> bool:
    """An explicit question or request for information, not small talk."""
    if _SMALL_TALK.search(lowered):
        return False
    if text.endswith("?"):
        return True
    if text.endswith("!"):
        return False
    # A question asked in question word order, its mark left off ("could you send the
    # minutes."), or information asked for in a statement ("I'd like to know ..."). A
    # question word alone is not enough without the mark: "When the build is green, ...".
    first = _words(text.split(",", 1)[0])
    inverted = bool(first) and first[0] in _AUXILIARIES and _asks(first)
    return inverted or bool(_IMPLICIT_QUESTION.search(lowered))


def _named(original: Sequence[str], index: int) -> bool:
    """The word at `index` is a person's name: capitalised, not a function word."""
    word = original[index] if index < len(original) else ""
    return word[:1].isupper() and word.lower() not in _NOT_NAMES and word != "I"


def _committed(words: Sequence[str], original: Sequence[str]) -> bool:
    """Someone in the conversation commits to a task: subject, modal, task verb, no negation."""
    for at in range(len(words)):
        for modal in _MODALS:
            end = at + len(modal)
            if tuple(words[at:end]) != modal or at == 0:
                continue
            subject = words[at - 1]
            # Original casing lines up only where no contraction was spelt out.
            named = len(words) == len(original) and _named(original, at - 1)
            if subject not in _PEOPLE and not named:
                continue
            if modal == ("can",) and subject not in ("i", "we"):
                continue
            rest = [w for w in words[end:] if w not in _ADVERBS]
            if rest[:2] in (["need", "to"], ["have", "to"]):
                rest = rest[2:]  # "you will need to update": the task follows
            if not rest or rest[0] in _NEGATION or rest[0] in _NOT_TASKS:
                continue
            if any(w in _NEGATION for w in words[:at]):
                continue
            return True
    return False


def _requested(words: Sequence[str]) -> bool:
    """An imperative or "please": the speaker asks the listener for a task."""
    rest = [w for w in words if w not in _OPENERS]
    if not rest:
        return False
    if rest[1:2] in (["please"], ["kindly"]) and rest[0] not in _HOLDING:
        rest = rest[1:]  # a name, its comma unheard: "Jenny please send"
    if rest[0] in ("please", "kindly"):
        return len(rest) > 1 and rest[1] not in _HOLDING
    if rest[:3] in (["do", "not", "forget"], ["be", "sure", "to"]):
        return True
    if rest[:2] == ["let", "us"]:
        return len(rest) > 2 and rest[2] not in _IN_THE_MEETING
    if rest[:2] == ["let", "me"]:
        return len(rest) > 2 and rest[2] not in _IN_THE_CALL
    return rest[0] in _TASK_VERBS


def _follow_up(clause: Sequence[str]) -> bool:
    """Follow-up language in a clause, not negated ("no need to follow up")."""
    spoken = " ".join(clause)
    found = _FOLLOW_UP.search(spoken)
    # "Someone would follow up": a condition, or a promise reported, not one made.
    reported = found is not None and spoken[: found.start()].endswith("would ")
    return bool(found) and not reported and not any(w in _NEGATION for w in clause)


def find_insights(text: str) -> list[Finding]:
    """Questions, action items and follow-ups in a message, judged sentence by sentence.

    A question is an explicit question or request for information, whatever else it asks:
    "Can you send me the report?" is a question, not an action item (Symbl's questions
    cover "questions that are actionable in nature"). An action item is a statement that
    commits someone in the conversation to a task, or asks the listener for one; a
    follow-up is an action item whose task is to follow up, reported in its place.
    """
    findings = []
    for said in sentences(text):
        lowered = " ".join(_words(said))
        if _question(said, lowered):
            findings.append(Finding("question", 0.95 if said.endswith("?") else 0.8, said))
            continue
        clauses = _clauses(said)
        hedged = bool(_HEDGE.search(lowered))
        committed = any(_committed(w, o) for w, o in clauses)
        requested = any(_requested(w) for w, _ in clauses) or bool(
            _INDIRECT_REQUEST.search(lowered)
        )
        dated = bool(_DEADLINE.search(lowered))
        if any(_follow_up(w) for w, _ in clauses):
            findings.append(Finding("follow_up", 0.9 if committed or requested else 0.8, said))
        elif (committed or requested) and not hedged and not _WAITING.search(lowered):
            confidence = 0.75 + 0.1 * committed + 0.05 * requested + 0.1 * dated
            findings.append(Finding("action_item", round(min(confidence, 0.99), 2), said))
    return findings


def topics(messages: Sequence[str], limit: int = 5) -> list[TopicPhrase]:
    """Key phrases of the conversation (YAKE), best first, with the messages holding them."""
    text = " ".join(messages).strip()
    if not text:
        return []
    extractor = yake.KeywordExtractor(lan="en", n=2, top=limit, dedupLim=0.7)
    out = []
    for phrase, raw_score in extractor.extract_keywords(text):
        # YAKE scores fall as relevance rises, from about 0 upward.
        score = round(1.0 / (1.0 + 10.0 * float(raw_score)), 3)
        needle = phrase.lower()
        indexes = tuple(i for i, m in enumerate(messages) if needle in m.lower())
        out.append(TopicPhrase(phrase.lower(), score, indexes))
    return out


def tracker_hits(
    trackers: Iterable[tuple[str, Sequence[str]]], messages: Sequence[str]
) -> list[TrackerHit]:
    """Vocabulary matches: exact (with the offset), or similar (a plural or other ending)."""
    hits: list[TrackerHit] = []
    for name, vocabulary in trackers:
        for value in vocabulary:
            exact = re.compile(rf"\b{re.escape(value)}\b", re.IGNORECASE)
            similar = re.compile(rf"\b{re.escape(value.rstrip('s'))}\w{{0,3}}\b", re.IGNORECASE)
            for index, message in enumerate(messages):
                match = exact.search(message)
                if match:
                    hits.append(TrackerHit(name, value, index, match.start()))
                elif similar.search(message):
                    hits.append(TrackerHit(name, value, index, -1))
    return hits
