#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job (README command 1): one scan of this host, printed as text.
set -euo pipefail
exec "${SHAWK_BIN:-build/shawk}" probe --once --output text
