"""Entities and personal data in what was said: pure functions of the recognised words.

`find(words)` reads one message, word by word, as a recogniser gives it (spoken digits
"five five five", lower case) or as typed text gives it ("555-0100", "Alex"), and returns
the entities it holds, each over a run of words:

- personal and payment data (Symbl's "PII/PCI entities", redacting-pii.md), upper-case
  types: numbers by their length, checksum and the words before them (a card number is
  12-19 digits passing Luhn's check; a phone number 7, 10 or 11 digits; a social security,
  routing, account, CVV or PIN number is a run of digits after the words that name it),
  e-mail addresses (typed, or spoken "jane at example dot com"), domain names, dates of
  birth and other dates, ages, street addresses (a number, then a street word within four
  words), IBAN and SWIFT codes (typed, with their checks), passport and licence numbers,
  and names (after "my name is", "this is", "call me", a title, or the speaker's own);
- general entities (the Entities API's lower-case types): `person`, `organization` (after
  "this is NAME from", or before Inc/Corp/Ltd/LLC), `location` (a word list of countries
  and large cities), `date` (with an ISO value where the day is known) and `number`.

Spans of the first kind never overlap each other, nor do those of the second kind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

PII = "pii"
GENERAL = "general"
# The general entities' types (the Entities API's); personal data's are upper-case.
GENERAL_TYPES = frozenset({"person", "organization", "location", "date", "number"})


def _word_list(text: str) -> list[str]:
    return text.split()


_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70}
_TENS.update({"eighty": 80, "ninety": 90})
_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
_MONTHS = {
    name: number
    for number, name in enumerate(
        _word_list(
            "january february march april may june july august september october november december"
        ),
        start=1,
    )
}
_WEEKDAYS = {
    name: number
    for number, name in enumerate(
        _word_list("monday tuesday wednesday thursday friday saturday sunday")
    )
}
_RELATIVE_DAYS = {"yesterday": -1, "today": 0, "tonight": 0, "tomorrow": 1}
_STREET_WORDS = frozenset(
    _word_list(
        "street st avenue ave road rd lane ln drive dr boulevard blvd way court ct place "
        "terrace parkway highway square"
    )
)
_TLDS = frozenset(_word_list("com org net edu gov io co uk us ai info biz"))
_TITLES = frozenset(_word_list("mr mister mrs misses ms miss dr doctor"))
_ORG_SUFFIXES = frozenset(_word_list("inc corp corporation ltd llc limited company"))
# Common given names: after "this is" or "I am" a name must be one of these (or written
# with a capital), so "this is great" names nobody.
_GIVEN_NAMES = frozenset(
    _word_list("""
    aaron adam alan alex alexander alice amanda amy andrea andrew angela anna anne anthony
    ashley barbara ben benjamin beth betty bob brandon brian carl carol caroline catherine
    charles chris christine christopher claire daniel david deborah dennis diana donald
    donna dorothy edward elizabeth emily emma eric frank gary george grace greg hannah harry
    helen henry jack jacob james jane janet jason jeff jennifer jessica jim joe john jonathan
    joseph joshua julia julie justin karen kate katherine kathleen kelly kevin kim larry
    laura linda lisa lucy margaret maria mark martha mary matthew megan melissa michael
    michelle mike nancy nicholas nicole olivia pamela patricia patrick paul peter rachel
    raymond rebecca richard robert roger ronald rose ryan sam samuel sandra sarah scott sean
    sharon sophia stephanie stephen steve steven susan thomas tim timothy tom tony victoria
    walter william
    """)
)
_LOCATIONS = frozenset(
    _word_list("""
    america argentina australia austria belgium brazil canada chile china colombia denmark
    egypt england finland france germany greece india indonesia ireland israel italy japan
    kenya korea mexico netherlands nigeria norway pakistan peru poland portugal russia
    scotland singapore spain sweden switzerland turkey ukraine vietnam wales
    amsterdam atlanta austin bangalore beijing berlin boston chicago dallas delhi denver dublin
    houston london madrid miami moscow mumbai paris philadelphia phoenix rome seattle
    shanghai sydney tokyo toronto vancouver
    california texas florida ohio oregon washington
    """)
)
# Words before a number that say what it is, looked for within this many words.
_CONTEXT_WORDS = 6
# (words that must all appear before the run, entity type, shortest and longest run)
_NAMED_NUMBERS: tuple[tuple[tuple[str, ...], str, int, int], ...] = (
    (("social", "security"), "SSN", 9, 9),
    (("routing",), "US_BANK_ROUTING_NUMBER", 9, 9),
    (("cvv",), "CREDIT_CARD_CVV", 3, 4),
    (("security", "code"), "CREDIT_CARD_CVV", 3, 4),
    (("pin",), "CREDIT_CARD_PIN", 4, 6),
    (("passport",), "PASSPORT_NUMBER", 6, 12),
    (("license",), "US_DRIVERS_LICENSE_NUMBER", 5, 15),
    (("licence",), "US_DRIVERS_LICENSE_NUMBER", 5, 15),
    (("account",), "US_BANK_ACCOUNT_NUMBER", 4, 17),
)
_TYPED_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
_TYPED_DOMAIN = re.compile(r"^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.([a-z]{2,6})$", re.I)
_TYPED_SSN = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_TYPED_DIGITS = re.compile(r"^\+?[\d()][\d()\-.]*$")
_TYPED_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_TYPED_SWIFT = re.compile(r"^[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?$")
_EDGE_PUNCTUATION = ".,;:!?\"'()"


@dataclass(frozen=True, slots=True)
class Span:
    """An entity over words `first` up to (not including) `last` of a message.

    `kind` is PII (personal or payment data, which redaction hides) or GENERAL.
    """

    type: str
    value: str
    first: int
    last: int
    kind: str


@dataclass(frozen=True, slots=True)
class _Run:
    first: int
    last: int
    digits: str


def _plain(word: str) -> str:
    return word.strip(_EDGE_PUNCTUATION).lower()


def _digits_of(word: str) -> str | None:
    """The digits a word stands for: a spoken digit, or typed digits (with separators)."""
    plain = _plain(word)
    if plain in _DIGIT_WORDS:
        return _DIGIT_WORDS[plain]
    stripped = word.strip(_EDGE_PUNCTUATION.replace("(", "").replace(")", ""))
    if _TYPED_DIGITS.match(stripped) and any(c.isdigit() for c in stripped):
        return re.sub(r"\D", "", stripped)
    return None


def _digit_runs(words: Sequence[str]) -> list[_Run]:
    runs: list[_Run] = []
    i = 0
    while i < len(words):
        digits = _digits_of(words[i])
        if digits is None:
            i += 1
            continue
        first = i
        collected = ""
        while i < len(words) and (digits := _digits_of(words[i])) is not None:
            collected += digits
            i += 1
        runs.append(_Run(first, i, collected))
    return runs


def luhn_valid(digits: str) -> bool:
    """Whether a card number passes Luhn's check digit."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _aba_valid(digits: str) -> bool:
    weights = (3, 7, 1) * 3
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 10 == 0


