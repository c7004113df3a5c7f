"""The verify run as JUnit XML, so a CI system (Jenkins, GitLab, GitHub test reporters) shows
each gate rule and each episode pair as a test case natively.

Two suites: ``robotrace.verify.gate`` (one case per gate check) and ``robotrace.verify.episodes``
(one case per episode pair: a failure when the pair regressed, an error when the candidate policy
raised on it, plus one errored case per episode that could not be measured). ElementTree does
the escaping; characters XML 1.0 cannot carry at all are stripped first.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from robotrace_desktop.verify.model import GateCheck, PairDiff, RerollResult, VerifyResult

GATE_SUITE = "robotrace.verify.gate"
EPISODE_SUITE = "robotrace.verify.episodes"
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def xml_text(value: object) -> str:
    """``str(value)`` with the characters XML 1.0 forbids removed (lone surrogates, which
    cannot be encoded, become U+FFFD)."""
    return _SURROGATES.sub("\ufffd", _XML_FORBIDDEN.sub("", str(value)))


def classname_part(selector: str) -> str:
    """A selector as one dotted-name component: "v1.2" → "v1_2", "selection:nightly" →
    "selection_nightly" (a dot would split it into packages in Jenkins)."""
    part = re.sub(r"[^0-9A-Za-z_-]+", "_", xml_text(selector)).strip("_")
    return part or "baseline"


class _Suite:
    def __init__(self, name: str, elapsed_s: float) -> None:
        self.element = ET.Element("testsuite", name=name)
        self.elapsed = elapsed_s
        self.counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(self, classname: str, name: str) -> ET.Element:
        self.counts["tests"] += 1
        return ET.SubElement(
            self.element, "testcase", classname=xml_text(classname), name=xml_text(name), time="0"
        )

    def mark(self, case: ET.Element, kind: str, message: str, kind_type: str, text: str) -> None:
        key = {"failure": "failures", "error": "errors", "skipped": "skipped"}[kind]
        self.counts[key] += 1
        element = ET.SubElement(case, kind, message=xml_text(message), type=kind_type)
        if text:
            element.text = xml_text(text)

    def finish(self) -> ET.Element:
        for key, value in self.counts.items():
            self.element.set(key, str(value))
        self.element.set("time", f"{max(self.elapsed, 0.0):.3f}")
        return self.element


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return str(value)


def _gate_suite(result: VerifyResult) -> _Suite:
    suite = _Suite(GATE_SUITE, result.elapsed_s)
    properties = ET.SubElement(suite.element, "properties")
    for name, value in (
        ("verdict", result.verdict),
        ("baseline", result.baseline),
        ("candidate", result.candidate),
        ("policy", result.policy),
        ("gate", result.gate_path),
        ("cancelled", str(result.cancelled).lower()),
    ):
        if value is not None:
            ET.SubElement(properties, "property", name=name, value=xml_text(value))
    for check in result.checks:
        case = suite.case(GATE_SUITE, check.name)
        body = _check_body(check)
        if check.state == "fail":
            suite.mark(case, "failure", check.detail, "GateCheckFailed", body)
            continue  # the failure carries the whole story
        if check.inconclusive:  # a CI system shows it skipped, with the reason
            suite.mark(case, "skipped", f"inconclusive: {check.detail}", "Inconclusive", "")
        ET.SubElement(case, "system-out").text = xml_text(body)
    return suite


def _check_body(check: GateCheck) -> str:
    return f"{check.detail}\nvalue: {_fmt(check.value)}\nthreshold: {_fmt(check.threshold)}"


def _label(name: str, episode_id: str) -> str:
    return f"{name} [{episode_id}]" if name and name != episode_id else episode_id


def _pair_out(pair: PairDiff) -> str:
    lines = [f"link: {pair.link}" if pair.link else "link: –"]
    if pair.moment_ns is not None:
        lines.append(f"moment: {pair.moment_ns / 1e9:.3f} s")
    lines.append(f"baseline: {_label(pair.baseline_name, pair.baseline_id)}")
    if pair.candidate_id:
        lines.append(f"candidate: {_label(pair.candidate_name, pair.candidate_id)}")
    if pair.replay_id:
        lines.append(f"replay: {pair.replay_id}")
    if pair.matched_on:
        lines.append(f"matched on: {', '.join(pair.matched_on)}")
    lines.append(f"regression score: {_fmt(pair.regression)}")
    lines.append(f"summary: {pair.summary}")
    if pair.new_causes:
        lines.append(f"new causes: {', '.join(pair.new_causes)}")
    lines += [
        f"diff {key}: {_fmt(value)}" for key, value in pair.diffs.items() if value is not None
    ]
    return "\n".join(lines)


def _episode_suite(result: VerifyResult) -> _Suite:
    suite = _Suite(EPISODE_SUITE, result.elapsed_s)
    classname = f"robotrace.verify.{classname_part(result.baseline)}"
    failed_rerolls: dict[str, RerollResult] = {
        r.baseline_id: r for r in result.rerolls if r.error is not None
    }
    names: dict[str, str] = {}
    for pair in result.pairs:
        names[pair.baseline_id] = pair.baseline_name
        if pair.candidate_id:
            names[pair.candidate_id] = pair.candidate_name
        case = suite.case(classname, _label(pair.baseline_name, pair.baseline_id))
        out = _pair_out(pair)
        short = f"{pair.summary}\nopen at the moment: {pair.link or '–'}"
        reroll = failed_rerolls.pop(pair.baseline_id, None)
        if reroll is not None:
            suite.mark(case, "error", f"policy raised: {reroll.error}", "PolicyError", short)
        elif pair.regressed:
            suite.mark(case, "failure", pair.summary or "regressed", "Regression", short)
        ET.SubElement(case, "system-out").text = xml_text(out)
    for reroll in failed_rerolls.values():  # a failed re-roll with no pair row: still reported
        case = suite.case(classname, _label(names.get(reroll.baseline_id, ""), reroll.baseline_id))
        suite.mark(case, "error", f"policy raised: {reroll.error}", "PolicyError", "")
    for episode_id, reason in result.errors.items():
        name = _label(names.get(episode_id, ""), episode_id)
        case = suite.case(classname, f"{name} (not measured)")
        suite.mark(case, "error", reason, "EpisodeNotMeasured", reason)
    return suite


def render_junit(result: VerifyResult) -> str:
    suites = [_gate_suite(result), _episode_suite(result)]
    root = ET.Element("testsuites", name="robotrace verify")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in suites:
        root.append(suite.finish())
        for key in totals:
            totals[key] += suite.counts[key]
    for key in ("tests", "failures", "errors"):  # Jenkins' junit-10.xsd: no skipped here
        root.set(key, str(totals[key]))
    root.set("time", f"{max(result.elapsed_s, 0.0):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write_junit(result: VerifyResult, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_junit(result), encoding="utf-8")
    return path
