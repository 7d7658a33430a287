"""`symbl-harness report`: one self-contained HTML page of a session, read by a person.

The page holds the session's messages with their sentiment and final latency, its insights,
topics and conformance findings, and against a baseline the semantic diff; it opens in
Chromium from a file:// URL and asks for nothing else; bad input is one line and exit 2.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.conformance.check import check_log, write_conformance
from harness.session_folder.log import read_session
from harness.session_folder.transcript import read_transcript
from harness.tools.compare import Tolerances, compare
from harness.tools.latency import event_kind, finalisation_latency_ms
from harness.tools.report_html import load_report

from helpers import FIXTURES, headless_page

# The page made from recorded sessions: nothing here depends on how busy the CPU is.
pytestmark = pytest.mark.untimed

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"


def _report(*args: str) -> Any:
    return CliRunner().invoke(main, ["report", *args])


def _copy(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def _rewrite(folder: Path, change: Any) -> None:
    """Rewrite events.jsonl record by record: `change` returns the record, or None to drop it."""
    path = folder / "events.jsonl"
    kept = [change(json.loads(line)) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept if r is not None))


def _kind(record: dict[str, Any]) -> str:
    return str((record.get("data") or {}).get("type", ""))


@pytest.mark.parametrize("name", ["standup", "hot"])
def test_the_report_of_a_fixture_shows_messages_sentiments_latency_insights_and_findings(
    name: str, tmp_path: Path
) -> None:
    folder = _copy(name, tmp_path)
    result = _report(str(folder))
    assert result.exit_code == 0, result.output
    written = folder / "report.html"
    assert result.stdout.strip() == str(written)
    page = written.read_text(encoding="utf-8")
    log = read_session(folder)
    for message in log.messages():
        assert html.escape(message["payload"]["content"]) in page
        label = message["sentiment"]["suggested"]
        assert f'<span class="badge {label}">{label} (' in page
    insights = [
        insight
        for frame in log.received()
        if frame.data.get("type") == "insight_response"
        for insight in frame.data["insights"]
    ]
    assert insights
    for insight in insights:
        assert html.escape(insight["text"]) in page
    # Each final's latency, as the latency module measures it, is in the page.
    for latency in finalisation_latency_ms(log, read_transcript(folder / "transcript.json")):
        assert f"final latency {latency:.0f} ms" in page
    findings = check_log(log)["findings"]
    assert "judged now from the recorded traffic" in page
    for finding in findings:
        assert f"<code>{finding['code']}</code>" in page
        assert html.escape(finding["explanation"]) in page
        for key, value in finding["evidence"].items():
            assert f"<tr><th>{key}</th><td>{html.escape(json.dumps(value))}</td></tr>" in page
    if not findings:
        assert "No findings" in page
    # Each audio position a finding's evidence names is marked on the waveform.
    positions = [p for f in findings for p in f["evidence"].get("first_positions", [])]
    assert page.count('<path class="finding-mark"') == len(positions)
    assert name != "hot" or positions


def test_the_conformance_written_while_recording_is_the_one_shown(tmp_path: Path) -> None:
    folder = _copy("standup", tmp_path)
    # A client that declares 48 kHz for 16 kHz audio: the check written beside the log finds it.
    _rewrite(
        folder,
        lambda r: json.loads(
            json.dumps(r).replace('"sampleRateHertz": 16000', '"sampleRateHertz": 48000')
        ),
    )
    report = write_conformance(folder)
    assert report is not None
    codes = [finding["code"] for finding in report["findings"]]
    assert "sample_rate_mismatch" in codes
    out = tmp_path / "page.html"
    assert _report(str(folder), "--out", str(out)).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "from conformance.json, judged while the session was recorded" in page
    for code in codes:
        assert f"<code>{code}</code>" in page


def test_against_a_baseline_the_page_shows_the_semantic_diff(tmp_path: Path) -> None:
    baseline = FIXTURES / "standup"
    candidate = _copy("standup", tmp_path)
    said = "Can you send me the quarterly report by Friday?"
    dropped = "Please schedule a meeting with the design team next week."

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        text = json.dumps(record)
        if _kind(record) == "message_response" and dropped in text:
            return None
        if _kind(record) == "insight_response" and "dashboard" in text:
            return None
        return json.loads(text.replace(said, "Can you send me the annual report by Monday?"))

    _rewrite(candidate, change)
    out = tmp_path / "diff.html"
    result = _report(str(candidate), "--vs", str(baseline), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    outcome = compare(read_session(baseline), read_session(candidate), Tolerances())
    assert not outcome.matches
    assert "differs from the baseline" in page
    assert f"<td>word error rate, normalised</td><td>{outcome.figures['wer']:.3f}</td>" in page
    assert f"<td>word error rate, raw</td><td>{outcome.figures['wer_raw']:.3f}</td>" in page
    assert "<td>messages</td><td>6 in the baseline, 5 here</td>" in page
    assert "<td>insights</td><td>5 in the baseline, 4 here</td>" in page
    for difference in outcome.differences:
        assert html.escape(difference.detail) in page
    assert "missing action_item" in page
    # Side by side: the dropped message is missing, the changed one has its words marked.
    assert f'<span class="status missing">missing</span></td><td>{dropped}</td><td></td>' in page
    assert "<del>quarterly</del>" in page and "<ins>annual</ins>" in page
    assert "<del>Friday?</del>" in page and "<ins>Monday?</ins>" in page
    # The other way round, the message only this session holds is extra.
    out_reversed = tmp_path / "reversed.html"
    assert _report(str(baseline), "--vs", str(candidate), "--out", str(out_reversed)).exit_code == 0
    reversed_page = out_reversed.read_text(encoding="utf-8")
    assert (
        f'<span class="status extra">extra</span></td><td></td><td>{dropped}</td>' in reversed_page
    )


def test_the_report_opens_in_chromium_and_requests_nothing_but_itself(
    tmp_path: Path, require: Any
) -> None:
    chromium = shutil.which("chromium")
    require("Chromium", chromium is not None, "apt-get install chromium")
    assert chromium is not None
    folder = _copy("standup", tmp_path)
    out = tmp_path / "standup.html"
    assert _report(str(folder), "--vs", str(FIXTURES / "hot"), "--out", str(out)).exit_code == 0
    url = out.as_uri()
    log = read_session(folder)
    phrases = read_transcript(folder / "transcript.json").phrases
    with headless_page(chromium, lambda requested: requested == url) as (page, requested):
        page.goto(url, wait_until="load")
        assert page.locator("h1").inner_text() == "Session standup"
        svg = page.locator("svg#timeline")
        assert svg.is_visible()
        # The waveform is drawn: a path of many points, laid out with a width.
        assert svg.locator("path.waveform").get_attribute("d").count("L") > 1000
        assert svg.locator("path.waveform").bounding_box()["width"] > 500
        assert svg.locator("rect.phrase").count() == len(phrases)
        assert svg.locator("circle.final").count() == len(log.messages())
        hits = [
            f"{frame.t:.2f} s: Deadlines: {match['value']}"
            for frame in log.received()
            if frame.data.get("type") == "tracker_response"
            for tracker in frame.data["trackers"]
            for match in tracker["matches"]
        ]
        assert svg.locator("path.tracker").count() == len(hits) == 3
        titles = svg.locator("path.tracker title").all_text_contents()
        assert [title.split(" (message")[0] for title in titles] == hits
        texts = page.locator("table.messages .message-text").all_inner_texts()
        assert texts == [m["payload"]["content"] for m in log.messages()]
        assert page.locator("#comparison .verdict").is_visible()
        # The inline style applied: a positive message's badge is green.
        badge = page.locator(".badge.positive").first
        assert badge.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(22, 163, 74)"
    assert requested == [url]


def test_no_secret_and_no_markup_from_the_session_reaches_the_page(tmp_path: Path) -> None:
    folder = _copy("hot", tmp_path)
    hostile = "<script>alert(1)</script> token=" + SECRET

    def change(record: dict[str, Any]) -> dict[str, Any]:
        if record.get("kind") == "header":
            record["endpoint"] += "&access_token=" + SECRET
        if _kind(record) == "message_response":
            record["data"]["messages"][0]["payload"]["content"] = hostile
        return record

    _rewrite(folder, change)
    result = _report(str(folder))
    assert result.exit_code == 0, result.output
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert SECRET not in page
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_cut_log_still_gets_its_report_and_says_it_was_cut(tmp_path: Path) -> None:
    folder = _copy("standup", tmp_path)
    events = folder / "events.jsonl"
    data = events.read_bytes()
    events.write_bytes(data[: len(data) * 2 // 3])
    result = _report(str(folder))
    assert result.exit_code == 0, result.output
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "has no footer: the recording was interrupted" in page
    assert "the session log was cut" in page
    assert html.escape(read_session(folder).messages()[0]["payload"]["content"]) in page


def test_server_events_of_unexpected_shape_still_get_a_report(tmp_path: Path) -> None:
    folder = _copy("standup", tmp_path)
    odd = {
        "insight_response": lambda d: d.update(insights="oops"),
        "topic_response": lambda d: d.update(topics=[5]),
        "message_response": lambda d: d.update(
            messages=[{"sentiment": "x", "duration": "y", "payload": 5}, 7]
        ),
        "recognition_result": lambda d: d["message"].update(payload=5),
    }

    def change(record: dict[str, Any]) -> dict[str, Any]:
        kind = event_kind(record.get("data"))
        if record.get("dir") == "recv" and kind in odd:
            odd.pop(kind)(record["data"])
        return record

    _rewrite(folder, change)
    assert not odd
    result = _report(str(folder), "--vs", str(folder))
    assert result.exit_code == 0, result.output
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "final latency not measured: an event in the log has an unexpected shape" in page
    assert html.escape(read_session(folder).messages()[-1]["payload"]["content"]) in page


def _not_a_folder(tmp_path: Path) -> list[str]:
    return [str(tmp_path / "nowhere")]


def _no_log(tmp_path: Path) -> list[str]:
    (tmp_path / "empty").mkdir()
    return [str(tmp_path / "empty")]


def _cut_header(tmp_path: Path) -> list[str]:
    folder = _copy("hot", tmp_path)
    (folder / "events.jsonl").write_text('{"kind": "header", "format": "symbl-har')
    return [str(folder)]


def _bad_wav(tmp_path: Path) -> list[str]:
    folder = _copy("hot", tmp_path)
    (folder / "audio.wav").write_bytes(b"ID3\x04 an mp3, not a WAV")
    return [str(folder)]


def _bad_baseline(tmp_path: Path) -> list[str]:
    return [str(_copy("hot", tmp_path)), "--vs", str(tmp_path / "nowhere")]


def _unwritable(tmp_path: Path) -> list[str]:
    return [str(_copy("hot", tmp_path)), "--out", str(tmp_path / "no" / "such" / "r.html")]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (_not_a_folder, "is not a folder"),
        (_no_log, "is not a session: it has no events.jsonl"),
        (_cut_header, "line 1 is not JSON"),
        (_bad_wav, "audio.wav is not a WAV file"),
        (_bad_baseline, "nowhere is not a folder"),
        (_unwritable, "cannot write the report to"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(make: Any, says: str, tmp_path: Path) -> None:
    result = _report(*make(tmp_path))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
    assert result.stdout == ""
    assert not list(tmp_path.rglob("report.html"))


@pytest.mark.parametrize("findings", [[1], [{"code": "gaps", "evidence": []}], "none"])
def test_a_conformance_file_of_another_shape_is_judged_again(
    tmp_path: Path, findings: object
) -> None:
    folder = _copy("hot", tmp_path)
    (folder / "conformance.json").write_text(json.dumps({"findings": findings}))
    result = _report(str(folder))
    assert result.exit_code == 0, result.output
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "conformance.json holds no findings list; judged again from the log" in page


def _changed_candidate(tmp_path: Path) -> Path:
    """The standup with one word of one message changed: a word error rate above 0."""
    candidate = _copy("standup", tmp_path)
    said = "Can you send me the quarterly report by Friday?"
    _rewrite(
        candidate,
        lambda r: json.loads(json.dumps(r).replace(said, said.replace("quarterly", "annual"))),
    )
    return candidate


def _tolerance_row(page: str, name: str) -> str:
    start = page.index(f"<tr><td><code>{name}</code></td>")
    return page[start : page.index("</tr>", start)]


def test_tolerances_given_judge_the_diff_and_each_shows_its_figure_and_verdict(
    tmp_path: Path,
) -> None:
    baseline = FIXTURES / "standup"
    candidate = _changed_candidate(tmp_path)
    wer = compare(read_session(baseline), read_session(candidate), Tolerances()).figures["wer"]
    assert 0 < wer < 0.2
    strict, loose = tmp_path / "strict.html", tmp_path / "loose.html"
    assert _report(str(candidate), "--vs", str(baseline), "--out", str(strict)).exit_code == 0
    result = _report(
        str(candidate), "--vs", str(baseline), "--tolerance", "wer=0.2", "--out", str(loose)
    )
    assert result.exit_code == 0, result.output
    strict_page, loose_page = strict.read_text(), loose.read_text()
    assert "differs from the baseline beyond the tolerances" in strict_page
    assert "matches the baseline within the tolerances" in loose_page
    assert _tolerance_row(strict_page, "wer").endswith(
        f'<td>0.000 (default)</td><td>{wer:.3f}</td><td><span class="bad">outside</span></td>'
    )
    assert _tolerance_row(loose_page, "wer").endswith(
        f"<td>0.200 (set; default 0.000)</td><td>{wer:.3f}</td>"
        '<td><span class="ok">within</span></td>'
    )
    # Every tolerance is listed, in the order compare declares them, with its bound.
    for name, bound in (("timing_ms", "500"), ("missing_insights", "0"), ("sentiment_flips", "0")):
        assert f"<td>{bound} (default)</td>" in _tolerance_row(loose_page, name)
        assert 'class="ok">within<' in _tolerance_row(loose_page, name)
    assert "used to match insights" in _tolerance_row(loose_page, "insight_similarity")


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("wer=-1", "tolerance wer needs a finite number >= 0, got '-1'"),
        ("timing_ms=nan", "tolerance timing_ms needs a finite number >= 0, got 'nan'"),
        ("timing_ms=inf", "tolerance timing_ms needs a finite number >= 0, got 'inf'"),
        ("missing_topics=1.5", "tolerance missing_topics needs a number, got '1.5'"),
        ("speed=2", "unknown tolerance 'speed=2'"),
    ],
)
def test_a_bad_tolerance_is_one_usage_line_naming_it(
    setting: str, says: str, tmp_path: Path
) -> None:
    folder = _copy("hot", tmp_path)
    result = _report(str(folder), "--vs", str(FIXTURES / "hot"), "--tolerance", setting)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --tolerance: {says}"), lines
    assert result.stdout == ""
    assert not (folder / "report.html").exists()


def test_a_tolerance_without_a_baseline_is_a_usage_error(tmp_path: Path) -> None:
    folder = _copy("hot", tmp_path)
    result = _report(str(folder), "--tolerance", "wer=0.1")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: --tolerance judges a comparison: give --vs BASELINE too"
    ]
    assert not (folder / "report.html").exists()


def test_each_tracker_hit_shows_where_it_arrived_and_beside_its_message(tmp_path: Path) -> None:
    folder = _copy("standup", tmp_path)
    log = read_session(folder)
    numbers = {m["id"]: n for n, m in enumerate(log.messages(), start=1)}
    hits = [
        (frame.t, tracker["name"], match["value"], numbers[match["messageRefs"][0]["id"]])
        for frame in log.received()
        if frame.data.get("type") == "tracker_response"
        for tracker in frame.data["trackers"]
        for match in tracker["matches"]
    ]
    assert len(hits) == 3
    assert _report(str(folder)).exit_code == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert f"{len(hits)} tracker hits" in page
    assert '<text class="lane" x="4" y="280">trackers</text>' in page
    table = page[page.index('<table class="trackers">') :]
    rows = table[: table.index("</table>")].split("<tr>")[2:]
    assert rows == [
        f"<td>{t:.2f}</td><td>{name}</td><td>{value}</td><td>#{number}</td></tr>"
        + ("</tbody>" if i == len(hits) - 1 else "")
        for i, (t, name, value, number) in enumerate(hits)
    ]
    marks = page.split('<path class="tracker"')[1:]
    assert [m[m.index("<title>") + 7 : m.index("</title>")] for m in marks] == [
        f"{t:.2f} s: {name}: {value} (message #{number})" for t, name, value, number in hits
    ]
    # In the message list, each hit sits on the row of the message it was found in.
    messages = page[page.index('<table class="messages">') :]
    body = messages[: messages.index("</table>")].split("<tr>")[2:]
    for t, name, value, number in hits:
        tag = f'<b>tracker</b> {name}: {value} <span class="at">at {t:.2f} s</span>'
        assert [i + 1 for i, row in enumerate(body) if tag in row] == [number]


def test_a_tracker_hit_before_its_message_still_names_it(tmp_path: Path) -> None:
    folder = _copy("standup", tmp_path)
    path = folder / "events.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    tracker = next(i for i, r in enumerate(records) if _kind(r) == "tracker_response")
    hit = records.pop(tracker)
    # The hit arrives before everything the server sent: before the message it names.
    first_recv = next(i for i, r in enumerate(records) if r.get("dir") == "recv")
    hit["t"] = records[first_recv]["t"]
    records.insert(first_recv, hit)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    data = load_report(folder)
    assert data.log.received()[0].data["type"] == "tracker_response"
    assert _report(str(folder)).exit_code == 0
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "<td>Deadlines</td><td>Friday</td><td>#2</td>" in page


def test_a_replay_moved_with_its_source_reports_latency_from_the_source_transcript(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "tree"
    source = tree / "sessions" / "hot"
    shutil.copytree(FIXTURES / "hot", source)
    replayed = tree / "replays" / "hot"
    command = [sys.executable, "-m", "harness.cli", "replay", str(source), "--mock"]
    done = subprocess.run(
        [*command, "--speed", "max", "--out", str(replayed)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert not (replayed / "transcript.json").exists()
    header = read_session(replayed).header
    assert header["replay_of"] == str(source)
    assert header["replay_of_relative"] == "../../sessions/hot"
    # Both move together: the recorded absolute path is gone, the relative one still holds.
    moved = tmp_path / "moved"
    tree.rename(moved)
    latencies = finalisation_latency_ms(
        read_session(moved / "replays" / "hot"),
        read_transcript(moved / "sessions" / "hot" / "transcript.json"),
    )
    assert latencies
    result = _report(str(moved / "replays" / "hot"))
    assert result.exit_code == 0, result.output
    page = (moved / "replays" / "hot" / "report.html").read_text(encoding="utf-8")
    for latency in latencies:
        assert f"final latency {latency:.0f} ms" in page
    assert "of the session this one replayed: " in page
    assert f"of the session this one replayed: {moved / 'sessions' / 'hot'}</td>" in page
    assert "no latency is measured" not in page


def test_a_replay_whose_source_is_gone_says_so_and_still_reports(tmp_path: Path) -> None:
    replayed = _copy("hot", tmp_path)
    (replayed / "transcript.json").unlink()
    gone = tmp_path / "gone"

    def header(record: dict[str, Any]) -> dict[str, Any]:
        if record.get("kind") == "header":
            record.update(replay_of=str(gone), replay_of_relative="../gone")
        return record

    _rewrite(replayed, header)
    result = _report(str(replayed))
    assert result.exit_code == 0, result.output
    page = (replayed / "report.html").read_text(encoding="utf-8")
    assert f"nor in the replayed session {gone} (or it is gone): no latency is measured" in page
    assert '<line class="latency"' not in page


def _replay_of(folder: Path, source: str) -> None:
    """Make `folder` a replay of the folder `source` names, as its header says."""
    (folder / "transcript.json").unlink()

    def header(record: dict[str, Any]) -> dict[str, Any]:
        if record.get("kind") == "header":
            record["replay_of_relative"] = source
        return record

    _rewrite(folder, header)


def test_a_replay_of_a_replay_reads_the_first_transcript_up_its_chain(tmp_path: Path) -> None:
    first = _copy("hot", tmp_path)
    second = shutil.copytree(first, tmp_path / "second")
    third = shutil.copytree(first, tmp_path / "third")
    _replay_of(second, "../hot")
    _replay_of(third, "../second")
    data = load_report(third)
    assert data.reference == first
    assert data.latencies == tuple(
        finalisation_latency_ms(data.log, read_transcript(first / "transcript.json"))
    )
    # A chain that turns back on itself ends, with no reference.
    _rewrite(
        second,
        lambda r: {**r, "replay_of_relative": "../third"} if r.get("kind") == "header" else r,
    )
    looped = load_report(third)
    assert looped.reference is None and looped.latencies == ()
