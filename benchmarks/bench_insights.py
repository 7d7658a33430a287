"""Insights and sentiment against the labelled sentences of fixtures/insights/labelled.jsonl.

    python benchmarks/bench_insights.py [-v] [--words]

For each part of the set (`tuning`, the part the rules were written against; `held_out`,
kept aside; `unseen`, written after the rules were settled and never tuned on; see
fixtures/insights/README.md), precision, recall and F1 of each insight type (question,
action_item, follow_up; each sentence has at most one) and of each sentiment label
(positive, neutral, negative, by Symbl's polarity thresholds), and the micro-averaged
insight figures. `-v` lists every sentence judged wrongly. `--words` judges the sentences
as the `asr` engine hands them over: lower-case words without punctuation, punctuated by
`insights.sentence` as the mock does. `--vader` scores sentiment with VADER's own lexicon,
unadjusted, to compare with the mock's adjustments.
Targets (goals, not test assertions): insight precision and recall >= 0.9 on every part.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from mock_symbl.session import insights

LABELLED = Path(__file__).resolve().parents[1] / "fixtures" / "insights" / "labelled.jsonl"
INSIGHT_TYPES = ("question", "action_item", "follow_up")
SENTIMENTS = ("positive", "neutral", "negative")
PARTS = ("tuning", "held_out", "unseen")


@dataclass(frozen=True)
class Judged:
    text: str
    part: str
    expected: frozenset[str]
    found: frozenset[str]
    sentiment: str
    suggested: str


def judge(rows: list[dict[str, object]], words: bool, vader: bool) -> list[Judged]:
    plain = SentimentIntensityAnalyzer()
    out = []
    for row in rows:
        text = str(row["text"])
        if words:
            text = insights.sentence(re.sub(r"[^a-z' -]", " ", text.lower()).split())
        found = frozenset(f.type for f in insights.find_insights(text))
        expected = row["insights"]
        assert isinstance(expected, list)
        score = plain.polarity_scores(text)["compound"] if vader else insights.polarity(text)
        suggested = insights.suggested(score)
        out.append(
            Judged(
                text, str(row["part"]), frozenset(expected), found, str(row["sentiment"]), suggested
            )
        )
    return out


def scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def row(name: str, tp: int, fp: int, fn: int) -> str:
    precision, recall, f1 = scores(tp, fp, fn)
    return f"  {name:<14} {precision:9.3f} {recall:7.3f} {f1:6.3f} {tp + fn:8d}"


def report(judged: list[Judged], part: str, verbose: bool) -> None:
    mine = [j for j in judged if j.part == part]
    print(f"\n{part}: {len(mine)} sentences")
    print(f"  {'label':<14} {'precision':>9} {'recall':>7} {'F1':>6} {'expected':>8}")
    total = [0, 0, 0]
    for kind in INSIGHT_TYPES:
        tp = sum(kind in j.expected and kind in j.found for j in mine)
        fp = sum(kind not in j.expected and kind in j.found for j in mine)
        fn = sum(kind in j.expected and kind not in j.found for j in mine)
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
        print(row(kind, tp, fp, fn))
    print(row("insights", *total))
    for label in SENTIMENTS:
        tp = sum(j.sentiment == label == j.suggested for j in mine)
        fp = sum(j.sentiment != label == j.suggested for j in mine)
        fn = sum(j.suggested != label == j.sentiment for j in mine)
        print(row(label, tp, fp, fn))
    right = sum(j.sentiment == j.suggested for j in mine)
    print(f"  sentiment accuracy {right / len(mine):.3f}")
    if verbose:
        for j in mine:
            if j.expected != j.found:
                print(
                    f"    insight   expected {sorted(j.expected)} found {sorted(j.found)}: {j.text}"
                )
        for j in mine:
            if j.sentiment != j.suggested:
                print(f"    sentiment expected {j.sentiment} found {j.suggested}: {j.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list the wrong judgements")
    parser.add_argument("--words", action="store_true", help="judge unpunctuated words")
    parser.add_argument("--vader", action="store_true", help="sentiment by VADER unadjusted")
    args = parser.parse_args()
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]
    judged = judge(rows, args.words, args.vader)
    form = "recognised words, punctuated by the mock" if args.words else "written sentences"
    print(f"{LABELLED.name}: {len(rows)} sentences, judged as {form}")
    for part in PARTS:
        report(judged, part, args.verbose)


if __name__ == "__main__":
    main()
