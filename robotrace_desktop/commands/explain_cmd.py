"""``explain EPISODE`` and ``explain --all``: why did the run fail, ranked, with evidence.

A catalog episode is explained and its findings stored with their reuse key; asked again while
nothing they depend on changed (recording, catalog fields, thresholds, analyzers, normal model:
``library.explain_reuse``), the stored findings are printed without opening the recording.
``--force`` recomputes. A recording that was never scanned is explained directly from disk and
nothing is written. ``--all`` runs over the whole catalog on every core (or ``--engine ray``)
with a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from robotrace_desktop.catalog.findings import explainable_ids, findings_for, store_findings
from robotrace_desktop.catalog.peers import history_line
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.commands.common import open_catalog, print_json, progress_bar
from robotrace_desktop.core.finding import Finding
from robotrace_desktop.core.timebase import format_seconds
from robotrace_desktop.episodes import ResolvedEpisode, resolve
from robotrace_desktop.errors import ValidationError

if TYPE_CHECKING:  # the analyzers (numpy…) load only when something is explained
    from robotrace_desktop.library.explain_runner import ExplainRun

#: the keys of each finding in ``--json`` output, in this order
JSON_KEYS = (
    "rank",
    "cause",
    "title",
    "explanation",
    "confidence",
    "severity",
    "t_start_ns",
    "t_end_ns",
    "channels",
    "evidence",
    "next_step",
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "explain",
        help="ranked likely causes of an episode's failure, with evidence",
        description="Run every analyzer on EPISODE and print the ranked findings; the first "
        "is the most likely reason the run failed. Catalog episodes get their findings stored.",
    )
    parser.add_argument(
        "episode", nargs="?", metavar="EPISODE", help="id, path, DATASET#index or link"
    )
    parser.add_argument(
        "--all", action="store_true", help="re-explain every readable episode in the catalog"
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="processes for --all (default: every core)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="recompute even when the stored findings are still valid (nothing changed)",
    )
    parser.add_argument(
        "--engine",
        choices=("process", "ray"),
        default="process",
        help="for --all: this machine's cores (default) or a Ray cluster (the [ray] extra)",
    )
    parser.add_argument(
        "--address", default=None, help="for --engine ray: the cluster (default: start one here)"
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.all == (args.episode is not None):
        raise ValidationError("explain: give one EPISODE or --all")
    if args.workers is not None and args.workers < 1:
        raise ValidationError("explain: --workers must be at least 1")
    return _run_all(args) if args.all else _run_one(args)


def _run_one(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        resolved = resolve(args.episode, catalog)
        findings = _stored(catalog, resolved.info.id) if resolved.in_catalog else None
        if findings is None or args.force:
            findings = _compute(catalog, resolved)
        history, history_text = history_line(catalog, resolved.info)
    if args.json:
        print_json(
            {
                "episode": resolved.info.id,
                "history_episodes": history,
                "findings": [finding_json(f) for f in findings],
            }
        )
    else:
        print(f"{resolved.info.name}  ({resolved.info.id})")
        if not resolved.in_catalog:
            print("  (not in the catalog: explained directly, nothing stored)")
        print(f"  {history_text}")
        print_findings(findings)
    return 0


def _stored(catalog: Catalog, episode_id: str) -> list[Finding] | None:
    """The stored findings when their reuse key is current (None: compute). Needs neither the
    analyzers nor the recording: a few catalog queries and a file read."""
    from robotrace_desktop.library.explain_reuse import current_keys, thresholds_file

    if not thresholds_file(catalog.path).is_file():
        return None  # the first Explain writes the thresholds file, which changes the key
    check = current_keys(catalog, [episode_id]).get(episode_id)
    return findings_for(catalog, episode_id) if check is not None and check.fresh else None


def _compute(catalog: Catalog, resolved: ResolvedEpisode) -> list[Finding]:
    from robotrace_desktop.library.explain_reuse import current_keys
    from robotrace_desktop.library.explain_runner import ensure_thresholds_file, explain_resolved

    ensure_thresholds_file(catalog.path)
    episode = resolved.info.id
    check = current_keys(catalog, [episode]).get(episode) if resolved.in_catalog else None
    findings = explain_resolved(resolved, catalog)
    if resolved.in_catalog:
        store_findings(catalog, episode, findings, None if check is None else check.key)
    return findings


def _run_all(args: argparse.Namespace) -> int:
    from robotrace_desktop.library.explain_runner import explain_many

    with open_catalog(args) as catalog:
        path = catalog.path
        ids = explainable_ids(catalog)
    progress, close = progress_bar(enabled=sys.stderr.isatty() and not args.json, unit="ep")
    try:
        result = explain_many(
            path,
            ids,
            workers=args.workers or os.cpu_count(),
            progress=progress,
            force=args.force,
            engine=args.engine,
            address=args.address,
        )
    finally:
        close()
        if args.engine == "ray":
            from robotrace_desktop.workers import ray_engine

            ray_engine.shutdown_local()
    if args.json:
        print_json(
            {
                "explained": len(result.explained),
                "errors": result.errors,
                "top_causes": result.top_causes(),
            }
        )
    else:
        _print_summary(result)
    return 0 if not result.errors or result.explained else 1


def finding_json(finding: Finding) -> dict[str, Any]:
    data = finding.to_dict()
    return {key: data[key] for key in JSON_KEYS}


def print_findings(findings: list[Finding]) -> None:
    if not findings:
        print("  No findings — nothing unusual detected.")
        return
    for f in findings:
        print(f"  #{f.rank}  {f.confidence:4.0%}  {f.severity:<8}  {time_text(f):>15}  {f.title}")
        print(f"        {f.explanation}")
        if f.next_step:
            print(f"        next: {f.next_step}")


def time_text(finding: Finding) -> str:
    if finding.t_start_ns is None:
        return "-"
    start = format_seconds(finding.t_start_ns)
    if finding.t_end_ns is None or finding.t_end_ns == finding.t_start_ns:
        return start
    return f"{start}–{format_seconds(finding.t_end_ns)}"


def _print_summary(result: ExplainRun) -> None:
    print(f"explained {len(result.explained)} episode(s), {len(result.errors)} error(s)")
    if result.reused:
        print(f"  {len(result.reused)} unchanged: stored findings reused (--force recomputes)")
    for episode, reason in result.errors.items():
        print(f"  error: {episode}: {reason}")
    causes = result.top_causes()
    if causes:
        print("top cause per episode:")
        for cause, count in causes.items():
            print(f"  {count:5d}  {cause}")
    else:
        print("no episode has a confident finding")
