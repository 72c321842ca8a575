#!/usr/bin/env bash
# Renders an HTML report or an SVG chart to a PNG with headless Chromium, to check by eye that
# it looks right. Installs Chromium (Debian package `chromium`, needs root) if it is missing.
#
#   scripts/render-report.sh FILE.html|FILE.svg [OUT.png] [WIDTHxHEIGHT]
#
# OUT.png defaults to FILE with .png in place of its extension. The window size defaults to
# 1200x900 for HTML and to the SVG's own width and height for SVG (read from its root element).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 3 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo "usage: $0 FILE.html|FILE.svg [OUT.png] [WIDTHxHEIGHT]" >&2
  exit 2
fi
input=$1
[ -f "$input" ] || { echo "render-report: no such file: $input" >&2; exit 1; }
output=${2:-${input%.*}.png}
size=${3:-}

browser=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then browser=$candidate; break; fi
done
if [ -z "$browser" ]; then
  echo "render-report: installing chromium (apt-get)…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  browser=chromium
fi

if [ -z "$size" ]; then
  size=1200x900
  case "$input" in
    *.svg)
      # width="…" height="…" of the root <svg> element, if given in pixels.
      head=$(tr '\n' ' ' <"$input" | grep -o '<svg[^>]*>' | head -n 1 || true)
      w=$(printf '%s' "$head" | sed -n 's/.* width="\([0-9.]*\)".*/\1/p')
      h=$(printf '%s' "$head" | sed -n 's/.* height="\([0-9.]*\)".*/\1/p')
      if [ -n "$w" ] && [ -n "$h" ]; then size="${w%.*}x${h%.*}"; fi
      ;;
  esac
fi
case "$size" in
  *x*) ;;
  *) echo "render-report: size must look like 1200x900, got $size" >&2; exit 2 ;;
esac

absolute_input=$(cd "$(dirname "$input")" && pwd)/$(basename "$input")
absolute_output=$(mkdir -p "$(dirname "$output")" && cd "$(dirname "$output")" && pwd)/$(basename "$output")
rm -f "$absolute_output"
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --screenshot="$absolute_output" --window-size="${size/x/,}" "file://$absolute_input" \
  >/dev/null 2>&1 || true
if [ ! -s "$absolute_output" ]; then
  echo "render-report: $browser produced no screenshot for $input" >&2
  exit 1
fi
echo "$absolute_output"
