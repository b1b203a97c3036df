#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The streaming test again through the fallback hooks (sockops plus the
# classic sock:inet_sock_set_state tracepoint), which the agent uses where
# the kernel refuses the BTF-typed tracepoint. SHAWK_BPF_CLASSIC=1 forces
# them; streaming_netns.sh checks that the agent said so in its log.
cd "$(dirname "$0")/../.."
SHAWK_BPF_CLASSIC=1 exec bash tests/integration/streaming_netns.sh