def _iban_valid(code: str) -> bool:
    moved = code[4:] + code[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _before(words: Sequence[str], index: int) -> list[str]:
    return [_plain(w) for w in words[max(0, index - _CONTEXT_WORDS) : index]]


def _number_spans(words: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    for run in _digit_runs(words):
        context = _before(words, run.first)
        size = len(run.digits)
        kind = None
        for needed, name, shortest, longest in _NAMED_NUMBERS:
            if all(n in context for n in needed) and shortest <= size <= longest:
                kind = name
                break
        if kind == "US_BANK_ROUTING_NUMBER" and not _aba_valid(run.digits):
            kind = None
        if kind is None and size == 1 and _TYPED_SSN.match(words[run.first].strip(".,")):
            kind = "SSN"
        if kind is None and 12 <= size <= 19 and luhn_valid(run.digits):
            kind = "CREDIT_CARD_NUMBER"
        elif kind is None and (size in (7, 10) or (size == 11 and run.digits[0] == "1")):
            kind = "PHONE_NUMBER"
        elif kind is None and size == 9 and _TYPED_SSN.match(words[run.first].strip(".,")):
            kind = "SSN"
        if kind is not None:
            spans.append(Span(kind, run.digits, run.first, run.last, PII))
    return spans


def _number_value(words: Sequence[str], i: int) -> tuple[int, int] | None:
    """A spoken or typed number 0-99 at word `i`: (value, words used)."""
    plain = _plain(words[i])
    if plain.isdigit() and len(plain) <= 4:
        return int(plain), 1
    if plain in _TENS:
        nxt = _plain(words[i + 1]) if i + 1 < len(words) else ""
        if nxt in _DIGIT_WORDS and nxt not in ("oh", "o", "zero"):
            return _TENS[plain] + int(_DIGIT_WORDS[nxt]), 2
        return _TENS[plain], 1
    if plain in _TEENS:
        return _TEENS[plain], 1
    if plain in _DIGIT_WORDS and plain not in ("oh", "o"):
        return int(_DIGIT_WORDS[plain]), 1
    return None


def _day_value(words: Sequence[str], i: int) -> tuple[int, int] | None:
    """A day of the month at word `i` ("3rd", "third", "twenty first", "15")."""
    plain = _plain(words[i])
    ordinal = re.fullmatch(r"(\d{1,2})(st|nd|rd|th)?", plain)
    if ordinal:
        return int(ordinal.group(1)), 1
    if plain in _ORDINALS:
        return _ORDINALS[plain], 1
    if plain in _TENS and i + 1 < len(words) and _plain(words[i + 1]) in _ORDINALS:
        return _TENS[plain] + _ORDINALS[_plain(words[i + 1])], 2
    return None


def _year_value(words: Sequence[str], i: int) -> tuple[int, int] | None:
    """A year at word `i`: "1982", "nineteen eighty two", "two thousand and five"."""
    plain = _plain(words[i]) if i < len(words) else ""
    if re.fullmatch(r"(19|20)\d\d", plain):
        return int(plain), 1
    if plain in ("nineteen", "twenty") and i + 1 < len(words):
        rest = _number_value(words, i + 1)
        if rest is not None and 10 <= rest[0] <= 99:
            return _TEENS.get(plain, 20) * 100 + rest[0], 1 + rest[1]
    if plain == "two" and i + 1 < len(words) and _plain(words[i + 1]) == "thousand":
        j = i + 2
        if j < len(words) and _plain(words[j]) == "and":
            j += 1
        rest = _number_value(words, j) if j < len(words) else None
        if rest is not None:
            return 2000 + rest[0], j - i + rest[1]
        return 2000, 2
    return None


def _date_at(words: Sequence[str], i: int, today: date) -> tuple[str, int] | None:
    """A date starting at word `i`: its value (ISO when the day is known) and length."""
    plain = _plain(words[i])
    if plain in _RELATIVE_DAYS:
        return (today + timedelta(days=_RELATIVE_DAYS[plain])).isoformat(), 1
    if plain in _WEEKDAYS:
        ahead = (_WEEKDAYS[plain] - today.weekday()) % 7 or 7
        return (today + timedelta(days=ahead)).isoformat(), 1
    if plain in _MONTHS and plain != "may":
        return _month_first(words, i, today)
    if plain == "may" and i + 1 < len(words) and _day_value(words, i + 1):
        return _month_first(words, i, today)
    day = _day_value(words, i)
    if day is None or (_plain(words[i]).isdigit() and i + 1 >= len(words)):
        return None
    j = i + day[1]
    if j < len(words) and _plain(words[j]) == "of":
        j += 1
    if j < len(words) and _plain(words[j]) in _MONTHS and 1 <= day[0] <= 31:
        month = _MONTHS[_plain(words[j])]
        year = _year_value(words, j + 1)
        end = j + 1 + (year[1] if year else 0)
        return _iso(year[0] if year else today.year, month, day[0]), end - i
    return None


def _month_first(words: Sequence[str], i: int, today: date) -> tuple[str, int]:
    month = _MONTHS[_plain(words[i])]
    day = _day_value(words, i + 1) if i + 1 < len(words) else None
    if day is None or not 1 <= day[0] <= 31:
        year = _year_value(words, i + 1)
        if year is not None:
            return f"{year[0]:04d}-{month:02d}", 1 + year[1]
        return f"{today.year:04d}-{month:02d}", 1
    j = i + 1 + day[1]
    year = _year_value(words, j)
    end = j + (year[1] if year else 0)
    return _iso(year[0] if year else today.year, month, day[0]), end - i


def _iso(year: int, month: int, day: int) -> str:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return f"{year:04d}-{month:02d}-{day:02d}"


def _date_spans(words: Sequence[str], today: date) -> list[Span]:
    spans: list[Span] = []
    i = 0
    while i < len(words):
        found = _date_at(words, i, today)
        if found is None:
            i += 1
            continue
        value, length = found
        context = _before(words, i)
        birth = any(w in ("born", "birth", "birthday", "dob") for w in context)
        expiry = any(w.startswith("expir") for w in context)
        kind = "DATE_OF_BIRTH" if birth else "CREDIT_CARD_EXPIRATION_DATE" if expiry else "DATE"
        spans.append(Span(kind, value, i, i + length, PII))
        i += length
    return spans


def _capitalised(word: str) -> bool:
    stripped = word.strip(_EDGE_PUNCTUATION)
    return len(stripped) > 1 and stripped[0].isupper() and stripped[1:].islower()


def _name_spans(words: Sequence[str], speaker_names: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    known = {n.lower() for name in speaker_names for n in name.split()}
    plain = [_plain(w) for w in words]
    i = 0
    while i < len(words):
        opener = _name_opener(plain, i)
        if opener:
            start = i + opener
            strict = plain[i : i + opener] in (["this", "is"], ["i", "am"], ["i'm"])
            if start < len(words) and _looks_like_name(words[start], known, strict=strict):
                end = start + 1
                if end < len(words) and _capitalised(words[end]) and plain[end] not in _LOCATIONS:
                    end += 1
                spans.append(Span("NAME", " ".join(plain[start:end]), start, end, PII))
                i = end
                continue
        if plain[i] in known and plain[i] not in _DIGIT_WORDS:
            spans.append(Span("NAME", plain[i], i, i + 1, PII))
        i += 1
    return spans


def _name_opener(plain: Sequence[str], i: int) -> int:
    """How many words at `i` announce a name ("my name is", "call me", "Mr") or 0."""
    openers = (
        ("my", "name", "is"),
        ("name's",),
        ("this", "is"),
        ("i", "am"),
        ("i'm",),
        ("call", "me"),
        ("speaking", "with"),
    )
    for opener in openers:
        if tuple(plain[i : i + len(opener)]) == opener:
            return len(opener)
    return 1 if plain[i] in _TITLES else 0


def _looks_like_name(word: str, known: set[str], *, strict: bool) -> bool:
    plain = _plain(word)
    if plain in _GIVEN_NAMES or plain in known:
        return True
    # After "this is" a capital alone is not enough for a short word ("It", "An").
    return _capitalised(word) and (not strict or len(plain) > 2)


def _email_spans(words: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    plain = [_plain(w) for w in words]
    i = 0
    while i < len(words):
        typed = words[i].strip(_EDGE_PUNCTUATION.replace(".", "")).rstrip(".")
        if _TYPED_EMAIL.match(typed):
            spans.append(Span("EMAIL", typed.lower(), i, i + 1, PII))
        elif _TYPED_DOMAIN.match(typed) and "." in typed:
            spans.append(Span("DOMAIN_NAME", typed.lower(), i, i + 1, PII))
        elif spoken := _spoken_address(plain, i):
            value, length = spoken
            kind = "EMAIL" if "@" in value else "DOMAIN_NAME"
            spans.append(Span(kind, value, i, i + length, PII))
            i += length
            continue
        i += 1
    return spans


def _spoken_address(plain: Sequence[str], i: int) -> tuple[str, int] | None:
    """ "jane at example dot com" or "example dot com" spoken, starting at word `i`."""
    if not plain[i].isalnum():
        return None
    j = i + 1
    user = None
    if j + 1 < len(plain) and plain[j] == "at" and plain[j + 1].isalnum():
        user, j = plain[i], j + 1
    host = [plain[j]] if user is not None else [plain[i]]
    k = j + 1 if user is not None else i + 1
    while k + 1 < len(plain) and plain[k] == "dot" and plain[k + 1].isalnum():
        host.append(plain[k + 1])
        k += 2
    if len(host) < 2 or host[-1] not in _TLDS:
        return None
    domain = ".".join(host)
    return (f"{user}@{domain}" if user else domain), k - i


def _typed_code_spans(words: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    for i, word in enumerate(words):
        code = word.strip(_EDGE_PUNCTUATION)
        if _TYPED_IBAN.match(code) and _iban_valid(code):
            spans.append(Span("IBAN_CODE", code, i, i + 1, PII))
        elif _TYPED_SWIFT.match(code) and any(w in ("swift", "bic") for w in _before(words, i)):
            spans.append(Span("SWIFT_CODE", code, i, i + 1, PII))
    return spans


def _age_spans(words: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    plain = [_plain(w) for w in words]
    for i in range(len(words)):
        number = _number_value(words, i)
        if number is None:
            continue
        j = i + number[1]
        if plain[j : j + 2] in (["years", "old"], ["months", "old"], ["year", "old"]):
            unit = "months" if plain[j] == "months" else "years"
            spans.append(Span("AGE", f"{number[0]} {unit}", i, j + 2, PII))
    return spans


def _address_spans(words: Sequence[str]) -> list[Span]:
    spans: list[Span] = []
    plain = [_plain(w) for w in words]
    for run in _digit_runs(words):
        for j in range(run.last + 1, min(run.last + 5, len(words))):
            if plain[j] in _STREET_WORDS:
                text = " ".join([run.digits, *plain[run.last : j + 1]])
                spans.append(Span("ADDRESS", text, run.first, j + 1, PII))
                break
    return spans


def _without_overlaps(spans: Sequence[Span]) -> list[Span]:
    """Keep the earliest spans, the longer of two that start together, none overlapping."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.first, -(s.last - s.first))):
        if all(span.first >= k.last or span.last <= k.first for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.first)


def find_pii(words: Sequence[str], today: date, speaker_names: Sequence[str] = ()) -> list[Span]:
    """Personal and payment data in one message's words, in order, none overlapping."""
    # Earlier in this list wins where two overlap: a number's named kind, then the rest.
    ordered = [
        *_email_spans(words),
        *_typed_code_spans(words),
        *_address_spans(words),
        *_number_spans(words),
        *_date_spans(words, today),
        *_age_spans(words),
        *_name_spans(words, speaker_names),
    ]
    kept: list[Span] = []
    for span in ordered:
        if all(span.first >= k.last or span.last <= k.first for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.first)


def find_general(
    words: Sequence[str], today: date, speaker_names: Sequence[str] = ()
) -> list[Span]:
    """The Entities API's entities (person, organization, location, date, number)."""
    plain = [_plain(w) for w in words]
    spans = [
        Span("person", s.value, s.first, s.last, GENERAL) for s in _name_spans(words, speaker_names)
    ]
    spans += [
        Span("date", s.value, s.first, s.last, GENERAL)
        for s in _date_spans(words, today)
        if s.type != "CREDIT_CARD_EXPIRATION_DATE"
    ]
    for i, word in enumerate(plain):
        if word in _LOCATIONS:
            spans.append(Span("location", word, i, i + 1, GENERAL))
        if word in _ORG_SUFFIXES and i > 0 and _capitalised(words[i - 1]):
            spans.append(Span("organization", f"{plain[i - 1]} {word}", i - 1, i + 1, GENERAL))
        # "this is Peter from Vodafone": where a person is from, unless it is a place.
        person_before = any(s.type == "person" and s.last == i for s in spans)
        if word == "from" and person_before and i + 1 < len(words):
            after = plain[i + 1]
            if after.isalpha() and after not in _LOCATIONS:
                spans.append(Span("organization", after, i + 1, i + 2, GENERAL))
    for run in _digit_runs(words):
        value = run.digits if run.last - run.first > 1 else plain[run.first]
        spans.append(Span("number", value, run.first, run.last, GENERAL))
    for i, word in enumerate(plain):
        if word in _TEENS or word in _TENS:
            spans.append(Span("number", word, i, i + 1, GENERAL))
    return _without_overlaps(spans)


def trailing_digits(words: Sequence[str], shortest: int = 3) -> int | None:
    """Where a run of at least `shortest` digits that ends the words begins, if one does:
    in a caption still being spoken, such a run may yet grow into a number to hide."""
    runs = _digit_runs(words)
    if runs and runs[-1].last == len(words) and len(runs[-1].digits) >= shortest:
        return runs[-1].first
    return None
