#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The streaming test again with in-kernel counting switched off
# (SHAWK_BPF_AGGREGATE=0): every TCP connection then comes as a ring buffer
# event, the path the agent also takes during each poll and when the
# aggregate map is full. streaming_netns.sh checks that none was counted
# in the kernel.
cd "$(dirname "$0")/../.."
SHAWK_BPF_AGGREGATE=0 exec bash tests/integration/streaming_netns.sh
