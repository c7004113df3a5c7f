"""``list``, ``show``, ``tag`` and ``selections``: reading and annotating the catalog."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from robotrace_desktop.catalog.anomaly import Anomaly, iter_by_anomaly
from robotrace_desktop.catalog.episode_filter import EpisodeFilter
from robotrace_desktop.catalog.selections import delete_selection, save_selection, selections
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.commands.common import (
    catalog_for_reading,
    duration_text,
    episode_summary,
    open_catalog,
    print_json,
    print_json_stream,
    print_table,
    print_table_stream,
)
from robotrace_desktop.core.episode import (
    REPRODUCIBILITY_FIELDS,
    SOURCES,
    EpisodeInfo,
    Outcome,
    Status,
    StreamInfo,
    StreamKind,
)
from robotrace_desktop.core.fields import FieldValueError, parse_value
from robotrace_desktop.core.links import EpisodeLink
from robotrace_desktop.core.timebase import format_seconds
from robotrace_desktop.errors import EpisodeNotFoundError, ValidationError


def register(sub: argparse._SubParsersAction) -> None:
    lister = sub.add_parser("list", help="list catalog episodes, with filters")
    lister.add_argument("--policy", help="policy_version equals (any case)")
    lister.add_argument("--env", help="env_version equals (any case)")
    lister.add_argument("--robot", help="robot equals (any case)")
    lister.add_argument("--status", choices=["ready", "failed", "missing"])
    lister.add_argument("--kind", choices=["rosbag2", "rosbag1", "lerobot", "hdf5", "bundle"])
    lister.add_argument("--outcome", choices=["success", "failure", "unknown"])
    lister.add_argument(
        "--search", metavar="TEXT", help="in name, path, task, robot, problems, tags"
    )
    lister.add_argument(
        "--cause",
        metavar="CAUSE",
        help="an Explain cause found with confidence >= 0.5 (e.g. action_saturation)",
    )
    lister.add_argument("--source", choices=["real", "sim", "replay"])
    lister.add_argument(
        "--replays",
        action="store_true",
        help="also list replays (re-rolls saved by verify --policy); hidden by default",
    )
    lister.add_argument(
        "--save-as",
        metavar="NAME",
        help="save the listed episodes as a selection (verify --baseline selection:NAME)",
    )
    lister.add_argument(
        "--sort",
        choices=["path", "anomaly"],
        default="path",
        help="path (default): by recording; anomaly: the most abnormal explained episodes "
        "first, with their anomaly score and top finding (never-explained ones last)",
    )
    lister.add_argument("--json", action="store_true")
    lister.set_defaults(handler=run_list)

    chosen = sub.add_parser("selections", help="list saved selections, or delete one")
    chosen.add_argument("--delete", metavar="NAME", help="delete this saved selection")
    chosen.add_argument("--json", action="store_true")
    chosen.set_defaults(handler=run_selections)

    show = sub.add_parser("show", help="everything about one episode, with its streams")
    show.add_argument("episode", metavar="EPISODE", help="id, path, DATASET#index or link")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=run_show)

    tag = sub.add_parser("tag", help="set fields in the catalog (never in the recording)")
    tag.add_argument("episodes", nargs="+", metavar="EPISODE")
    tag.add_argument("--policy-version", type=field_type("policy_version"))
    tag.add_argument("--env-version", type=field_type("env_version"))
    tag.add_argument("--git-sha", type=field_type("git_sha"), help="4 to 64 hex digits")
    tag.add_argument("--seed", type=field_type("seed"), help="an integer")
    tag.add_argument("--robot", type=field_type("robot"))
    tag.add_argument("--task", type=field_type("task"))
    tag.add_argument("--source", type=field_type("source"), choices=SOURCES)
    tag.add_argument("--outcome", type=field_type("outcome"), choices=[o.value for o in Outcome])
    tag.add_argument("--tag", action="append", default=[], metavar="LABEL", help="free label")
    tag.add_argument("--json", action="store_true")
    tag.set_defaults(handler=run_tag)


def field_type(name: str) -> Callable[[str], Any]:
    """argparse type of a ``tag`` field option: ``core/fields.py``'s rule for ``name``, the one
    every reader and the SDK apply, so a value ``tag`` stores is one a recording could hold;
    a rejected value is a usage error (exit 2) saying what the field wants."""

    def convert(text: str) -> Any:
        try:
            value = parse_value(name, text)
        except FieldValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not {exc}") from None
        if value is None:
            raise argparse.ArgumentTypeError(f"{name} needs a value")
        return value.value if isinstance(value, Outcome) else value

    convert.__name__ = name  # argparse names the type in its messages
    return convert


#: list option -> (catalog field it matches, singular, plural); None: free text
LIST_FILTERS = (
    ("policy", "policy_version", "policy_version", "policy versions"),
    ("env", "env_version", "env_version", "env versions"),
    ("robot", "robot", "robot", "robots"),
    ("status", "status", "status", "statuses"),
    ("kind", "kind", "kind", "kinds"),
    ("outcome", "outcome", "outcome", "outcomes"),
    ("source", "source", "source", "sources"),
    ("cause", "cause", "cause", "causes"),
    ("search", None, "search text", ""),
)
KNOWN_SHOWN = 30  # known values listed when a filter matched nothing


def run_list(args: argparse.Namespace) -> int:
    flt = EpisodeFilter(
        policy=args.policy,
        env=args.env,
        robot=args.robot,
        status=args.status,
        kind=args.kind,
        outcome=args.outcome,
        search=args.search,
        cause=args.cause,
        source=args.source,
        include_replays=args.replays,
    )
    by_anomaly = getattr(args, "sort", "path") == "anomaly"
    with open_catalog(args) as catalog:
        hidden = 0
        if not args.replays and args.source is None:
            hidden = catalog.count_matching(replace(flt, source="replay"))
        if args.save_as:
            if by_anomaly:  # the selection keeps the listed order: most abnormal first
                ids = [e.id for e, _ in iter_by_anomaly(catalog, flt)]
            else:
                ids = [e.id for e in catalog.iter_episodes(flt, metadata=False)]
            count = save_selection(catalog, args.save_as, ids)
            print(f"saved {count} episode(s) as selection {args.save_as!r}", file=sys.stderr)
        with catalog.snapshot():  # both passes over the rows see the same catalog
            if by_anomaly:
                shown, unexplained = print_by_anomaly(catalog, flt, as_json=args.json)
            else:
                shown, unexplained = _print_listing(catalog, flt, as_json=args.json), None
        if not shown and not args.json:
            print(why_empty(catalog, flt, hidden), file=sys.stderr)
    if unexplained is not None:
        for line in unexplained_note(*unexplained):
            print(line, file=sys.stderr)
    if hidden:
        print(f"({hidden} replays hidden — --replays to show)", file=sys.stderr)
    return 0


LIST_HEADERS = ["ID", "KIND", "NAME", "DURATION", "STATUS", "OUTCOME", "POLICY", "PROBLEMS"]


def _print_listing(catalog: Catalog, flt: EpisodeFilter, *, as_json: bool) -> int:
    """Rows are printed as they are read (100,000 episodes never sit in memory at once; a long
    table is read twice, first for its column widths). Returns how many were listed (JSON:
    -1, since an empty JSON list is an answer on its own)."""
    if as_json:
        print_json_stream(episode_summary(e) for e in catalog.iter_episodes(flt, metadata=False))
        return -1
    return print_table_stream(
        LIST_HEADERS, lambda: _listing_cells(catalog.iter_listing(flt)), max_width=48
    )


_STATUSES = frozenset(s.value for s in Status)
_OUTCOMES = frozenset(o.value for o in Outcome)


def _listing_cells(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[str]]:
    """``_list_cells`` of each ``Catalog.iter_listing`` row, without making the EpisodeInfo:
    the same cells, and the same error for a status or outcome no episode can have."""
    for id_, kind, name, duration, status, outcome, policy, problems_text in rows:
        if status not in _STATUSES:
            Status(status)
        if outcome not in _OUTCOMES:
            Outcome(outcome)
        problems = [] if problems_text == "[]" else json.loads(problems_text)
        yield [
            id_,
            kind,
            name,
            duration_text(duration),
            status,
            outcome,
            policy or "-",
            problems[0]
            if len(problems) == 1
            else (f"{len(problems)} problems" if problems else ""),
        ]


def _list_cells(e: EpisodeInfo) -> list[str]:
    return [
        e.id,
        e.kind,
        e.name,
        duration_text(e.duration_ns),
        e.status.value,
        e.outcome.value,
        e.policy_version or "-",
        e.problems[0]
        if len(e.problems) == 1
        else (f"{len(e.problems)} problems" if e.problems else ""),
    ]


ANOMALY_HEADERS = [*LIST_HEADERS[:-1], "ANOMALY", "TOP FINDING", LIST_HEADERS[-1]]


def print_by_anomaly(
    catalog: Catalog, flt: EpisodeFilter, *, as_json: bool
) -> tuple[int, tuple[int, int]]:
    """``list --sort anomaly``: the rows most abnormal first, with the score and the finding
    that gives it; streamed like ``_print_listing`` (two passes for the table). Returns how
    many were listed (JSON: -1) and (never-explained episodes that Explain could read, ones
    it cannot because their recording could not be read) — the note under the listing."""
    unexplained = [0, 0]

    def counted() -> Iterator[tuple[EpisodeInfo, Anomaly | None]]:
        for episode, found in iter_by_anomaly(catalog, flt):
            if found is None:
                unexplained[0 if episode.status.value == "ready" else 1] += 1
            yield episode, found

    if as_json:
        print_json_stream(_anomaly_json(e, a) for e, a in counted())
        return -1, (unexplained[0], unexplained[1])
    reads = 0

    def read_rows() -> Iterator[list[str]]:
        nonlocal reads
        reads += 1  # a long table is read twice: count the unexplained once
        rows = counted() if reads == 1 else iter_by_anomaly(catalog, flt)
        return (_anomaly_cells(e, a) for e, a in rows)

    count = print_table_stream(ANOMALY_HEADERS, read_rows, max_width=48)
    return count, (unexplained[0], unexplained[1])


def _anomaly_cells(e: EpisodeInfo, found: Anomaly | None) -> list[str]:
    cells = _list_cells(e)
    if found is None:
        score, finding = "-", "not explained"
    else:
        score, finding = f"{found.score:.2f}", found.where() or "nothing unusual"
    return [*cells[:-1], score, finding, cells[-1]]


def _anomaly_json(e: EpisodeInfo, found: Anomaly | None) -> dict[str, Any]:
    """``list --json``'s keys plus ``explained``, ``anomaly`` (the score; null: never
    explained) and ``top_finding`` (what gives the score; null: none)."""
    data = episode_summary(e)
    data["explained"] = found is not None
    data["anomaly"] = None if found is None else round(found.score, 4)
    data["top_finding"] = (
        None
        if found is None or found.cause is None
        else {"cause": found.cause, "title": found.title, "t_start_ns": found.t_start_ns}
    )
    return data


def unexplained_note(readable: int, unreadable: int) -> list[str]:
    """What the listing says under its last rows: why some have no score and what gives them
    one (``scan`` explains what it indexes unless --no-explain; ``explain --all`` the rest)."""
    lines = []
    if readable:
        lines.append(
            f"{readable} episode(s) not explained yet, listed last with no score: "
            "`robotrace-desktop explain --all` scores them (so does `scan` without --no-explain)"
        )
    if unreadable:
        lines.append(
            f"{unreadable} episode(s) could not be read or are missing, so have no score "
            "(see PROBLEMS)"
        )
    return lines


def why_empty(catalog: Catalog, flt: EpisodeFilter, hidden_replays: int) -> str:
    """Why a listing is empty, in words a person can act on: the filter that matches no
    episode at all, with the values that field does have; or that the filters only fail
    together; or that the catalog is empty."""
    given = [f for f in LIST_FILTERS if getattr(flt, f[0])]
    if not given:
        if hidden_replays:
            return "no episodes besides replays"
        return "no episodes (run `robotrace-desktop scan PATH` first)"
    for option, field, singular, plural in given:
        value = getattr(flt, option)
        alone = replace(EpisodeFilter(include_replays=flt.include_replays), **{option: value})
        if catalog.count_matching(alone):
            continue
        if field is None:
            return f"no episode matches search {value!r}"
        known = catalog.known_values(field)
        listed = ", ".join(known[:KNOWN_SHOWN]) + (" …" if len(known) > KNOWN_SHOWN else "")
        return f"no episode has {singular} {value!r}; known {plural}: {listed or 'none'}"
    flags = ", ".join(f"--{f[0]} {getattr(flt, f[0])}" for f in given)
    return f"no episode matches all of {flags} together (each matches some on its own)"


def run_selections(args: argparse.Namespace) -> int:
    with open_catalog(args) as catalog:
        if args.delete:
            if not delete_selection(catalog, args.delete):
                raise EpisodeNotFoundError(f"no saved selection {args.delete!r}")
            print(f"deleted selection {args.delete!r}", file=sys.stderr)
            return 0
        saved = selections(catalog)
    if args.json:
        print_json([{"name": name, "episodes": count} for name, count in saved])
    elif not saved:
        print("no saved selections (`list ... --save-as NAME` saves one)", file=sys.stderr)
    else:
        print_table(["SELECTION", "EPISODES"], [[name, str(count)] for name, count in saved])
    return 0


def run_show(args: argparse.Namespace) -> int:
    from robotrace_desktop.episodes import resolve  # the readers: not needed by `list`

    with catalog_for_reading(args) as catalog:
        resolved = resolve(args.episode, catalog)
        info = resolved.info
        tags = catalog.tags(info.id) if resolved.in_catalog else []
        offsets = catalog.stream_offsets(info.id) if resolved.in_catalog else {}
    if args.json:
        data = info.to_dict()
        data["in_catalog"] = resolved.in_catalog
        data["tags"] = tags
        data["link"] = EpisodeLink(info.id, resolved.t_ns).url()
        data["missing_reproducibility"] = info.missing_reproducibility
        data["reproducibility"] = {
            "missing": info.missing_reproducibility,
            "inferred": inferred_fields(info),
        }
        for stream in data["streams"]:
            stream["offset_ns"] = offsets.get(stream["name"], 0)
        print_json(data)
        return 0
    _print_episode(info, tags, offsets, in_catalog=resolved.in_catalog)
    return 0


def _print_episode(
    info: EpisodeInfo, tags: list[str], offsets: dict[str, int], *, in_catalog: bool
) -> None:
    print(f"{info.name}  [{info.kind}]  {info.status.value}, outcome {info.outcome.value}")
    print(f"  id        {info.id}{'' if in_catalog else '  (not in the catalog: opened directly)'}")
    print(f"  link      {EpisodeLink(info.id).url()}")
    location = info.path if info.episode_index is None else f"{info.path}#{info.episode_index}"
    print(f"  path      {location}")
    print(f"  duration  {format_seconds(info.duration_ns)}")
    inferred = inferred_fields(info)
    for field in ("source", "robot", "task", *REPRODUCIBILITY_FIELDS):
        value = getattr(info, field)
        note = "  (inferred from the git checkout)" if field in inferred and value else ""
        print(f"  {field:<15} {'-' if value is None else value}{note}")
    missing = info.missing_reproducibility
    if missing:
        print(f"  warning: not reproducible — missing {', '.join(missing)}")
    if "failure_reason" in info.metadata:
        print(f"  failure   {info.metadata['failure_reason']}")
    if tags:
        print(f"  tags      {', '.join(tags)}")
    print(f"  streams ({len(info.streams)}):")
    rows = []
    for s in info.streams:
        rate = s.rate_hz
        offset = offsets.get(s.name)
        rows.append(
            [
                "  " + s.name,
                s.kind.value,
                str(s.count),
                "-" if rate is None else f"{rate:.1f} Hz",
                (f"[offset {format_seconds(offset)}] " if offset else "") + _contents(s),
            ]
        )
    if rows:
        print_table(["  NAME", "KIND", "COUNT", "RATE", "CONTENTS"], rows, max_width=72)
    if info.problems:
        print(f"  problems ({len(info.problems)}):")
        for problem in info.problems:
            print(f"    - {problem}")


def inferred_fields(info: EpisodeInfo) -> list[str]:
    """Reproducibility fields the logging SDK filled in itself (``git_sha`` from the git
    checkout), from ``metadata.reproducibility.inferred``; a recording's metadata is input, so
    anything else there is ignored."""
    block = info.metadata.get("reproducibility")
    names = block.get("inferred") if isinstance(block, dict) else None
    if not isinstance(names, list):
        return []
    return [f for f in REPRODUCIBILITY_FIELDS if f in names and getattr(info, f) is not None]


def _contents(stream: StreamInfo) -> str:
    """One line a person can scan: the channel count and names, or a camera's format."""
    if stream.kind == StreamKind.VIDEO:
        d = stream.details
        size = f"{d['width']}×{d['height']}" if d.get("width") and d.get("height") else ""
        parts = [size, str(d.get("codec") or ""), "file missing" if d.get("missing") else ""]
        return " ".join(p for p in parts if p)
    if not stream.channels:
        return stream.message_type or ""
    return f"{len(stream.channels)}: " + ", ".join(stream.channels)


def run_tag(args: argparse.Namespace) -> int:
    fields = {
        name: getattr(args, name)
        for name in (
            "policy_version",
            "env_version",
            "git_sha",
            "seed",
            "robot",
            "task",
            "source",
            "outcome",
        )
        if getattr(args, name) is not None
    }
    if not fields and not args.tag:
        raise ValidationError("tag: give at least one field to set (see --help)")
    from robotrace_desktop.episodes import resolve  # the readers: not needed by `list`

    with open_catalog(args) as catalog:
        ids = []
        for argument in args.episodes:
            resolved = resolve(argument, catalog)
            if not resolved.in_catalog:
                raise ValidationError(f"{argument}: scan it first; tags are stored in the catalog")
            ids.append(resolved.info.id)
        if fields:
            catalog.set_overrides(ids, fields)
        if args.tag:
            catalog.add_tags(ids, args.tag)
        updated = [catalog.get(i) for i in ids]
    if args.json:
        print_json([episode_summary(e) for e in updated])
    else:
        changes = [f"{k}={v}" for k, v in fields.items()]
        changes += [f"tag {label!r}" for label in args.tag]
        for info in updated:
            print(f"tagged {info.id} ({info.name}): " + ", ".join(changes))
    return 0
