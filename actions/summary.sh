#!/usr/bin/env bash
# Job-summary and step-output wiring shared by the composite actions (no pipeline logic here).
#   summary.sh outputs FILE.json          every top-level key of the JSON -> $GITHUB_OUTPUT
#   summary.sh table FILE.json TITLE      a two-column markdown table of the JSON -> $GITHUB_STEP_SUMMARY
#   summary.sh markdown FILE.md           append a markdown report the library wrote
#   summary.sh image FILE.png ALT         embed a PNG as a base64 data URI (CML-style inline picture)
set -euo pipefail
summary="${GITHUB_STEP_SUMMARY:-/dev/stdout}"
case "$1" in
  outputs)
    # Multi-line values (reports, messages) use GitHub's delimiter form, which holds any text.
    delimiter="planet_sentinel_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    jq -r --arg d "$delimiter" 'to_entries[] | "\(.key)<<\($d)\n\(.value | if type == "string" then . else tojson end)\n\($d)"' "$2" >> "$GITHUB_OUTPUT"
    ;;
  table)
    {
      printf '### %s\n\n| field | value |\n|---|---|\n' "$3"
      jq -r 'to_entries[] | "| \(.key) | \(.value | if type == "string" then . else tojson end | gsub("\\|"; "\\|")) |"' "$2"
      printf '\n'
    } >> "$summary"
    ;;
  markdown)
    if [ -f "$2" ]; then { cat "$2"; printf '\n'; } >> "$summary"; fi
    ;;
  image)
    # A step summary holds at most 1 MiB: larger pictures are left to the uploaded artifact.
    if [ -f "$2" ] && [ "$(stat -c %s "$2")" -le 600000 ]; then
      printf '<img alt="%s" src="data:image/png;base64,%s" width="720">\n\n' "$3" "$(base64 -w0 "$2")" >> "$summary"
    elif [ -f "$2" ]; then
      printf '_%s: %s is too large to inline; see the run artifacts._\n\n' "$3" "$(basename "$2")" >> "$summary"
    fi
    ;;
  *)
    echo "usage: summary.sh outputs|table|markdown|image ..." >&2
    exit 2
    ;;
esac
