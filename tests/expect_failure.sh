#!/usr/bin/env bash
# expect_failure.sh PATTERN COMMAND...: passes when COMMAND exits non-zero and its
# output matches the extended regular expression PATTERN.
pattern=$1; shift
output=$("$@" 2>&1); status=$?
if [[ $status -eq 0 ]]; then echo "expected failure, got exit 0; output:"; echo "$output"; exit 1; fi
if ! grep -Eq -- "$pattern" <<<"$output"; then echo "exit $status but output lacks /$pattern/:"; echo "$output"; exit 1; fi
echo "exit $status, message matched: $(grep -Eo -- "$pattern" <<<"$output" | head -1)"
