"""The HTML and JUnit verify reports, read the way a release engineer and a CI system read them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from robotrace_desktop.verify.model import (
    EpisodeMetrics,
    GateCheck,
    MetricComparison,
    PairDiff,
    RerollResult,
    VerifyResult,
)
from robotrace_desktop.verify.report_html import render_html, safe_href, write_html
from robotrace_desktop.verify.report_junit import classname_part, render_junit, write_junit
from robotrace_desktop.verify.report_svg import fmt_sig, nice_ticks

WHEN = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_SUMMARY = '"><img src=x onerror=alert(1)>'
HOSTILE_POLICY = "evil&co/\"quoted\" 'policy'.py:Act"
HOSTILE_NOTE = "bad\x00byte \x1b[31mred\x1b[0m"


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _metrics(ids: list[str], outcomes: list[str], durations: list[float]) -> dict:
    return {
        i: EpisodeMetrics(i, o, d, jerk=0.5 + k * 0.1, tracking_error=0.02 * (k + 1))
        for k, (i, o, d) in enumerate(zip(ids, outcomes, durations, strict=True))
    }


def _pass_result() -> VerifyResult:
    base, cand = ["b1", "b2", "b3"], ["c1", "c2", "c3"]
    return VerifyResult(
        verdict="pass",
        baseline="v1.0",
        candidate="v1.1",
        baseline_ids=base,
        candidate_ids=cand,
        metrics=[
            MetricComparison(
                "success_rate",
                "Success rate",
                "%",
                True,
                2 / 3,
                1.0,
                3,
                3,
                1 / 3,
                -0.2,
                0.8,
                0.2,
                None,
                (0.2, 0.94),
                (0.44, 1.0),
            )
        ],
        pairs=[
            PairDiff(
                "b1",
                "c1",
                matched_on=["task", "seed"],
                baseline_name="ep 1",
                candidate_name="ep 1'",
                summary="failure → success",
            )
        ],
        checks=[GateCheck("success_rate_drop", True, "no evidence of a drop", -0.33, 0.02)],
        episode_metrics={
            **_metrics(base, ["success", "failure", "success"], [4.0, 5.5, 4.2]),
            **_metrics(cand, ["success"] * 3, [3.9, 4.1, 4.0]),
        },
        elapsed_s=1.25,
    )


def _fail_result() -> VerifyResult:
    base, cand = ["b1", "b2", "b3", "b4"], ["c1", "c2", "c3", "c4"]
    pairs = [
        PairDiff(
            "b2",
            "c2",
            "r2",
            ["env_version", "task", "seed"],
            "pick 2",
            "pick 2 (v2)",
            {"outcome": "success → failure", "duration_s": 1.5},
            ["action_saturation"],
            18.0,
            True,
            "success → failure; new action_saturation at 3.20 s",
            3_200_000_000,
            "robotrace://episode/c2?t=3200ms",
        ),
        PairDiff(
            "b3",
            None,
            "r3",
            [],
            "pick 3",
            "",
            {},
            [],
            8.0,
            True,
            "policy failed: ValueError: bad shape",
            None,
            "robotrace://episode/r3",
        ),
        PairDiff(
            "b4",
            "c4",
            None,
            ["task"],
            "pick 4",
            "pick 4 (v2)",
            {"duration_s": 0.2},
            [],
            0.1,
            False,
            "no regression",
            None,
            "robotrace://episode/c4",
        ),
        PairDiff(
            "b1",
            "c1",
            None,
            ["task"],
            "pick 1",
            "pick 1 (v2)",
            {},
            [],
            0.0,
            False,
            "no regression",
            None,
            "robotrace://episode/c1",
        ),
    ]
    return VerifyResult(
        verdict="fail",
        baseline="v1.2",
        candidate="selection:nightly",
        baseline_ids=base,
        candidate_ids=cand,
        metrics=[
            MetricComparison(
                "success_rate",
                "Success rate",
                "%",
                True,
                0.81,
                0.705,
                400,
                400,
                -0.105,
                -0.16,
                -0.05,
                0.0003,
                False,
                (0.772, 0.843),
                (0.66, 0.75),
            ),
            MetricComparison(
                "duration_s", "Duration", "s", False, 4.0, 4.4, 4, 4, 0.4, 0.1, 0.7, 0.2, None
            ),
            MetricComparison(
                "jerk",
                "Action jerk (RMS)",
                "1/s³",
                False,
                12.3456,
                10.0,
                4,
                4,
                -2.3456,
                -3.0,
                -1.0,
                0.01,
                True,
            ),
        ],
        pairs=pairs,
        checks=[
            GateCheck("policy_errors", True, "the policy failed on 0 of 3", 0.0, 0.0),
            GateCheck("ood_share", True, "1.0% of re-rolled steps", 0.01, 0.05),
            GateCheck("success_rate_drop", False, "a drop larger than 2 points", 0.105, 0.02),
        ],
        episode_metrics={
            **_metrics(base, ["success"] * 4, [4.0, 4.1, 3.9, 4.0]),
            **_metrics(cand, ["success", "failure", "success", "success"], [4.2, 5.6, 4.0, 4.4]),
        },
        rerolls=[
            RerollResult("b2", "v2", 40, "action", 0.3, 1.4, 3.0, {"j0": 0.1}, 0.12, 1_000_000),
            RerollResult("b3", "v2", error="ValueError: bad shape (step 12, t=0.400 s)"),
            RerollResult("b1", "v2", 40, "action", 0.1, 0.4, 1.0, {"j0": 0.02}, 0.0),
        ],
        errors={"b9": "CorruptRecordingError: /data/b9.db3: truncated"},
        policy="policies/v2.py:Policy",
        gate_path="gate.toml",
        elapsed_s=12.5,
    )


def _hostile_result() -> VerifyResult:
    result = _fail_result()
    result.policy = HOSTILE_POLICY
    result.baseline = 'v1 & "friends"'
    first = result.pairs[0]
    first.baseline_name = HOSTILE_NAME
    first.summary = HOSTILE_SUMMARY
    first.link = "javascript:alert(1)"
    first.new_causes = [HOSTILE_NOTE]
    result.pairs[1].link = 'robotrace://episode/r3" onmouseover="alert(1)'
    result.checks[2].detail = HOSTILE_NOTE + HOSTILE_SUMMARY
    result.rerolls[1].error = HOSTILE_NOTE + " " + HOSTILE_NAME
    result.errors = {HOSTILE_NAME: HOSTILE_NOTE + " \ud800"}
    return result


# ---------------------------------------------------------------- HTML


def test_pass_page_shows_a_green_pass_banner_and_plots() -> None:
    page = render_html(_pass_result(), generated_at=WHEN)
    tags = _parse(page)
    banners = [a for t, a in tags.tags if t == "div" and "verdict" in (a.get("class") or "")]
    assert [b["class"] for b in banners] == ["verdict pass"]
    assert ">PASS</span>" in page and "all 1 gate check(s) passed" in page
    assert "2024-05-01 12:30:00 +0000" in page
    assert "66.7 %" in page and "100.0 %" in page  # fractions shown ×100
    assert "+33.3 points" in page
    assert "No episode pair regressed" in page
    assert sum(t == "svg" for t, _ in tags.tags) >= 4  # success + duration, jerk, tracking


def test_fail_page_reads_in_the_order_a_release_engineer_needs() -> None:
    page = render_html(_fail_result(), generated_at=WHEN)
    tags = _parse(page)
    banners = [
        a["class"] for t, a in tags.tags if t == "div" and "verdict" in (a.get("class") or "")
    ]
    assert banners == ["verdict fail"]
    assert ">FAIL</span>" in page and "1 of 3 gate check(s) failed: success_rate_drop" in page
    # the failed check is the first row of the gate table, value/threshold in points
    rows = [a.get("class") for t, a in tags.tags if t == "tr" and a.get("class")]
    assert rows[:3] == ["failed", "passed", "passed"]
    assert "10.5 points" in page and "2.0 points" in page
    # success rate ×100 with its interval; delta in points with CI; coloured verdicts
    assert "81.0 % <span class=small>[77.2, 84.3]</span>" in page
    assert "70.5 %" in page and "−10.5 points" in page and "[−16.0, −5.0]" in page
    assert "&lt; 0.001" in page
    assert '<td class="worse">▼ worse</td>' in page and '<td class="better">▲ better</td>' in page
    assert '<td class="same">–</td>' in page
    assert "4.00 s" in page and "+0.40 s" in page and "12.3 1/s³" in page
    # sections in reading order
    order = [
        "Gate checks",
        "Metrics",
        "Plots",
        "Worst regressions",
        "Re-roll errors",
        "Skipped episodes",
    ]
    positions = [page.index(f"<h2>{h}</h2>") for h in order]
    assert positions == sorted(positions)
    # worst regressions: the regressed pair's deep link is clickable and copyable
    hrefs = [a["href"] for t, a in tags.tags if t == "a"]
    assert "robotrace://episode/c2?t=3200ms" in hrefs
    assert ">robotrace://episode/c2?t=3200ms</a>" in page
    assert "robotrace://episode/c1" not in page  # regression 0: not listed
    assert "must look" in page and "success → failure; new action_saturation at 3.20 s" in page
    # re-roll error, skipped episode, re-roll plots with the gate limit
    assert "ValueError: bad shape (step 12, t=0.400 s)" in page
    assert "CorruptRecordingError: /data/b9.db3: truncated" in page
    assert "gate limit 5 %" in page
    assert "Re-roll steps out of distribution per episode" in page
    assert sum(t == "svg" for t, _ in tags.tags) == 6  # success, 3 histograms, 2 re-roll


def test_page_fetches_nothing_from_outside() -> None:
    page = render_html(_fail_result(), generated_at=WHEN)
    tags = _parse(page)
    assert "http://" not in page and "https://" not in page
    assert not [a for t, a in tags.tags if "src" in a]
    assert not [t for t, _ in tags.tags if t in ("script", "link", "img", "iframe", "object")]
    assert "<style>" in page and "Content-Security-Policy" in page


def test_hostile_strings_are_escaped_everywhere(tmp_path: Path) -> None:
    path = write_html(_hostile_result(), tmp_path / "out" / "report.html", generated_at=WHEN)
    page = path.read_text(encoding="utf-8")
    tags = _parse(page)
    assert not [t for t, _ in tags.tags if t in ("script", "img")]
    assert not [(t, k) for t, a in tags.tags for k in a if k.lower().startswith("on")]
    hrefs = [a["href"] for t, a in tags.tags if t == "a"]
    assert hrefs and all(h.startswith("robotrace://") for h in hrefs if h is not None)
    assert "javascript:alert(1)" not in hrefs
    # shown as text, not dropped: the user sees what was there
    text = "".join(tags.text)
    assert HOSTILE_NAME in text and HOSTILE_SUMMARY in text and "javascript:alert(1)" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "evil&amp;co/&quot;quoted&quot; &#x27;policy&#x27;.py:Act" in page
    assert "v1 &amp; &quot;friends&quot;" in page
    assert "\x00" not in page and "\x1b" not in page and "badbyte [31mred[0m" in text


def test_html_round_trips_through_the_json_document() -> None:
    for result in (_pass_result(), _fail_result(), _hostile_result()):
        again = VerifyResult.from_json_dict(json.loads(json.dumps(result.to_json_dict())))
        assert render_html(again, generated_at=WHEN) == render_html(result, generated_at=WHEN)


def test_only_robotrace_and_file_links_are_clickable() -> None:
    assert safe_href("robotrace://episode/abc?t=10ms") == "robotrace://episode/abc?t=10ms"
    assert safe_href("file:///tmp/x.html") == "file:///tmp/x.html"
    for bad in (
        "javascript:alert(1)",
        "https://evil.example",
        "data:text/html,x",
        " ",
        None,
        "robotrace://episode/a b",
    ):
        assert safe_href(bad) is None


def test_number_formatting_helpers() -> None:
    assert (
        fmt_sig(0.012345) == "0.0123" and fmt_sig(-2.5) == "−2.50" and fmt_sig(12345.6) == "12,346"
    )
    assert fmt_sig(None) == "–" and fmt_sig(float("nan")) == "n/a"
    assert nice_ticks(0.0, 0.93, 5) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(3.9, 5.6, 5) == [3.5, 4.0, 4.5, 5.0, 5.5, 6.0]


def test_large_run_keeps_the_page_small() -> None:
    result = _fail_result()
    n = 3000
    result.baseline_ids = [f"b{i}" for i in range(n)]
    result.episode_metrics = {
        f"b{i}": EpisodeMetrics(f"b{i}", "success", 3.0 + (i % 97) / 50) for i in range(n)
    }
    result.rerolls = [
        RerollResult(f"b{i}", "v2", 10, mean_error_z=(i % 89) / 40, ood_share=(i % 13) / 100)
        for i in range(n)
    ]
    result.pairs = [
        PairDiff(
            f"b{i}",
            f"c{i}",
            regression=float(n - i),
            regressed=True,
            summary="worse",
            link=f"robotrace://episode/c{i}",
        )
        for i in range(n)
    ]
    page = render_html(result, generated_at=WHEN)
    assert len(page) < 400_000
    assert page.count("robotrace://episode/c") == 2 * 25  # href + visible text, top 25 only
    assert "Showing the 25 worst of 3000 pairs that regressed." in page


# ---------------------------------------------------------------- JUnit


def _suites(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return {s.get("name"): s for s in root.findall("testsuite")}


def test_junit_counts_cases_failures_and_errors(tmp_path: Path) -> None:
    path = write_junit(_fail_result(), tmp_path / "ci" / "verify.xml")
    xml = path.read_text(encoding="utf-8")
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.parse(path).getroot()
    suites = _suites(xml)
    gate, episodes = suites["robotrace.verify.gate"], suites["robotrace.verify.episodes"]
    assert (gate.get("tests"), gate.get("failures"), gate.get("errors")) == ("3", "1", "0")
    failed = [c for c in gate.findall("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["success_rate_drop"]
    assert failed[0].find("failure").get("message") == "a drop larger than 2 points"
    # 4 pairs + 1 unmeasured episode; b2 regressed (failure), b3's policy raised (error)
    cases = {c.get("name"): c for c in episodes.findall("testcase")}
    assert list(cases) == [
        "pick 2 [b2]",
        "pick 3 [b3]",
        "pick 4 [b4]",
        "pick 1 [b1]",
        "b9 (not measured)",
    ]
    assert (
        episodes.get("tests"),
        episodes.get("failures"),
        episodes.get("errors"),
        episodes.get("skipped"),
    ) == ("5", "1", "2", "0")
    assert {c.get("classname") for c in cases.values()} == {"robotrace.verify.v1_2"}
    failure = cases["pick 2 [b2]"].find("failure")
    assert failure.get("message") == "success → failure; new action_saturation at 3.20 s"
    out = cases["pick 2 [b2]"].find("system-out").text
    assert "link: robotrace://episode/c2?t=3200ms" in out and "diff duration_s: 1.5" in out
    error = cases["pick 3 [b3]"].find("error")
    assert error.get("message") == "policy raised: ValueError: bad shape (step 12, t=0.400 s)"
    assert (
        cases["pick 4 [b4]"].find("failure") is None and cases["pick 4 [b4]"].find("error") is None
    )
    assert "truncated" in cases["b9 (not measured)"].find("error").get("message")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "2", "2")
    assert gate.get("time") == episodes.get("time") == "12.500"


def test_junit_marks_unchecked_rules_skipped_and_passes_a_pass_run() -> None:
    result = _pass_result()
    result.checks.append(
        GateCheck(
            "success_rate_drop_b",
            False,
            "no baseline episode has a known outcome",
            None,
            0.02,
            inconclusive=True,
        )
    )
    suites = _suites(render_junit(result))
    gate = suites["robotrace.verify.gate"]
    assert (gate.get("tests"), gate.get("failures"), gate.get("skipped")) == ("2", "0", "1")
    episodes = suites["robotrace.verify.episodes"]
    assert (episodes.get("tests"), episodes.get("failures"), episodes.get("errors")) == (
        "1",
        "0",
        "0",
    )


def test_junit_escapes_and_strips_hostile_text() -> None:
    xml = render_junit(_hostile_result())
    assert "\x00" not in xml and "\x1b" not in xml and "<script>" not in xml
    suites = _suites(xml)  # parses despite NULs, ESCs and a lone surrogate in the input
    gate = suites["robotrace.verify.gate"]
    props = {p.get("name"): p.get("value") for p in gate.iter("property")}
    assert props["policy"] == HOSTILE_POLICY and props["baseline"] == 'v1 & "friends"'
    failure = next(c for c in gate.iter("failure"))
    assert failure.get("message") == "badbyte [31mred[0m" + HOSTILE_SUMMARY
    episodes = suites["robotrace.verify.episodes"]
    names = [c.get("name") for c in episodes.findall("testcase")]
    assert names[0] == f"{HOSTILE_NAME} [b2]"
    assert names[-1] == f"{HOSTILE_NAME} (not measured)"
    assert {c.get("classname") for c in episodes.findall("testcase")} == {
        "robotrace.verify.v1_friends"
    }
    assert episodes.find("testcase/failure").get("message") == HOSTILE_SUMMARY
    assert "link: javascript:alert(1)" in episodes.find("testcase/system-out").text
    assert classname_part("selection:night.ly") == "selection_night_ly"
    assert classname_part("\x00") == "baseline"


def test_empty_and_degenerate_results_still_render() -> None:
    empty = VerifyResult("fail", "v1", "v2", cancelled=True)
    page = render_html(empty, generated_at=WHEN)
    assert "partial results" in page and "No gate check applied." in page
    assert "Nothing to plot." in page and "No re-roll was run." in page
    suites = _suites(render_junit(empty))
    assert suites["robotrace.verify.episodes"].get("tests") == "0"
    odd = _pass_result()
    odd.metrics[0].baseline = float("nan")
    odd.metrics[0].p_value = float("inf")
    odd.episode_metrics = {
        "b1": EpisodeMetrics("b1", "success", 2.0),
        "c1": EpisodeMetrics("c1", "success", 2.0, reward=float("nan")),
    }
    odd.rerolls = [RerollResult("b1", "v2", 5, mean_error_z=0.0, ood_share=0.0)]
    page = render_html(odd, generated_at=WHEN)
    assert "n/a" in page and "Duration (s)" in page and "Total reward" not in page
    ET.fromstring(render_junit(odd))
