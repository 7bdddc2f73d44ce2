#!/usr/bin/env bash
# The steps of the trainlens GitHub Action (action.yml at the repository root runs them).
# Runnable anywhere; GitHub's files default to stdout when unset:
#
#   TL_PATH=runs/ TL_FAIL_ON=$'kl>10 for 3\nmax(grad_norm)>100' TL_REPORT=true \
#     GITHUB_OUTPUT=out.txt GITHUB_STEP_SUMMARY=summary.md bash trainlens/ci/action.sh gate
#   bash trainlens/ci/action.sh link URL     # add the report artifact's link to the summary
#   bash trainlens/ci/action.sh finish CODE  # end the job with the gate's exit code
#
# Inputs (environment): TL_PATH (required), TL_FAIL_ON (policies, one per line; blank lines and
# lines starting with # are skipped), TL_FAIL_ON_SEVERITY, TL_LANG, TL_REPORT (true: write a
# postmortem), TL_REPORT_DIR (default: trainlens-report), TRAINLENS (the command, default
# "python -m trainlens"). `gate` always exits 0 once its outputs are written (exit-code,
# report-path, report-dir), so that the report can be uploaded before `finish` fails the job.
set -uo pipefail

read -r -a TL <<< "${TRAINLENS:-python -m trainlens}"
OUTPUT=${GITHUB_OUTPUT:-/dev/stdout}
SUMMARY=${GITHUB_STEP_SUMMARY:-/dev/stdout}

trim() {
  local s=${1%$'\r'}
  s=${s#"${s%%[![:space:]]*}"}
  printf '%s' "${s%"${s##*[![:space:]]}"}"
}

gate() {
  local path=${TL_PATH:-}
  if [ -z "$path" ]; then
    echo "::error title=trainlens::the 'path' input is required"
    printf 'exit-code=2\nreport-path=\nreport-dir=\n' >> "$OUTPUT"
    return 0
  fi
  local summary
  summary=$(mktemp)
  local args=(gate "$path" --github-annotations --summary "$summary")
  local line policy
  while IFS= read -r line || [ -n "$line" ]; do
    policy=$(trim "$line")
    [ -z "$policy" ] || [ "${policy:0:1}" = "#" ] && continue
    args+=(--fail-on "$policy")
  done <<< "${TL_FAIL_ON:-}"
  [ -n "${TL_FAIL_ON_SEVERITY:-}" ] && args+=(--fail-on-severity "$(trim "$TL_FAIL_ON_SEVERITY")")
  [ -n "${TL_LANG:-}" ] && args+=(--lang "$TL_LANG")

  "${TL[@]}" "${args[@]}"
  local code=$?

  local report_dir="" report_path=""
  if [ "${TL_REPORT:-false}" = "true" ]; then
    report_dir=${TL_REPORT_DIR:-trainlens-report}
    local report_args=(report "$path" -o "$report_dir/postmortem.md")
    [ -n "${TL_LANG:-}" ] && report_args+=(--lang "$TL_LANG")
    if "${TL[@]}" "${report_args[@]}"; then
      report_path="$report_dir/postmortem.md"
    else
      echo "::warning title=trainlens report::the postmortem could not be written"
      report_dir=""
    fi
  fi

  if [ -s "$summary" ]; then
    cat "$summary" >> "$SUMMARY"
  else
    printf '## trainlens gate: error (exit %s)\n\nSee the job log.\n' "$code" >> "$SUMMARY"
  fi
  [ -n "$report_path" ] && printf '\nPostmortem: `%s`\n' "$report_path" >> "$SUMMARY"
  rm -f "$summary"
  printf 'exit-code=%s\nreport-path=%s\nreport-dir=%s\n' "$code" "$report_path" "$report_dir" \
    >> "$OUTPUT"
  return 0
}

link() {
  [ -n "${1:-}" ] && printf '\n📄 [Download the postmortem (trainlens-report)](%s)\n' "$1" >> "$SUMMARY"
  return 0
}

finish() {
  local code=${1:-3}
  case "$code" in
    0) return 0 ;;
    1) echo "trainlens gate failed: a policy failed (see the summary)" ;;
    2) echo "trainlens gate: usage or input error (exit 2)" ;;
    *) echo "trainlens gate: internal error (exit $code)" ;;
  esac
  return "$code"
}

case "${1:-gate}" in
  gate) gate ;;
  link) link "${2:-}" ;;
  finish) finish "${2:-}" ;;
  *) echo "usage: action.sh gate | link URL | finish CODE" >&2; exit 2 ;;
esac
