/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_STAGES_H
#define SHAWK_AGENT_STAGES_H

#include "core/flow.h"
#include "core/stage.h"

#include <stddef.h>
#include <stdint.h>

#define STAGES_MAX 8

/* The agent's stages in the order they run (core/stage.h). */
struct stage_list {
	struct stage *v[STAGES_MAX];
	size_t n;
};

/*
 * Appends st (the list owns it from now on). Returns 0, -ENOMEM when st is
 * NULL (a failed constructor), or -E2BIG when the list is full (st is
 * then freed).
 */
int stage_list_add(struct stage_list *l, struct stage *st);

/* Every stage's prepare(), in order, before the source is read. */
void stage_list_prepare(struct stage_list *l);

/* Whether a stage takes partial records; every stage's partial() (ud:
 * the list), as probe/source.h source_progress_fn. */
bool stage_list_partials(const struct stage_list *l);
void stage_list_partial(void *ud, const struct sock_record *recs, size_t n);

/* Every stage's scan() over one scan's records, in order; stops at the
 * first error and returns it (else 0). */
int stage_list_scan(struct stage_list *l, const struct sock_record *recs,
		    size_t n);

/*
 * The enrich chain, as flow_table_ingest()'s flow_enrich_fn (userdata: the
 * list): every stage's enrich() in order; the first error ends the chain
 * and is returned (-ESRCH: owner unknown).
 */
int stage_list_enrich(uint32_t pid, const struct sock_record *rec,
		      struct flow_owner *o, void *userdata);

/*
 * The translation, as the flow table's flow_translate_fn (userdata: the
 * list): the first stage whose translate() returns true gives *ret.
 */
bool stage_list_translate(const struct sock_record *rec, uint8_t dir,
			  struct flow_nat *ret, void *userdata);

/* True when some stage has a translate() (else none is installed). */
bool stage_list_translates(const struct stage_list *l);

/*
 * Whether rec's peer may be counted without tuples (core/stage.h
 * plain_peer): every stage with a translate() vouches for it; false when
 * one cannot (or has no plain_peer).
 */
bool stage_list_plain_peer(struct stage_list *l, const struct sock_record *rec);

/* The NAT source addresses of the stages (core/stage.h nat_sources): the
 * one stage's that tells them, or -1 when a translating stage cannot (or
 * several could). */
ssize_t stage_list_nat_sources(struct stage_list *l, const struct net_addr **ret);

/* Every stage's report(), in order. */
void stage_list_report(struct stage_list *l);

/* Frees every stage; the list is empty afterwards. */
void stage_list_clear(struct stage_list *l);

#endif
