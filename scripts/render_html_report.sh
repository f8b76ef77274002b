#!/usr/bin/env bash
# Render convplan's self-contained HTML report in headless Chromium and save a screenshot, to
# see that a real browser shows the table, the formulas and the pictures.
#
#   scripts/render_html_report.sh SPEC SHOT.png [convplan analyze options...]
#   scripts/render_html_report.sh examples/seed_cnn.yaml /tmp/seed_cnn.png --batch 32
#
# Needs Debian's chromium (apt-get install -y chromium). CONVPLAN and CHROMIUM override the
# programs used; WINDOW (default 1280,4000) sets the screenshot's size. Prints the screenshot's
# path; the report itself is written to a temporary folder and removed.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
spec=$1
shot=$(realpath -m "$2")
shift 2
here=$(cd "$(dirname "$0")/.." && pwd)
convplan=${CONVPLAN:-$here/.venv/bin/convplan}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  echo "render_html_report: chromium not found (apt-get install -y chromium)" >&2
  exit 2
fi
rm -f "$shot"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$convplan" analyze "$spec" --format html -o "$work/report.html" "$@"
# No network, no first-run or sync machinery: the report needs nothing outside itself.
if ! timeout 120 "$chromium" --headless --no-sandbox --disable-gpu \
    --disable-background-networking --disable-component-update --disable-sync \
    --no-first-run --hide-scrollbars --user-data-dir="$work/profile" \
    --window-size="${WINDOW:-1280,4000}" --screenshot="$shot" \
    "file://$work/report.html" >"$work/chromium.log" 2>&1 || [ ! -s "$shot" ]; then
  cat "$work/chromium.log" >&2
  echo "render_html_report: chromium did not write $shot" >&2
  exit 1
fi
echo "$shot"
