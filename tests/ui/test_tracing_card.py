"""The Tracing card as a person uses it: the real ids of the span the episode was logged in,
each copied whole, "Open trace" opening the filled URL only when a template is set and sane,
and a malformed block saying so instead of offering a wrong link. Also the card in the episode
view of a bundle whose manifest carries an otel block."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

from robotrace_desktop.bundle.manifest import MANIFEST_NAME
from robotrace_desktop.catalog.store import Catalog
from robotrace_desktop.core.otel import TRACE_URL_ENV, trace_context
from robotrace_desktop.episodes import resolve
from robotrace_desktop.ui.episode_view import EpisodeView
from robotrace_desktop.ui.qimage import qimage_to_rgb
from robotrace_desktop.ui.tracing_card import INVALID_TEXT, TracingCard
from tests.demo_cache import demo_copy

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
BLOCK = {"trace_id": TRACE, "span_id": SPAN, "traceparent": f"00-{TRACE}-{SPAN}-01"}
TEMPLATE = "https://tempo.example/explore?trace={trace_id}&span={span_id}"


def left() -> Qt.MouseButton:
    return Qt.MouseButton.LeftButton


def make_card(qtbot, block: object, env: dict[str, str] | None = None, opened=None):  # type: ignore[no-untyped-def]
    card = TracingCard(
        block, env={} if env is None else env, open_url=None if opened is None else opened.append
    )
    qtbot.addWidget(card)
    card.resize(1300, 40)
    card.show()
    qtbot.waitExposed(card)
    return card


def colour_share(image: QImage, rgb: tuple[int, int, int], tolerance: int = 40) -> float:
    pixels = qimage_to_rgb(image).astype(int)
    close = np.all(np.abs(pixels - np.array(rgb)) <= tolerance, axis=-1)
    return float(close.mean())


def test_the_ids_of_a_real_span_are_shown_and_copied_whole(qtbot) -> None:  # type: ignore[no-untyped-def]
    with TracerProvider().get_tracer("eval").start_as_current_span("eval"):
        block = trace_context()
    assert block is not None
    card = make_card(qtbot, block)
    assert card.is_valid() and card.state.text() == "sampled"
    for key in ("trace_id", "span_id", "traceparent"):
        field = card.fields[key]
        assert field.value.text() == block[key]  # wide enough: not elided
        QGuiApplication.clipboard().clear()
        qtbot.mouseClick(field.copy_button, left())
        assert QGuiApplication.clipboard().text() == block[key]
    # text is really painted in the trace id's box (dark glyphs on the light background)
    image = card.fields["trace_id"].value.grab().toImage()
    assert colour_share(image, (0, 0, 0), tolerance=90) > 0.02


def test_open_trace_opens_the_filled_template(qtbot) -> None:  # type: ignore[no-untyped-def]
    opened: list[QUrl] = []
    card = make_card(qtbot, BLOCK, {TRACE_URL_ENV: TEMPLATE}, opened)
    expected = f"https://tempo.example/explore?trace={TRACE}&span={SPAN}"
    assert card.open_button.isEnabled() and card.open_button.isVisible()
    assert not card.template_warning.isVisible()
    assert card.open_button.toolTip() == expected
    qtbot.mouseClick(card.open_button, left())
    assert [u.toString() for u in opened] == [expected]


def test_the_environment_and_qdesktopservices_are_the_defaults(
    qtbot, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    opened: list[str] = []
    monkeypatch.setattr(
        QDesktopServices, "openUrl", lambda url: opened.append(url.toString()) or True
    )
    monkeypatch.setenv(TRACE_URL_ENV, "https://ui.honeycomb.io/t/trace?trace_id={traceparent}")
    card = TracingCard(BLOCK)
    qtbot.addWidget(card)
    assert card.open_trace() is True
    assert opened == [f"https://ui.honeycomb.io/t/trace?trace_id=00-{TRACE}-{SPAN}-01"]
    monkeypatch.delenv(TRACE_URL_ENV)
    unset = TracingCard(BLOCK)
    qtbot.addWidget(unset)
    assert not unset.open_button.isEnabled()


def test_without_a_template_open_trace_is_disabled(qtbot) -> None:  # type: ignore[no-untyped-def]
    opened: list[QUrl] = []
    card = make_card(qtbot, BLOCK, {}, opened)
    assert not card.open_button.isEnabled()
    assert TRACE_URL_ENV in card.open_button.toolTip()
    assert not card.template_warning.isVisible()  # unset is a choice, not a mistake
    qtbot.mouseClick(card.open_button, left())
    assert card.open_trace() is False
    assert opened == []
    # copying still works without a template
    qtbot.mouseClick(card.fields["traceparent"].copy_button, left())
    assert QGuiApplication.clipboard().text() == BLOCK["traceparent"]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("https://x.example/{trace_id}/{service}", "unknown field {service}"),
        ("https://x.example/{trace_id", "expected '}'"),
        ("https://x.example/{trace_id.__class__}", "unknown field"),
        ("javascript:alert('{trace_id}')", "not an http(s) URL"),
    ],
)
def test_a_bad_template_disables_open_and_says_why(qtbot, template: str, problem: str) -> None:  # type: ignore[no-untyped-def]
    opened: list[QUrl] = []
    card = make_card(qtbot, BLOCK, {TRACE_URL_ENV: template}, opened)
    assert card.is_valid()
    assert not card.open_button.isEnabled()
    assert problem in card.toolTip() and problem in card.open_button.toolTip()
    assert card.template_warning.isVisible() and problem in card.template_warning.toolTip()
    assert card.open_trace() is False and opened == []


@pytest.mark.parametrize(
    "block",
    [
        {"trace_id": TRACE.upper(), "span_id": SPAN, "traceparent": BLOCK["traceparent"]},
        {"trace_id": TRACE, "span_id": SPAN[:-2], "traceparent": f"00-{TRACE}-{SPAN[:-2]}-01"},
        {"trace_id": TRACE, "span_id": SPAN, "traceparent": f"00-{TRACE}-{'1' * 16}-01"},
        {"trace_id": TRACE, "span_id": SPAN},
        BLOCK["traceparent"],
        None,
    ],
)
def test_a_malformed_block_shows_invalid_and_offers_nothing(qtbot, block: object) -> None:  # type: ignore[no-untyped-def]
    opened: list[QUrl] = []
    card = make_card(qtbot, block, {TRACE_URL_ENV: TEMPLATE}, opened)
    assert not card.is_valid()
    assert card.state.text() == INVALID_TEXT and card.state.isVisible()
    assert card.fields == {} and not card.open_button.isVisible()
    assert "cannot be used" in card.toolTip()
    assert card.open_trace() is False and opened == []
    assert colour_share(card.state.grab().toImage(), (0xC6, 0x28, 0x28)) > 0.02  # red text


def test_a_non_sampled_span_correlates_but_warns(qtbot) -> None:  # type: ignore[no-untyped-def]
    provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
    with provider.get_tracer("eval").start_as_current_span("eval") as span:
        block = trace_context()
    assert block is not None
    card = make_card(qtbot, block)
    assert card.state.text() == "not sampled"
    assert card.value("span_id") == f"{span.get_span_context().span_id:016x}"
    assert colour_share(card.state.grab().toImage(), (0xEF, 0x6C, 0x00)) > 0.02  # orange


# --- in the episode view ---------------------------------------------------------------


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo bundle, and a copy whose manifest says it was logged inside a span."""
    root = tmp_path_factory.mktemp("tracing")
    plain = demo_copy(root / "plain")
    traced = root / "traced"
    shutil.copytree(plain, traced)
    manifest = json.loads((traced / MANIFEST_NAME).read_text())
    manifest["id"] = "7eacedc0ffee0001"
    manifest["metadata"]["otel"] = BLOCK
    (traced / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    return plain, traced


def open_view(qtbot, catalog: Catalog, bundle: Path) -> EpisodeView:  # type: ignore[no-untyped-def]
    view = EpisodeView(resolve(str(bundle), catalog), catalog)
    qtbot.addWidget(view)
    view.resize(1400, 900)
    view.show()
    qtbot.waitUntil(lambda: all(p.is_ready() for p in view.panes.values()), timeout=20_000)
    return view


def test_the_episode_view_shows_the_card_under_the_header(
    qtbot, bundles: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv(TRACE_URL_ENV, TEMPLATE)
    plain, traced = bundles
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        view = open_view(qtbot, catalog, traced)
        try:
            card = view.tracing
            assert card is not None and card.isVisible() and card.is_valid()
            assert card.value("trace_id") == TRACE and card.open_button.isEnabled()
            header = view.header.geometry()
            assert header.bottom() < card.geometry().top() < view.main.geometry().top()
            qtbot.waitUntil(view.settled, timeout=20_000)
            view.grab().save(str(tmp_path / "episode_view_tracing.png"))
        finally:
            view.shutdown()
        view = open_view(qtbot, catalog, plain)
        try:
            assert view.tracing is None  # no otel block: no card
        finally:
            view.shutdown()
