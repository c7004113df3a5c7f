"""The verify report as one self-contained HTML page a release engineer can open, print or attach.

Everything is inline (a ``<style>`` block and SVG plots from ``report_svg``), so the
page renders the same offline, in a CI artifact viewer or in a mail attachment, and nothing is
ever fetched. A Content-Security-Policy forbids scripts outright. Every string that came from a
recording or a user (names, ids, selectors, summaries, errors, links) is escaped; only
``robotrace://`` and ``file:`` links become clickable.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from robotrace_desktop.verify.model import GateCheck, PairDiff, VerifyResult, check_order
from robotrace_desktop.verify.report_svg import (
    clean_text,
    esc,
    finite,
    fmt_delta,
    fmt_interval,
    fmt_p,
    fmt_sig,
    fmt_tick,
    fmt_value,
    histogram_svg,
    minus,
    pct,
    sorted_bars_svg,
    success_svg,
)

WORST_PAIRS = 25
#: gate checks whose value/threshold are fractions: "points" of a rate, or a share in %
_POINT_CHECKS = {"success_rate_drop", "finding_rate_increase"}
_SHARE_CHECKS = {"ood_share"}
#: per-episode numbers worth a distribution plot: (attribute, title, unit)
EPISODE_PLOTS = (
    ("duration_s", "Duration", "s"),
    ("jerk", "Action jerk (RMS)", "1/s³"),
    ("tracking_error", "Tracking error", ""),
    ("reward", "Total reward", ""),
)
_SAFE_LINK = re.compile(r"^(robotrace://|file:)", re.IGNORECASE)

_CSS = """
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--zebra:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:var(--fg);font:14px/1.45 system-ui,-apple-system,
"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:24px;margin:0 0 12px}h2{font-size:18px;margin:32px 0 8px;
border-bottom:1px solid var(--line);padding-bottom:4px}
.verdict{border-radius:8px;padding:14px 20px;margin:8px 0 16px;border:2px solid}
.verdict .word{font-size:34px;font-weight:800;letter-spacing:.06em;margin-right:14px}
.verdict.pass{background:#dafbe1;border-color:#1a7f37;color:#116329}
.verdict.fail{background:#ffebe9;border-color:#cf222e;color:#a40e26}
.verdict.inconclusive{background:#fff8c5;border-color:#9a6700;color:#7d4e00}
.unk{color:#9a6700;font-weight:700}
.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%;margin:6px 0;font-size:13px}
th,td{border:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:#eef1f4}tbody tr:nth-child(even){background:var(--zebra)}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.small{color:var(--muted);font-size:12px}.id,code{font-family:ui-monospace,Menlo,Consolas,
monospace;font-size:12px;overflow-wrap:anywhere}
.ok{color:#1a7f37;font-weight:700}.bad{color:#cf222e;font-weight:700}
tr.failed td{background:#fff1f0}
td.better{background:#dafbe1;color:#116329;font-weight:600}
td.worse{background:#ffebe9;color:#a40e26;font-weight:600}td.same{color:var(--muted)}
.plots{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:6px;background:#fff}
svg text{fill:#1f2328}a.deeplink{overflow-wrap:anywhere;font-family:ui-monospace,Menlo,
Consolas,monospace;font-size:12px}
ul.plain{padding-left:18px}ul.plain li{margin:2px 0;overflow-wrap:anywhere}
footer{margin-top:40px;color:var(--muted);font-size:12px}
@media print{main{max-width:none;padding:0}.verdict,td.better,td.worse,tr.failed td,th,
tbody tr:nth-child(even){-webkit-print-color-adjust:exact;print-color-adjust:exact}
tr,figure{break-inside:avoid}h2{break-after:avoid}}
"""


def safe_href(url: str | None) -> str | None:
    """The link if it is one a report may make clickable (robotrace:// or file:), else None."""
    if not url:
        return None
    url = clean_text(url).strip()
    if any(c.isspace() for c in url) or not _SAFE_LINK.match(url):
        return None
    return url


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("robotrace-desktop")
    except (ImportError, PackageNotFoundError, ValueError):
        try:
            from robotrace_desktop import __version__

            return str(__version__)
        except ImportError:
            return "unknown"


def _fmt_check_number(check: GateCheck, value: float | None) -> str:
    if value is None or not finite(value):
        return fmt_sig(value)
    if check.name in _POINT_CHECKS:
        return minus(f"{value * 100:.1f} points")
    if check.name in _SHARE_CHECKS:
        return fmt_value(value, "%")
    return fmt_sig(value)


def _fmt_elapsed(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


# ---------------------------------------------------------------- sections


def _facts(result: VerifyResult, generated: datetime) -> str:
    failed_rerolls = sum(r.error is not None for r in result.rerolls)
    must_look = sum(p.regressed for p in result.pairs)
    rows = [
        ("Baseline", f"<code>{esc(result.baseline)}</code>"),
        ("Candidate", f"<code>{esc(result.candidate)}</code>"),
    ]
    if result.policy:
        rows.append(("Policy", f"<code>{esc(result.policy)}</code>"))
    if result.gate_path:
        rows.append(("Gate file", f"<code>{esc(result.gate_path)}</code>"))
    rows += [
        (
            "Episodes",
            f"{len(result.baseline_ids)} baseline · {len(result.candidate_ids)} candidate",
        ),
        ("Pairs", f"{len(result.pairs)} ({must_look} must look)"),
        ("Re-rolls", f"{len(result.rerolls)} ({failed_rerolls} where the policy failed)"),
        ("Errors", f"{len(result.errors)} episode(s) could not be measured"),
        ("Generated", esc(generated.strftime("%Y-%m-%d %H:%M:%S %z").strip())),
        ("Elapsed", _fmt_elapsed(result.elapsed_s)),
        ("RoboTrace Desktop", esc(_version())),
    ]
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _banner(result: VerifyResult) -> str:
    failed = result.failed_checks
    unchecked = result.inconclusive_checks
    verdict = result.verdict if result.verdict in ("pass", "inconclusive") else "fail"
    if verdict == "pass":
        text = f"all {len(result.checks)} gate check(s) passed" + (
            f" ({len(unchecked)} inconclusive, allowed)" if unchecked else ""
        )
    elif verdict == "inconclusive":
        names = ", ".join(c.name for c in unchecked)
        text = (
            f"no check failed, but {len(unchecked)} of {len(result.checks)} could not be "
            f"evaluated: {names}"
        )
    elif failed:
        names = ", ".join(c.name for c in failed)
        text = f"{len(failed)} of {len(result.checks)} gate check(s) failed: {names}"
    else:
        text = "the run did not pass the gate"
    out = (
        f'<div class="verdict {verdict}"><span class="word">{verdict.upper()}</span>'
        f"<span>{esc(text)}</span></div>"
    )
    if result.cancelled:
        out += '<p class="warn">The run was cancelled: these are partial results.</p>'
    return out


#: check state -> (row class, the Result cell)
_CHECK_LOOK = {
    "pass": ("passed", '<span class="ok">✓</span> passed'),
    "fail": ("failed", '<span class="bad">✗</span> FAILED'),
    "inconclusive": ("inconclusive", '<span class="unk">?</span> INCONCLUSIVE'),
}


def _checks_table(result: VerifyResult) -> str:
    if not result.checks:
        return "<p>No gate check applied.</p>"
    rows = []
    for check in sorted(result.checks, key=check_order):
        css, mark = _CHECK_LOOK[check.state]
        rows.append(
            f'<tr class="{css}"><td><code>{esc(check.name)}'
            f"</code></td><td>{mark}</td>"
            f"<td>{esc(check.detail)}</td>"
            f'<td class="num">{esc(_fmt_check_number(check, check.value))}</td>'
            f'<td class="num">{esc(_fmt_check_number(check, check.threshold))}</td></tr>'
        )
    return (
        "<table><thead><tr><th>Check</th><th>Result</th><th>Detail</th><th>Value</th>"
        "<th>Threshold</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _metric_cell(
    value: float | None, interval: tuple[float, float] | None, unit: str, n: int
) -> str:
    text = fmt_value(value, unit)
    span = fmt_interval(interval, unit)
    return (
        f'<td class="num">{esc(text)}'
        + (f" <span class=small>{esc(span)}</span>" if span else "")
        + f"<br><span class=small>n={n}</span></td>"
    )


def _metrics_table(result: VerifyResult) -> str:
    if not result.metrics:
        return "<p>No metric to compare.</p>"
    rows = []
    for m in result.metrics:
        interval = fmt_interval((m.delta_low, m.delta_high), m.unit)
        if m.better is True:
            verdict = '<td class="better">▲ better</td>'
        elif m.better is False:
            verdict = '<td class="worse">▼ worse</td>'
        else:
            verdict = '<td class="same">–</td>'
        rows.append(
            f"<tr><td>{esc(m.label)}</td>"
            + _metric_cell(m.baseline, m.baseline_interval, m.unit, m.n_baseline)
            + _metric_cell(m.candidate, m.candidate_interval, m.unit, m.n_candidate)
            + f'<td class="num">{esc(fmt_delta(m.delta, m.unit))}'
            + (f"<br><span class=small>{esc(interval)}</span>" if interval else "")
            + f'</td><td class="num">{esc(fmt_p(m.p_value))}</td>{verdict}</tr>'
        )
    return (
        "<table><thead><tr><th>Metric</th><th>Baseline</th><th>Candidate</th>"
        "<th>Δ (candidate − baseline)</th><th>p</th><th>Change</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _plots(result: VerifyResult) -> str:
    figures: list[str] = []
    success = next((m for m in result.metrics if m.metric == "success_rate"), None)
    if success is not None and (success.baseline is not None or success.candidate is not None):
        figures.append(success_svg(success))
    metrics = result.episode_metrics

    def values(ids: list[str], attr: str) -> list[float]:
        out = []
        for i in ids:
            m = metrics.get(i)
            v = getattr(m, attr, None) if m is not None and m.error is None else None
            if finite(v):
                out.append(float(v))
        return out

    for attr, title, unit in EPISODE_PLOTS:
        b, c = values(result.baseline_ids, attr), values(result.candidate_ids, attr)
        if b or c:
            figures.append(histogram_svg(title, unit, b, c))
    done = [r for r in result.rerolls if r.error is None and r.steps > 0]
    thresholds = {c.name: c.threshold for c in result.checks}
    for attr, check, title, label in (
        (
            "mean_error_z",
            "action_error",
            "Re-roll action error per episode (baseline std)",
            fmt_tick,
        ),
        ("ood_share", "ood_share", "Re-roll steps out of distribution per episode", pct),
    ):
        series = [
            (r.baseline_id, float(getattr(r, attr))) for r in done if finite(getattr(r, attr))
        ]
        if series:
            figures.append(sorted_bars_svg(title, series, thresholds.get(check), label))
    if not figures:
        return "<p>Nothing to plot.</p>"
    return '<div class="plots">' + "".join(f"<figure>{f}</figure>" for f in figures) + "</div>"


def _link(url: str | None) -> str:
    href = safe_href(url)
    if href is not None:
        return f'<a class="deeplink" href="{esc(href)}">{esc(href)}</a>'
    return f"<code>{esc(url)}</code>" if url else "–"


def _episode(name: str, episode_id: str | None, prefix: str = "") -> str:
    if not episode_id:
        return ""
    shown = name if name and name != episode_id else ""
    return (
        (f"{esc(prefix)}" if prefix else "")
        + (f"{esc(shown)}<br>" if shown else "")
        + f'<span class="id">{esc(episode_id)}</span>'
    )


def _regressions(pairs: list[PairDiff]) -> str:
    worse = [p for p in pairs if p.regression > 0]
    if not worse:
        return "<p>No episode pair regressed: the candidate is not worse on any pair.</p>"
    rows = []
    for rank, p in enumerate(worse[:WORST_PAIRS], 1):
        other = _episode(p.candidate_name, p.candidate_id)
        if p.replay_id:
            other += ("<br>" if other else "") + _episode(
                "" if p.candidate_id else p.candidate_name, p.replay_id, "replay: "
            )
        flag = '<br><span class="bad">must look</span>' if p.regressed else ""
        rows.append(
            f'<tr><td class="num">{rank}<br><span class=small>{p.regression:.3g}</span>{flag}'
            f"</td><td>{_episode(p.baseline_name, p.baseline_id)}</td><td>{other or '–'}</td>"
            f"<td>{esc(', '.join(p.matched_on) or '–')}</td><td>{esc(p.summary)}</td>"
            f"<td>{esc(', '.join(p.new_causes) or '–')}</td><td>{_link(p.link)}</td></tr>"
        )
    more = (
        f"<p class=small>Showing the {WORST_PAIRS} worst of {len(worse)} pairs that regressed.</p>"
        if len(worse) > WORST_PAIRS
        else ""
    )
    return (
        "<table><thead><tr><th>#<br><span class=small>score</span></th><th>Baseline</th>"
        "<th>Candidate / replay</th><th>Matched on</th><th>What changed</th><th>New causes</th>"
        "<th>Open at the moment</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + more
    )


def _problems(result: VerifyResult) -> str:
    names = {p.baseline_id: p.baseline_name for p in result.pairs}
    names.update({p.candidate_id: p.candidate_name for p in result.pairs if p.candidate_id})
    out = ["<h2>Re-roll errors</h2>"]
    failed = [r for r in result.rerolls if r.error is not None]
    if failed:
        out.append(
            '<ul class="plain">'
            + "".join(
                f"<li>{_episode(names.get(r.baseline_id, ''), r.baseline_id)}: "
                f"<code>{esc(r.error)}</code></li>"
                for r in failed
            )
            + "</ul>"
        )
    else:
        out.append(
            "<p>The candidate policy raised on no episode.</p>"
            if result.rerolls
            else "<p>No re-roll was run.</p>"
        )
    out.append("<h2>Skipped episodes</h2>")
    if result.errors:
        out.append(
            '<ul class="plain">'
            + "".join(
                f"<li>{_episode(names.get(k, ''), k)}: {esc(v)}</li>"
                for k, v in result.errors.items()
            )
            + "</ul>"
        )
    else:
        out.append("<p>Every episode was measured.</p>")
    return "".join(out)


def render_html(result: VerifyResult, *, generated_at: datetime | None = None) -> str:
    """The whole report page. ``generated_at`` defaults to now (pass it for a stable page)."""
    generated = generated_at or datetime.now().astimezone()
    title = f"RoboTrace verify: {result.verdict.upper()} — {result.baseline} → {result.candidate}"
    body = [
        f"<h1>Verify: <code>{esc(result.baseline)}</code> → <code>{esc(result.candidate)}</code>"
        "</h1>",
        _banner(result),
        _facts(result, generated),
        "<h2>Gate checks</h2>",
        _checks_table(result),
        "<h2>Metrics</h2>",
        _metrics_table(result),
        "<p class=small>Percentages are shares of episodes; deltas of rates are in percentage "
        "points. Brackets are confidence intervals; “better”/“worse” only where the difference "
        "is significant.</p>",
        "<h2>Plots</h2>",
        _plots(result),
        "<h2>Worst regressions</h2>",
        _regressions(result.pairs),
        _problems(result),
        f"<footer>Generated by RoboTrace Desktop {esc(_version())}. Deep links open in RoboTrace "
        "Desktop (robotrace:// scheme).</footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>\n<body><main>"
        + "\n".join(body)
        + "</main></body></html>\n"
    )


def write_html(result: VerifyResult, path: Path, *, generated_at: datetime | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, generated_at=generated_at), encoding="utf-8")
    return path
