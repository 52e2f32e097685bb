#!/usr/bin/env bash
# Refresh the dashboard's vendored front-end library (uPlot, MIT) from the npm registry.
#
# Usage: scripts/dashboard-assets.sh [VERSION]   (default: the version pinned below)
#
# `npm pack` fetches the published tarball into a temporary directory (no node_modules, no bundler); the dist
# files the page loads and the licence are copied into src/omie_otel/dashboard/static/vendor/, with a VERSION
# file naming the package, version and tarball integrity. The page never loads anything from a CDN.
set -euo pipefail

UPLOT_VERSION="${1:-1.6.32}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/omie_otel/dashboard/static/vendor"
command -v npm >/dev/null || { echo "dashboard-assets: npm is needed (apt-get install npm)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent --json "uplot@$UPLOT_VERSION" > pack.json)
tarball="$(cd "$tmp" && ls uplot-*.tgz)"
tar -xzf "$tmp/$tarball" -C "$tmp"
integrity="$(sed -n 's/.*"integrity": *"\([^"]*\)".*/\1/p' "$tmp/pack.json" | head -n1)"

mkdir -p "$DEST"
cp "$tmp/package/dist/uPlot.iife.min.js" "$DEST/uPlot.iife.min.js"
cp "$tmp/package/dist/uPlot.min.css" "$DEST/uPlot.min.css"
cp "$tmp/package/LICENSE" "$DEST/uPlot.LICENSE"
printf 'uplot %s (npm, MIT)\nintegrity %s\nfiles dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE\n' \
  "$UPLOT_VERSION" "${integrity:-unknown}" > "$DEST/VERSION"
echo "dashboard-assets: uplot $UPLOT_VERSION -> $DEST"
