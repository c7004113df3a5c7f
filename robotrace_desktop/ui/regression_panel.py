"""The Regression panel: "is this candidate safe to ship?" answered from the catalog.

Pick a baseline and a candidate (policy versions or saved selections), optionally a policy to
re-roll offline on the baseline's observations and a gate file, press Run. The run happens in a
VerifyWorker thread (progress per stage, Cancel); the panel renders the one VerifyResult every
output shares: the verdict with the failed gate checks, a summary row per metric (better ▲ /
worse ▼ / no significant difference –), the gate checks, and the episode pairs worst first —
double-click one to open baseline and candidate side by side. Mistakes (an unknown version, a
bad policy spec or gate file) show as a red line in the panel, never as a traceback.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from robotrace_desktop.errors import RobotraceError
from robotrace_desktop.ui.plain_text import literal_tip
from robotrace_desktop.ui.regression_tables import (
    CHECK_COLUMNS,
    PAIR_COLUMNS,
    PAIR_ROLE,
    SUMMARY_COLUMNS,
    counterpart,
    fill_checks,
    fill_pairs,
    fill_summary,
    make_table,
)
from robotrace_desktop.ui.verify_worker import VerifyWorker
from robotrace_desktop.verify.defaults import comparison_choices
from robotrace_desktop.verify.model import PairDiff, VerifyResult
from robotrace_desktop.verify.spec import Selector, VerifySpec

log = logging.getLogger(__name__)

PASS_STYLE = "background: #2e7d32; color: white; padding: 8px 10px; font-size: 15px;"
FAIL_STYLE = "background: #c62828; color: white; padding: 8px 10px; font-size: 15px;"
INCONCLUSIVE_STYLE = "background: #9a6700; color: white; padding: 8px 10px; font-size: 15px;"
VERDICT_STYLES = {"pass": PASS_STYLE, "fail": FAIL_STYLE, "inconclusive": INCONCLUSIVE_STYLE}
IDLE_STYLE = "background: #eceff1; color: #455a64; padding: 8px 10px; font-size: 15px;"
STAGES = {"metrics": "Measuring episodes", "reroll": "Re-rolling the policy"}


class RegressionPanel(QWidget):
    """Baseline vs candidate verification (see module doc)."""

    openPair = Signal(str, str)  # baseline id, candidate (or replay) id
    # episode id, episode time (ns)
    openEpisode = Signal(str, "qint64")  # type: ignore[arg-type]  # stub: no C++ type names
    resultShown = Signal(object)  # VerifyResult
    progressed = Signal(str, int, int)  # stage, done, total (in the UI thread)

    def __init__(self, catalog_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.catalog_path = Path(catalog_path)
        self._worker: VerifyWorker | None = None
        self._result: VerifyResult | None = None
        self._filled = False
        self._build()
        self.refresh_choices()
        self._show_idle()

    # --- construction -------------------------------------------------------------------

    def _combo(self, placeholder: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.setMinimumContentsLength(22)
        line = combo.lineEdit()
        if line is None:  # an editable combo box always has one
            raise RuntimeError("the editable combo box has no line edit")
        line.setPlaceholderText(placeholder)
        combo.setToolTip(
            "A policy_version (v1.2 or policy:v1.2), a saved selection (selection:NAME) or a "
            "tag (tag:NAME)"
        )
        combo.activated.connect(self._on_choice)
        return combo

    def _build(self) -> None:
        self.baseline_combo = self._combo("policy version or selection:NAME")
        self.candidate_combo = self._combo("optional with a policy")
        self.policy_edit = QLineEdit(self)
        self.policy_edit.setPlaceholderText("optional: module:attr or path/to/file.py:attr")
        self.policy_edit.setToolTip("A candidate policy to re-roll on the baseline's observations")
        self.images_check = QCheckBox("with images", self)
        self.images_check.setToolTip("Give the policy camera frames (decoded exactly) too")
        self.gate_edit = QLineEdit(self)
        self.gate_edit.setPlaceholderText("optional: gate.toml (documented defaults otherwise)")
        self.gate_button = QPushButton("Browse…", self)
        self.gate_button.clicked.connect(self._choose_gate)
        self.run_button = QPushButton("Run", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar(self)
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(220)
        self.stage_label = QLabel(self)
        self.stage_label.setTextFormat(Qt.TextFormat.PlainText)  # versions are user text

        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addWidget(QLabel("Baseline:", self), 0, 0)
        form.addWidget(self.baseline_combo, 0, 1)
        form.addWidget(QLabel("Candidate:", self), 0, 2)
        form.addWidget(self.candidate_combo, 0, 3)
        form.addWidget(QLabel("Policy:", self), 1, 0)
        policy_row = QHBoxLayout()
        policy_row.addWidget(self.policy_edit, 1)
        policy_row.addWidget(self.images_check)
        form.addLayout(policy_row, 1, 1)
        form.addWidget(QLabel("Gate:", self), 1, 2)
        gate_row = QHBoxLayout()
        gate_row.addWidget(self.gate_edit, 1)
        gate_row.addWidget(self.gate_button)
        form.addLayout(gate_row, 1, 3)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.cancel_button)
        run_row.addWidget(self.progress)
        run_row.addWidget(self.stage_label, 1)

        self.error_label = QLabel(self)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet("color: #c62828; font-weight: bold;")
        self.error_label.hide()
        self.banner = QLabel(self)
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.facts = QLabel(self)
        self.facts.setTextFormat(Qt.TextFormat.PlainText)
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: #455a64;")

        self.summary = make_table(SUMMARY_COLUMNS, self)
        self.checks = make_table(CHECK_COLUMNS, self)
        self.pairs = make_table(PAIR_COLUMNS, self)
        self.pairs.setToolTip("Double-click a pair to open baseline and candidate side by side")
        self.pairs.cellDoubleClicked.connect(self._on_pair_double_clicked)
        self.pairs.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.pairs.customContextMenuRequested.connect(self._pair_menu)

        top = QSplitter(Qt.Orientation.Horizontal, self)
        top.addWidget(
            self._titled("Summary (▲ better · ▼ worse · – no significant change)", self.summary)
        )
        top.addWidget(self._titled("Gate checks", self.checks))
        top.setSizes([700, 500])
        body = QSplitter(Qt.Orientation.Vertical, self)
        body.addWidget(top)
        body.addWidget(
            self._titled("Episode pairs — worst first (double-click to compare)", self.pairs)
        )
        body.setSizes([330, 400])

        self.save_buttons: dict[str, QPushButton] = {}
        save_row = QHBoxLayout()
        save_row.addWidget(QLabel("Save report:", self))
        for kind, text in (("html", "HTML…"), ("junit", "JUnit XML…"), ("json", "JSON…")):
            button = QPushButton(text, self)
            button.setProperty("reportKind", kind)
            button.setEnabled(False)
            button.clicked.connect(self._on_save_clicked)
            self.save_buttons[kind] = button
            save_row.addWidget(button)
        save_row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addLayout(form)
        layout.addLayout(run_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.banner)
        layout.addWidget(self.facts)
        layout.addWidget(body, 1)
        layout.addLayout(save_row)

    def _titled(self, title: str, widget: QWidget) -> QWidget:
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        label = QLabel(f"<b>{title}</b>", box)
        layout.addWidget(label)
        layout.addWidget(widget, 1)
        return box

    # --- choices ------------------------------------------------------------------------

    def refresh_choices(self) -> None:
        """List the catalog's policy versions and saved selections in both combos (keeps
        what is typed)."""
        try:
            versions, saved, pair = comparison_choices(self.catalog_path)
        except RobotraceError as exc:
            self.show_error(f"Cannot read the catalog: {exc}")
            return
        choices = [(f"{v}  ({n} episodes)", v) for v, n in versions]
        choices += [(f"selection:{name}  ({n} episodes)", f"selection:{name}") for name, n in saved]
        for combo in (self.baseline_combo, self.candidate_combo):
            text = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            for label, value in choices:
                combo.addItem(label, value)
            combo.setCurrentIndex(-1)
            combo.setEditText(text)
            combo.blockSignals(False)
        if not self._filled and pair is not None:  # versions of one robot/task, or nothing
            self.baseline_combo.setEditText(pair[0])
            self.candidate_combo.setEditText(pair[1])
        self._filled = True

    def choices(self, which: str = "baseline") -> list[str]:
        """The selectors a combo offers ("v1", "selection:nightly", …)."""
        combo = self.baseline_combo if which == "baseline" else self.candidate_combo
        return [str(combo.itemData(i)) for i in range(combo.count())]

    def _on_choice(self, index: int) -> None:
        combo = self.sender()
        if isinstance(combo, QComboBox) and index >= 0:
            combo.setEditText(str(combo.itemData(index)))

    @staticmethod
    def selector_text(combo: QComboBox) -> str:
        text = combo.currentText().strip()
        index = combo.findText(text)
        if index >= 0 and combo.itemData(index):
            return str(combo.itemData(index))
        return text

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._worker is None:
            self.refresh_choices()

    def _choose_gate(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Gate file", "", "TOML (*.toml);;All (*)")
        if path:
            self.gate_edit.setText(path)

    # --- running ------------------------------------------------------------------------

    def build_spec(self) -> VerifySpec:
        """The VerifySpec the controls describe (RobotraceError for bad input)."""
        baseline = Selector.parse(self.selector_text(self.baseline_combo))
        candidate_text = self.selector_text(self.candidate_combo)
        return VerifySpec(
            baseline,
            Selector.parse(candidate_text) if candidate_text else None,
            policy=self.policy_edit.text().strip() or None,
            with_images=self.images_check.isChecked(),
            gate_path=self.gate_edit.text().strip() or None,
        )

    def is_running(self) -> bool:
        return self._worker is not None

    def run(self) -> None:
        """Start a verify run in a worker thread (ignored while one runs)."""
        if self._worker is not None:
            return
        try:
            spec = self.build_spec()
        except RobotraceError as exc:
            self.show_error(str(exc))
            return
        self.error_label.hide()
        worker = VerifyWorker(self.catalog_path, spec)
        worker.progress.connect(self._on_progress)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        self._worker = worker
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.progress.setFormat("starting…")
        self.progress.show()
        self.stage_label.setText(f"Starting: {spec.baseline} vs {spec.candidate or spec.policy}…")
        self._show_running(spec)
        worker.start()

    def cancel(self) -> None:
        if self._worker is None:
            return
        self._worker.cancel()
        self.cancel_button.setEnabled(False)
        self.stage_label.setText("Cancelling… (finishing the episodes in flight)")

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        if self.sender() is not self._worker:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{stage} {done}/{total}")
        if not (self._worker and self._worker.is_cancelled()):
            self.stage_label.setText(f"{STAGES.get(stage, stage)}: {done} of {total}")
        self.progressed.emit(stage, done, total)

    def _on_finished(self, result: VerifyResult) -> None:
        if self.sender() is not self._worker:
            return
        self._end_run()
        self.refresh_choices()  # a re-roll adds its replays' version
        self.show_result(result)

    def _on_failed(self, message: str) -> None:
        if self.sender() is not self._worker:
            return
        self._end_run()
        self.stage_label.setText("")
        self.show_error(message)

    def _end_run(self) -> None:
        worker, self._worker = self._worker, None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()
        if worker is not None:
            worker.wait()  # run() returned: the thread is quitting, this is immediate

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setToolTip(literal_tip(message))
        self.error_label.show()

    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    # --- rendering ----------------------------------------------------------------------

    def result(self) -> VerifyResult | None:
        return self._result

    def _show_idle(self) -> None:
        self.banner.setStyleSheet(IDLE_STYLE)
        self.banner.setText("No run yet — choose a baseline and a candidate, then Run.")
        self.progress.hide()

    def _show_running(self, spec: VerifySpec) -> None:
        """While a run goes, the banner says so: neither "No run yet" nor the last verdict."""
        against = spec.candidate or spec.policy
        text = f"Running — {against} vs baseline {spec.baseline}; the verdict appears here"
        self.banner.setStyleSheet(IDLE_STYLE)
        self.banner.setText(html.escape(text))
        self.banner.setProperty("plainText", text)

    def banner_text(self) -> str:
        return self.banner.property("plainText") or ""

    def show_result(self, result: VerifyResult) -> None:
        """Render ``result``: verdict banner, summary, gate checks, pairs worst first."""
        self._result = result
        self._render_banner(result)
        self._render_summary(result)
        self._render_checks(result)
        self._render_pairs(result)
        for button in self.save_buttons.values():
            button.setEnabled(True)
        self.stage_label.setText(
            ("Cancelled — partial result" if result.cancelled else "Done")
            + f" in {result.elapsed_s:.1f} s"
        )
        self.resultShown.emit(result)

    def _render_banner(self, result: VerifyResult) -> None:
        failed = result.failed_checks
        unchecked = result.inconclusive_checks
        verdict = result.verdict.upper() if result.verdict in VERDICT_STYLES else "FAIL"
        cancelled = " (cancelled)" if result.cancelled else ""
        head = f"{verdict}{cancelled} — candidate {result.candidate} vs baseline {result.baseline}"
        lines = [f"✗ {c.name}: {c.detail}" for c in failed]
        lines += [f"? {c.name} inconclusive: {c.detail}" for c in unchecked]
        if failed:
            detail = f"{len(failed)} of {len(result.checks)} gate checks failed"
        elif unchecked and result.verdict == "inconclusive":
            detail = f"{len(unchecked)} of {len(result.checks)} gate checks could not be evaluated"
        else:
            detail = f"all {len(result.checks)} gate checks passed"
        plain = "\n".join([f"{head}: {detail}", *lines])
        self.banner.setProperty("plainText", plain)
        rich = f"<b>{html.escape(head)}</b>: {html.escape(detail)}" + "".join(
            f"<br>&nbsp;&nbsp;{html.escape(line)}" for line in lines
        )
        self.banner.setText(rich)
        self.banner.setStyleSheet(VERDICT_STYLES.get(result.verdict, FAIL_STYLE))
        facts = [
            f"baseline {result.baseline}: {len(result.baseline_ids)} episodes",
            f"candidate {result.candidate}: {len(result.candidate_ids)} episodes",
        ]
        regressed = sum(p.regressed for p in result.pairs)
        if regressed:
            facts.append(f"⚠ {regressed} of {len(result.pairs)} pairs regressed (must look)")
        if result.policy:
            facts.append(f"policy {result.policy} re-rolled on {len(result.rerolls)} episodes")
        if result.gate_path:
            facts.append(f"gate {result.gate_path}")
        if result.errors:
            first = next(iter(result.errors.items()))
            facts.append(f"{len(result.errors)} episode(s) skipped — {first[0]}: {first[1]}")
        self.facts.setText(" · ".join(facts))
        self.facts.setToolTip("\n".join(f"{k}: {v}" for k, v in result.errors.items()))

    def _render_summary(self, result: VerifyResult) -> None:
        fill_summary(self.summary, result.metrics)

    def _render_checks(self, result: VerifyResult) -> None:
        fill_checks(self.checks, result.checks)

    def _render_pairs(self, result: VerifyResult) -> None:
        fill_pairs(self.pairs, result.pairs)

    def pair_at(self, row: int) -> PairDiff | None:
        item = self.pairs.item(row, 0)
        value = None if item is None else item.data(PAIR_ROLE)
        return value if isinstance(value, PairDiff) else None

    # --- pair actions -------------------------------------------------------------------

    def _on_pair_double_clicked(self, row: int, _column: int) -> None:
        self.open_pair(row)

    def open_pair(self, row: int, *, replay: bool = False) -> None:
        """Emit openPair for row ``row`` (the replay instead of the recorded candidate when
        ``replay``); a pair without a counterpart opens its baseline."""
        pair = self.pair_at(row)
        if pair is None:
            return
        other = pair.replay_id if replay else counterpart(pair)
        if other:
            self.openPair.emit(pair.baseline_id, other)
        else:
            self.openEpisode.emit(pair.baseline_id, 0)

    def _pair_menu(self, pos: QPoint) -> None:
        row = self.pairs.rowAt(pos.y())
        pair = self.pair_at(row)
        if pair is None:
            return
        menu = QMenu(self)
        compare = menu.addAction("Compare side by side")
        compare.setEnabled(counterpart(pair) is not None)
        with_replay = None
        if pair.candidate_id and pair.replay_id:
            with_replay = menu.addAction("Compare with the replay")
        moment = menu.addAction("Open the candidate at the moment to look at")
        moment.setEnabled(counterpart(pair) is not None)
        baseline = menu.addAction("Open the baseline")
        copy = menu.addAction("Copy link")
        copy.setEnabled(bool(pair.link))
        chosen = menu.exec(self.pairs.viewport().mapToGlobal(pos))
        if chosen is compare:
            self.open_pair(row)
        elif chosen is not None and chosen is with_replay:
            self.open_pair(row, replay=True)
        elif chosen is moment:
            self.openEpisode.emit(counterpart(pair) or "", int(pair.moment_ns or 0))
        elif chosen is baseline:
            self.openEpisode.emit(pair.baseline_id, 0)
        elif chosen is copy and pair.link:
            QGuiApplication.clipboard().setText(pair.link)

    # --- saving -------------------------------------------------------------------------

    def save_report(self, kind: str, path: Path) -> Path:
        """Write the shown result as "html", "junit" or "json" to ``path``."""
        if self._result is None:
            raise RobotraceError("nothing to save yet: run a verification first")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "html":
            from robotrace_desktop.verify.report_html import write_html

            return write_html(self._result, path)
        if kind == "junit":
            from robotrace_desktop.verify.report_junit import write_junit

            return write_junit(self._result, path)
        if kind == "json":
            text = json.dumps(self._result.to_json_dict(), indent=2, ensure_ascii=False)
            path.write_text(text + "\n", encoding="utf-8")
            return path
        raise ValueError(f"unknown report kind {kind!r}")

    def _on_save_clicked(self) -> None:
        kind = str(self.sender().property("reportKind"))
        suffix, filters = {
            "html": (".html", "HTML (*.html)"),
            "junit": (".xml", "JUnit XML (*.xml)"),
            "json": (".json", "JSON (*.json)"),
        }[kind]
        name, _ = QFileDialog.getSaveFileName(self, "Save report", f"verify{suffix}", filters)
        if not name:
            return
        try:
            written = self.save_report(kind, Path(name))
        except (RobotraceError, OSError) as exc:
            self.show_error(f"Could not save the report: {exc}")
            return
        self.stage_label.setText(f"Wrote {written}")

    # --- teardown -----------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel a running verify; its thread ends on its own (the worker is parked)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.park()
