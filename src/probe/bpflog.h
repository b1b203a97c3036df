/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_BPFLOG_H
#define SHAWK_PROBE_BPFLOG_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Pure helpers of the BPF loaders (probe/ebpf.c, probe/ebpf_iter.c): no
 * I/O, no libbpf, so fixtures test them.
 */

/*
 * The verifier's reason from a BPF_PROG_LOAD log: its last line that is not
 * a statistic ("processed N insns", "verification time", ...), followed by
 * the instruction it stopped at when the line before is one
 * ("R1 type=... (at 100: (85) call bpf_get_socket_cookie#46)"). Writes ""
 * when the log holds no such line. Returns out.
 */
char *bpflog_reason(const char *log, char *out, size_t out_sz);

/*
 * Whether name is in list, a comma-separated list of names (spaces around
 * a name ignored; NULL or "" is empty). For SHAWK_BPF_DENY: the test-only
 * switch that makes the loaders treat the named BPF programs (or
 * "light-skeleton", every light skeleton) as refused by the kernel.
 */
bool bpflog_list_has(const char *list, const char *name);

#endif
