#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The files and functions grown past what one reader holds (issue 13):
# C files under DIR (default src) over FILE_MAX lines (600), then top-level
# functions over FUNC_MAX lines (80), longest first, each with the first
# line of the comment at its top when it has one (the reason it stays).
# A function is what the house style writes: "{" alone at column 0 after
# its signature, "}" at column 0 ending it.
#
#   scripts/sizes.sh [DIR] [FILE_MAX] [FUNC_MAX]
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
dir=${1:-src} file_max=${2:-600} func_max=${3:-80}
mapfile -t files < <(find "$dir" -name '*.[ch]' | sort)
[ ${#files[@]} -gt 0 ] || { echo "no C files under $dir" >&2; exit 2; }

echo "files over $file_max lines:"
wc -l "${files[@]}" | awk -v m="$file_max" '$2 != "total" && $1 > m {print "  " $1, $2}' | sort -rn
echo "functions over $func_max lines:"
awk -v m="$func_max" '
FNR == 1 { inbody = 0; sig = 0 }
/^\{/ { start = sig; name = signame; inbody = 1; first = ""; next }
inbody && first == "" && /^\t\/[*\/]/ { first = $0; sub(/^\t/, "", first) }
inbody && first == "" && /^\t[^\/]/ { first = "-" }
/^\}/ && inbody {
	n = FNR - start + 1
	if (n > m)
		printf "  %d %s:%d %s  %s\n", n, FILENAME, start, name,
			first == "-" ? "(no reason at its top)" : first
	inbody = 0
	next
}
!inbody && /^[A-Za-z_].*\(/ {
	sig = FNR; signame = $0
	sub(/\(.*/, "", signame); sub(/.*[ *]/, "", signame)
}' "${files[@]}" | sort -rn
