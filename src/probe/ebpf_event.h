/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_EBPF_EVENT_H
#define SHAWK_PROBE_EBPF_EVENT_H

#include "probe/source.h"

#include <stddef.h>

/*
 * Decodes one ring buffer record written by bpf/shawk.bpf.c (struct
 * shawk_event) into a socket record. Pure: no I/O, no state.
 *
 * IPv4-mapped IPv6 addresses are normalised to AF_INET like the polling
 * source does. A UDP event of an unconnected socket describes a (socket,
 * peer) pair, so its cookie is replaced by a non-zero hash of the socket
 * cookie and the peer: the flow table counts each pair once.
 *
 * Returns 0 and fills *ret, -EINVAL for a short or malformed record,
 * -EPROTO for a record of another layout version.
 */
int ebpf_event_decode(const void *buf, size_t len, struct sock_record *ret);

#endif
