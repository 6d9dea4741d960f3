#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer) of the hand-written
# parsers: domain value types, pagination cursors, JSON merge patch and the
# client input decoder (targets in fuzz/fuzz_targets/). Not part of CI.
#
#   scripts/fuzz-parsers.sh [seconds per target, default 60]
#
# Stable Rust only: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the -Z flags it
# needs. Fails if any target crashes; the crashing input is left under
# fuzz/artifacts/<target>/ (turn it into a unit test next to the code).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
targets=(domain_parsers cursor merge_patch decode_client)

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
export RUSTC_BOOTSTRAP=1

# AddressSanitizer by default; FUZZ_SANITIZER=none where it is unavailable.
sanitizer="${FUZZ_SANITIZER:-address}"
failed=()
for t in "${targets[@]}"; do
  echo "== $t (${seconds}s)"
  mkdir -p "fuzz/corpus/$t"
  if ! cargo fuzz run --sanitizer "$sanitizer" "$t" -- -max_total_time="$seconds" -print_final_stats=1; then
    failed+=("$t")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAIL: crashes in ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "ok: ${#targets[@]} targets, ${seconds}s each, no crash"
