#!/usr/bin/env bash
# Job-summary and step-output wiring shared by the composite actions (no pipeline logic here).
#   summary.sh outputs FILE.json KEY...   the named top-level keys of the JSON -> $GITHUB_OUTPUT (the
#                                         outputs the action reads; KEY? may be absent or null: empty)
#   summary.sh table FILE.json TITLE      a two-column markdown table of the JSON -> $GITHUB_STEP_SUMMARY
#   summary.sh markdown FILE.md           append a markdown report the library wrote
#   summary.sh text TEXT                  append a line of markdown
#   summary.sh pictures URL TITLE FILE... link the artifact that holds the pictures (URL: the
#                                         artifact-url output of actions/upload-artifact; empty = not uploaded)
#   summary.sh site FILE.json URL         the built site (`sentinel site build --json`): its size and pages;
#                                         with URL (its GitHub Pages address) links to the map and each run
#                                         page, and shows the run pages' pictures from there
# Pictures are never inlined: GitHub's markdown sanitiser drops `data:` URIs, in job summaries too,
# so an embedded PNG shows as nothing. They travel as artifacts, linked from the summary.
# SENTINEL_SUMMARY_COPY (set by `python -m tools act --summary-file`): also append every summary
# there (act deletes its step summaries when the job ends).
set -euo pipefail
summary="${GITHUB_STEP_SUMMARY:-/dev/stdout}"
write() {
  local text
  text="$(cat)"
  printf '%s\n\n' "$text" >> "$summary"
  if [ -n "${SENTINEL_SUMMARY_COPY:-}" ]; then printf '%s\n\n' "$text" >> "$SENTINEL_SUMMARY_COPY"; fi
}
case "$1" in
  outputs)
    # Exactly the keys the action declares, not every key of the JSON: a step's outputs are its
    # interface. A required key the JSON lacks fails the step before anything is written, so a
    # renamed field of a command's --json shows at once instead of as an empty output later.
    if [ "$#" -lt 3 ]; then
      echo "usage: summary.sh outputs FILE.json KEY... (the keys the action declares; KEY? may be absent)" >&2
      exit 2
    fi
    file="$2"
    shift 2
    if ! jq -se 'length == 1 and (.[0] | type) == "object"' "$file" > /dev/null 2>&1; then
      echo "summary.sh outputs: $file is not a JSON object (did the command print its --json result?)" >&2
      exit 2
    fi
    keys="$(jq -cn '$ARGS.positional' --args "$@")"
    missing="$(jq -r --argjson keys "$keys" '. as $o | [$keys[] | select(endswith("?") | not) | select(. as $k | $o | has($k) | not)] | join(", ")' "$file")"
    if [ -n "$missing" ]; then
      echo "summary.sh outputs: $file has no $missing (it has: $(jq -r 'keys_unsorted | join(", ")' "$file"))" >&2
      exit 2
    fi
    # Multi-line values (reports, messages) use GitHub's delimiter form, which holds any text;
    # null and absent optional keys are empty (what GitHub gives for an output never set).
    delimiter="planet_sentinel_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    jq -r --arg d "$delimiter" --argjson keys "$keys" '. as $o | $keys[] | rtrimstr("?") as $k
      | (if $o | has($k) then $o[$k] else null end) as $v
      | "\($k)<<\($d)\n\($v | if . == null then "" elif type == "string" then . else tojson end)\n\($d)"' \
      "$file" >> "$GITHUB_OUTPUT"
    ;;
  table)
    {
      printf '### %s\n\n| field | value |\n|---|---|\n' "$3"
      jq -r 'to_entries[] | "| \(.key) | \(.value | if type == "string" then . else tojson end | gsub("\\|"; "\\|")) |"' "$2"
    } | write
    ;;
  markdown)
    if [ -f "$2" ]; then write < "$2"; fi
    ;;
  text)
    printf '%s\n' "$2" | write
    ;;
  pictures)
    url="$2" title="$3"
    shift 3
    names=()
    for file in "$@"; do [ -f "$file" ] && names+=("$(basename "$file")"); done
    [ "${#names[@]}" -gt 0 ] || exit 0 # no picture was written: nothing to point to
    listed="$(printf '`%s`, ' "${names[@]}")"
    listed="${listed%, }"
    case "$url" in
      https://* | http://*) printf '**%s**: %s in the artifact [%s](%s)\n' "$title" "$listed" "$title" "$url" | write ;;
      "") printf '_%s: %s were not uploaded as an artifact in this run._\n' "$title" "$listed" | write ;;
      *)
        echo "summary.sh pictures: '$url' is not an http(s) URL" >&2
        exit 2
        ;;
    esac
    ;;
  site)
    url="${3:-}"
    case "$url" in
      "" | https://* | http://*) ;;
      *)
        echo "summary.sh site: '$url' is not an http(s) URL" >&2
        exit 2
        ;;
    esac
    [ -z "$url" ] || url="${url%/}/"
    jq -r --arg u "$url" '"### Site", "",
      "Built: \(.size); \(.alerts) alerts, \(.overlays) composites, \(.tiles) tiles, \(.plots) plots, \(.runs) run pages.",
      "", if $u == "" then "_Not published with GitHub Pages in this run._" else
        "Published with GitHub Pages once the deploy job has run: [map](\($u))"
          + ([.pages[] | " · [\(split("/")[1])](\($u)\(rtrimstr("index.html")))"] | join("")),
        "", (.pictures[] | "![\(split("/") | last)](\($u)\(.))") end' "$2" | write
    ;;
  *)
    echo "usage: summary.sh outputs|table|markdown|text|pictures|site ..." >&2
    exit 2
    ;;
esac
