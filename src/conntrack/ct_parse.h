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

#endif
