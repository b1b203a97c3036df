/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_ITERREC_H
#define SHAWK_PROBE_ITERREC_H

#include "probe/source.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Decoding of the fixed-size records the BPF iterators of bpf/iter.bpf.c
 * write (bpf/iter_record.h). Pure: the decoders take buffers; only
 * iterrec_read_*() do I/O (plain read() on an iterator fd).
 */

/* Called for each (owner tgid, socket inode); negative return stops. */
typedef int (*iterrec_owner_fn)(uint32_t tgid, uint64_t inode, void *ud);

/*
 * Decodes the whole socket records at the start of buf (len bytes) and calls
 * fn with each, converted to a struct sock_record (v4-mapped addresses
 * normalised as sock_diag's are). Writes to *ret_used how many bytes were
 * consumed: a trailing partial record is left for the caller to complete.
 * Returns the number of records, -EBADMSG for a record that is not one
 * (bad magic, family, protocol or state), or fn's negative return.
 */
int iterrec_decode_socks(const void *buf, size_t len, sock_record_fn fn,
			 void *ud, size_t *ret_used);

/*
 * Same for the records of sockets seen through an fd (struct
 * shawk_iter_fdsock): rec->pid is the process holding the fd, and
 * SOCK_REC_F_FD_SHARED is set when other fds may hold the same socket. A
 * record without inode or process is -EBADMSG.
 */
int iterrec_decode_fdsocks(const void *buf, size_t len, sock_record_fn fn,
			   void *ud, size_t *ret_used);

/* Same for owner records. */
int iterrec_decode_owners(const void *buf, size_t len, iterrec_owner_fn fn,
			  void *ud, size_t *ret_used);

/*
 * Reads an iterator fd to its end through buf (bufsz bytes, at least one
 * record) and decodes it. Returns the number of records or -errno
 * (-EBADMSG also when the stream ends inside a record).
 */
int iterrec_read_socks(int fd, void *buf, size_t bufsz, sock_record_fn fn,
		       void *ud);
int iterrec_read_owners(int fd, void *buf, size_t bufsz, iterrec_owner_fn fn,
			void *ud);
int iterrec_read_fdsocks(int fd, void *buf, size_t bufsz, sock_record_fn fn,
			 void *ud);

#endif
