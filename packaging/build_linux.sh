#!/usr/bin/env bash
# Build the one-folder Linux app with PyInstaller and smoke-test it.
#
#   packaging/build_linux.sh                 # throwaway venv in packaging/build/venv
#   PYTHON=/path/to/python packaging/build_linux.sh   # that interpreter's venv instead
#   SYSTEM_SITE=1 packaging/build_linux.sh   # venv sees the system site-packages (offline-ish:
#                                            # dependencies already installed are reused)
#
# Produces packaging/build/dist/robotrace-desktop/robotrace-desktop and runs it:
# --version, `demo --no-gui`, and `demo --screenshot` offscreen into
# packaging/build/smoke/demo.png, which must be a real PNG of the window (not blank).
# Exits non-zero on any failure. Not part of the default CI (it takes minutes).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
BUILD="$HERE/build"
VENV="$BUILD/venv"
DIST="$BUILD/dist"
APP="$DIST/robotrace-desktop/robotrace-desktop"
SMOKE="$BUILD/smoke"

fail() { echo "build_linux.sh: FAILED: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

started=$(date +%s)
mkdir -p "$BUILD"

step "venv ($VENV)"
BASE_PYTHON="${PYTHON:-python3}"
rm -rf "$VENV"
if [[ "${SYSTEM_SITE:-0}" == "1" ]]; then
    "$BASE_PYTHON" -m venv --system-site-packages "$VENV"
else
    "$BASE_PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
step "pip install . pyinstaller"
"$PY" -m pip install --quiet "$REPO" pyinstaller
# from outside the source tree, so the installed copy is the one imported (and bundled)
(cd "$BUILD" && "$PY" -c "import robotrace_desktop, PyInstaller; print('robotrace_desktop', robotrace_desktop.__version__, 'from', robotrace_desktop.__file__); print('PyInstaller', PyInstaller.__version__)")

step "pyinstaller"
rm -rf "$DIST" "$BUILD/work"
(cd "$BUILD" && "$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$DIST" --workpath "$BUILD/work" "$HERE/robotrace-desktop.spec")
[[ -x "$APP" ]] || fail "$APP was not built"

step "bundled Qt plugins"
INTERNAL="$DIST/robotrace-desktop/_internal"
for plugin in platforms/libqoffscreen.so platforms/libqxcb.so platforms/libqwayland.so \
    imageformats/libqsvg.so imageformats/libqjpeg.so iconengines/libqsvgicon.so; do
    found=$(find "$INTERNAL" -path "*plugins/$plugin" | head -n1)
    [[ -n "$found" ]] || fail "Qt plugin $plugin is missing from the bundle"
    echo "ok  $plugin"
done
[[ -f "$INTERNAL/robotrace_desktop/resources/robotrace-desktop.desktop" ]] \
    || fail "resources are missing from the bundle"

step "smoke tests (offscreen, fresh ROBOTRACE_HOME)"
rm -rf "$SMOKE"
mkdir -p "$SMOKE"
export QT_QPA_PLATFORM=offscreen ROBOTRACE_HOME="$SMOKE/home"
unset DISPLAY WAYLAND_DISPLAY || true
cd "$SMOKE"  # not the repo: the bundle must not import the source tree
version=$("$APP" --version) || fail "--version"
echo "$version"
[[ "$version" == "robotrace-desktop "* ]] || fail "--version printed '$version'"
"$APP" demo --no-gui > "$SMOKE/demo.txt" || { cat "$SMOKE/demo.txt"; fail "demo --no-gui"; }
grep -q "failure at 7.500s" "$SMOKE/demo.txt" || fail "demo --no-gui did not report the failure"
head -n 3 "$SMOKE/demo.txt"
"$APP" demo --screenshot "$SMOKE/demo.png" --size 1600x1000 > "$SMOKE/shot.txt" 2> "$SMOKE/shot.err" \
    || { cat "$SMOKE/shot.err"; fail "demo --screenshot"; }
grep -q "not every pane settled" "$SMOKE/shot.err" && fail "the screenshot was taken before the panes settled"
# scan explains 3+ new episodes in spawned worker processes: the frozen executable must serve
# as a worker (multiprocessing.freeze_support in launcher.py)
"$PY" -c "
import sys
from pathlib import Path
from robotrace_desktop.demo import write_demo_bundle
for seed in (1, 2, 3):
    write_demo_bundle(Path(sys.argv[1]) / f'seed{seed}', seed=seed)
" "$SMOKE/bundles"
"$APP" scan "$SMOKE/bundles" > "$SMOKE/scan.txt" 2>&1 || { cat "$SMOKE/scan.txt"; fail "scan"; }
cat "$SMOKE/scan.txt"
grep -q "3 new" "$SMOKE/scan.txt" || fail "scan did not index the 3 bundles"
grep -q "explained 3 episode" "$SMOKE/scan.txt" || fail "scan did not explain them in its workers"
grep -qi "invalid choice\|traceback" "$SMOKE/scan.txt" && fail "a scan worker failed"
"$PY" - "$SMOKE/demo.png" <<'PYEOF' || fail "the screenshot is not a real picture of the window"
import sys
import av
import numpy as np

with av.open(sys.argv[1]) as container:
    image = next(container.decode(video=0)).to_ndarray(format="rgb24")
assert image.shape == (1000, 1600, 3), image.shape
colours = len(np.unique(image.reshape(-1, 3), axis=0))
assert image.std() > 20 and colours > 500, (image.std(), colours)
print(f"screenshot {image.shape[1]}x{image.shape[0]}, {colours} colours, std {image.std():.1f}")
PYEOF

size=$(du -sh "$DIST/robotrace-desktop" | cut -f1)
echo
echo "built $APP"
echo "dist folder: $size; build + smoke tests took $(( $(date +%s) - started )) s"
echo "screenshot: $SMOKE/demo.png"
