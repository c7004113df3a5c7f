"""``verify``: gate a candidate policy against a baseline, with an exit code for CI.

Exit 0 when every gate check passes, 1 on a regression, 2 on usage errors (unknown versions
or selections, a bad gate file or policy spec), 3 when nothing failed but a check could not be
evaluated (inconclusive: e.g. no episode with a known outcome) — a gate that did not check
something must not read as a pass in CI; ``--allow-inconclusive`` turns that into 0.
Reports: ``--report`` (self-contained HTML), ``--junit`` (one test case per episode pair),
``--json`` (stdout).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robotrace_desktop.commands.common import print_json, print_table, progress_bar
from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.sinks.base import SINKS, call_safely, make_sinks_safely
from robotrace_desktop.verify.model import MetricComparison, VerifyResult, check_order

EXIT_PASS, EXIT_REGRESSION, EXIT_USAGE, EXIT_INCONCLUSIVE = 0, 1, 2, 3
EXIT_CODES = {"pass": EXIT_PASS, "fail": EXIT_REGRESSION, "inconclusive": EXIT_INCONCLUSIVE}
CHECK_MARKS = {"pass": "ok  ", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}
PAIRS_SHOWN = 10


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "verify",
        help="compare a candidate policy with a baseline; exit 1 on a regression",
        description="Compare the candidate's episodes with the baseline's (outcomes, findings, "
        "smoothness, tracking) and/or re-roll a candidate policy offline on the baseline's "
        "recorded observations, then apply the gate. BASELINE/CANDIDATE: a policy_version, "
        "selection:NAME (list --save-as NAME) or tag:LABEL. Exit 0 pass, 1 regression, 2 usage "
        "error, 3 inconclusive (a check the data could not answer, and none failed).",
    )
    parser.add_argument("--baseline", metavar="SELECTOR", help="required unless --write-gate")
    parser.add_argument("--candidate", metavar="SELECTOR", help="recorded candidate episodes")
    parser.add_argument(
        "--policy",
        metavar="SPEC",
        help="re-roll this policy on the baseline: module:attr or path/to/file.py:attr "
        "(the code is imported and run)",
    )
    parser.add_argument(
        "--candidate-name", metavar="NAME", help="policy_version of the saved replays"
    )
    parser.add_argument(
        "--with-images", action="store_true", help="give the policy camera frames (RGB arrays)"
    )
    parser.add_argument("--gate", metavar="TOML", help="gate thresholds (default: built in)")
    parser.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="count checks the data could not answer as passed (exit 0 instead of 3)",
    )
    parser.add_argument(
        "--write-gate", metavar="TOML", help="write the documented default gate file and exit"
    )
    parser.add_argument("--report", metavar="HTML", type=Path, help="write an HTML report")
    parser.add_argument("--junit", metavar="XML", type=Path, help="write JUnit XML")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--export-to",
        metavar="SINK",
        action="append",
        choices=sorted(SINKS),
        default=[],
        help="also send the result to wandb, mlflow or otel (repeatable; configured by their "
        "environment variables, e.g. WANDB_PROJECT, MLFLOW_TRACKING_URI); a failing sink only "
        "warns and never changes the exit code",
    )
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--engine", choices=("process", "ray"), default="process")
    parser.add_argument("--address", help="Ray cluster address (--engine ray)")
    parser.add_argument(
        "--no-save-replays", action="store_true", help="do not save re-rolls as episodes"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from robotrace_desktop import paths
    from robotrace_desktop.verify.gate import write_default_gate
    from robotrace_desktop.verify.run import run_verify
    from robotrace_desktop.verify.spec import Selector, VerifySpec

    try:
        if args.write_gate:
            print(f"wrote {write_default_gate(Path(args.write_gate))}", file=sys.stderr)
            return EXIT_PASS
        if not args.baseline:
            raise RobotraceError("--baseline is required (a policy_version or selection:NAME)")
        if args.workers is not None and args.workers < 1:
            raise RobotraceError("--workers must be at least 1")
        spec = VerifySpec(
            baseline=Selector.parse(args.baseline),
            candidate=Selector.parse(args.candidate) if args.candidate else None,
            policy=args.policy,
            candidate_name=args.candidate_name,
            with_images=args.with_images,
            gate_path=args.gate,
            workers=args.workers,
            engine=args.engine,
            address=args.address,
            save_replays=not args.no_save_replays,
            allow_inconclusive=args.allow_inconclusive,
        )
        update, close = progress_bar(enabled=sys.stderr.isatty() and not args.json, unit="ep")
        try:
            result = run_verify(
                Path(args.catalog) if args.catalog else paths.catalog_path(),
                spec,
                progress=None if update is None else (lambda s, d, t: update(d, t, s)),
            )
        finally:
            close()
    except RobotraceError as exc:
        print(f"robotrace-desktop verify: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _write_reports(args, result)
    if args.json:
        print_json(result.to_json_dict())
    else:
        print_summary(result)
    if args.export_to:
        export_result(args.export_to, result)
    return EXIT_CODES.get(result.verdict, EXIT_REGRESSION)


def export_result(names: list[str], result: VerifyResult) -> None:
    """Send the result to each sink, fail-soft: a missing extra or a broken sink is a warning
    on stderr, never an exception, and never changes the verdict's exit code."""
    try:
        sinks, warnings = make_sinks_safely(dict.fromkeys(names))
        failed = call_safely(sinks, lambda sink: sink.export_verify(result))
        failed += call_safely(sinks, lambda sink: sink.close())
    except Exception as exc:  # belt and braces: call_safely already never raises
        sinks, warnings, failed = [], [f"{type(exc).__name__}: {exc}"], []
    broken = {line.split(":", 1)[0] for line in failed}
    for sink in sinks:
        if sink.name not in broken:
            print(f"exported the result to {sink.name}", file=sys.stderr)
    for line in warnings + failed:
        print(f"robotrace-desktop verify: warning: sink {line}", file=sys.stderr)


