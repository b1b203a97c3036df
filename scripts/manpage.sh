#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shawk.1 from the binary's own help: `shawk --help` and each command's
# `--help` (probe's is generated from its option table), so the man page
# says what the binary does. Usage: manpage.sh SHAWK > shawk.1
set -euo pipefail
shawk=${1:?usage: manpage.sh SHAWK}

# roff-safe: a leading . or ' would be a request, \ an escape.
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }

version=$("$shawk" version | head -1)
cat <<EOT
.TH SHAWK 1 "" "$version" "User Commands"
.SH NAME
shawk \\- discover network dependencies between processes, containers and pods
.SH SYNOPSIS
.B shawk
.I COMMAND
[\\fIOPTIONS\\fR]
.SH DESCRIPTION
.nf
EOT
"$shawk" --help | esc
echo ".fi"
for cmd in $("$shawk" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} /^$/ && on {on = 0}'); do
	case $cmd in help|version|completion) continue ;; esac
	echo ".SH \"SHAWK ${cmd^^}\""
	echo ".nf"
	"$shawk" "$cmd" --help | esc
	echo ".fi"
done
cat <<'EOT'
.SH FILES
.TP
.I docs/json.md
the JSON shapes (in the source tree)
.SH SEE ALSO
.BR ip-netns (8),
.BR ss (8)
EOT
