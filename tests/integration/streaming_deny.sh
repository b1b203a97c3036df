#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The streaming test again with programs refused (SHAWK_BPF_DENY makes the
# loaders switch them off as if the verifier had refused them): the
# BTF-typed tracepoint, so streaming falls back to sockops and the classic
# tracepoint, and the fd walk, so the seed and resync polls read
# iter/tcp + iter/udp per netns. Every other program must stay on and
# every connection still be counted.
cd "$(dirname "$0")/../.."
SHAWK_BPF_DENY=shawk_tcp_state,shawk_iter_fd_sock exec bash tests/integration/streaming_netns.sh