def _write_reports(args: argparse.Namespace, result: VerifyResult) -> None:
    if args.report:
        from robotrace_desktop.verify.report_html import write_html

        print(f"HTML report: {write_html(result, args.report)}", file=sys.stderr)
    if args.junit:
        from robotrace_desktop.verify.report_junit import write_junit

        print(f"JUnit XML: {write_junit(result, args.junit)}", file=sys.stderr)


def print_summary(result: VerifyResult) -> None:
    print(
        f"{result.verdict.upper()}: {result.candidate} vs {result.baseline} "
        f"({len(result.baseline_ids)} baseline, {len(result.candidate_ids)} candidate episodes"
        + (f", {len(result.rerolls)} re-rolled" if result.rerolls else "")
        + f", {result.elapsed_s:.1f} s)"
    )
    for check in sorted(result.checks, key=check_order):
        print(f"  {CHECK_MARKS[check.state]} {check.name}: {check.detail}")
    if result.verdict == "inconclusive":
        print(
            "  (inconclusive: no check failed, but the data could not answer every one; "
            "exit 3 — --allow-inconclusive counts those as passed)"
        )
    if result.metrics:
        print()
        print_table(
            ["METRIC", "BASELINE", "CANDIDATE", "DELTA", "P", ""],
            [_metric_row(m) for m in result.metrics],
            max_width=56,
        )
    worst = [p for p in result.pairs if p.regression > 0][:PAIRS_SHOWN]
    if worst:
        print(f"\nworst {len(worst)} of {len(result.pairs)} pairs:")
        for pair in worst:
            against = f" → {pair.candidate_name}" if pair.candidate_name else ""
            print(f"  {pair.regression:6.2f}  {pair.baseline_name}{against}: {pair.summary}")
            if pair.link:
                print(f"          {pair.link}")
    for episode, reason in list(result.errors.items())[:PAIRS_SHOWN]:
        print(f"  skipped {episode}: {reason}", file=sys.stderr)


def format_value(metric: MetricComparison, value: float | None, *, delta: bool = False) -> str:
    if value is None:
        return "-"
    if metric.unit == "%":
        return f"{value * 100:+.1f} pts" if delta else f"{value * 100:.1f}%"
    text = f"{value:+.3g}" if delta else f"{value:.3g}"
    return f"{text} {metric.unit}".rstrip() if metric.unit not in ("", "%") else text


def _metric_row(metric: MetricComparison) -> list[str]:
    verdict = {True: "better", False: "WORSE", None: ""}[metric.better]
    return [
        metric.label,
        format_value(metric, metric.baseline),
        format_value(metric, metric.candidate),
        format_value(metric, metric.delta, delta=True),
        "-" if metric.p_value is None else f"{metric.p_value:.2g}",
        verdict,
    ]
