#!/usr/bin/env bash
# Renders the HTML robustness report of `fastgo demo` (the adversarially
# trained model's, adversarial/report.html) to docs/images/robustness-report.png
# with headless Chromium, as docs/adversarial.md shows it.
#
#   scripts/robustness-report-png.sh            # runs fastgo demo (about 3 minutes on 2 cores)
#   scripts/robustness-report-png.sh DEMO_DIR   # uses the output of an earlier fastgo demo -out DEMO_DIR
#
# Needs: apt-get install -y chromium
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-}
if [ -z "$dir" ]; then
  dir=$(mktemp -d)
  go run ./cmd/fastgo demo -out "$dir" >"$dir/demo.log"
fi
page=$(cd "$dir" && pwd)/adversarial/report.html
[ -f "$page" ] || { echo "no $page: run fastgo demo -out $dir first" >&2; exit 1; }
mkdir -p docs/images
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$(mktemp -d)" \
  --screenshot="$PWD/docs/images/robustness-report.png" --window-size=1100,2400 "file://$page" 2>/dev/null
echo "wrote docs/images/robustness-report.png from $page"
