#!/bin/sh
# C compiler for the sanitized suite (tools/test-sanitized.sh): tests link generated model code
# into shared libraries and `kiln build` executables through $CC; those link sanitized runtime
# libraries, so they need the same sanitizer runtime.
exec "${KILN_SAN_CC:-gcc}" -fsanitize=address,undefined -fno-sanitize-recover=all "$@"
