/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_EBPF_EVENT_H
#define SHAWK_PROBE_EBPF_EVENT_H

#include "probe/source.h"

#include <stddef.h>
#include <stdint.h>

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

/*
 * Decodes one entry of the in-kernel aggregate (a TCP event with
 * SHAWK_EVF_AGGREGATE, no cookie and its ephemeral port 0) and the number
 * of connections it counted into an aggregate record (ret->conns = count,
 * capped at UINT32_MAX). Returns 0, -EINVAL or -EPROTO like
 * ebpf_event_decode(), which in turn rejects aggregate keys.
 */
int ebpf_agg_decode(const void *key, size_t len, uint64_t count,
		    struct sock_record *ret);

#endif
