#!/usr/bin/env bash
# `molecule test -s SCENARIO`, its output also kept in a log. When it fails, the last task that
# failed (a failure rescued or ignored on purpose comes earlier: the run stops at the real one)
# and pytest's failed tests are printed again at the very end: Molecule's cleanup, destroy and
# summary come after them, and CI keeps only the end of the output.
#   scripts/molecule-test.sh SCENARIO
set -euo pipefail
scenario=${1:?usage: molecule-test.sh SCENARIO}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
rc=0
molecule test -s "$scenario" 2>&1 | tee "$log" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "=== molecule scenario $scenario failed (exit $rc); what failed, again:"
  # Molecule frames Ansible's output in a box ("│ ") and colours it: both are taken off.
  sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^[[:space:]]*│ \{0,1\}//' "$log" | awk '
    /^(TASK|PLAY|RUNNING HANDLER) \[|^PLAY RECAP/ { grab = 0 }
    /(fatal|failed): \[/ && !/RETRYING/ { block = ""; count = 0; grab = 1 }
    grab && count < 120 { block = block $0 "\n"; count++ }
    /\.\.\.ignoring/ { block = "" }
    /^(FAILED|ERROR) [^ ]+\.py::/ { tests = tests $0 "\n" }
    END { printf "%s%s", block, tests }'
fi
exit "$rc"
