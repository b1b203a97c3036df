/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CONNTRACK_CT_PARSE_H
#define SHAWK_CONNTRACK_CT_PARSE_H

#include "conntrack/ct.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Inside the module: one ctnetlink message's payload (after nlmsghdr)
 * into *ret. need_status: an entry message (dump, NEW event); false: a
 * DESTROY event (tuples only). Returns as ct_parse_entry() (ct.h).
 */
int ct_parse_message(const void *payload, size_t len, struct ct_entry *ret,
		     bool need_status);

/*
 * The one walk over received netlink messages (dumps, events, the count
 * reply): fn(nlh, ud) for every message but NLMSG_DONE and NLMSG_ERROR;
 * a nonzero return of fn stops the walk and is returned. Otherwise 1 at
 * NLMSG_DONE or an ack, -errno of an NLMSG_ERROR (-EBADMSG when out of
 * range), -EBADMSG for a broken header or bytes that are no whole
 * message, 0 at the end.
 */
struct nlmsghdr;
int ct_nlmsg_walk(const void *buf, size_t len,
		  int (*fn)(const struct nlmsghdr *nlh, void *ud), void *ud);

#endif
