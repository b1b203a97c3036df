// SPDX-License-Identifier: MIT
/*
 * Which process owns each socket inode: a cache kept between scans (one
 * hash lookup per socket in steady state), the owner lookup when one is
 * installed (a BPF iterator over every socket file), else fd walks of the
 * candidate processes, busiest first; inodes nobody owns are searched again
 * only now and then.
 */
#include "probe/procmap_int.h"

#include "core/util.h"
#include "probe/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>

/* An ownerless inode is searched again once soon (its owner may have been
 * born during the scan that found it, or be about to take it from an
 * accept queue), then every UNOWNED_RETRY_SCANS scans. */
#define UNOWNED_FIRST_RETRY_SCANS 2
#define UNOWNED_RETRY_SCANS 30

void procmap_set_owner_lookup(struct procmap *pm, procmap_owner_lookup_fn fn,
			      void *ud)
{
	pm->owner_fn = fn;
	pm->owner_ud = ud;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Gives inode to pid when it is wanted in this scan (owner 0 in pm->inodes
 * with this gen, or in spill when that cache was full). Returns 1 when it
 * was, 0 otherwise.
 */
static size_t claim(struct procmap *pm, struct u64map *spill, uint32_t gen,
		    uint64_t ino, uint32_t pid)
{
	uint64_t *w = u64map_get(&pm->inodes, ino);
	if (w) {
		/* Owner 0 with an older gen: left by a scan that failed, not
		 * wanted now. */
		if (*w != (uint64_t)gen << 32)
			return 0; /* known, or found already */
		*w |= pid;
		return 1;
	}
	if (!spill->count || !(w = u64map_get(spill, ino)) || *w)
		return 0;
	*w = pid;
	return 1;
}

struct claim_ctx {
	struct procmap *pm;
	struct u64map *spill;
	uint32_t gen;
	size_t found;
};

static int claim_emit(uint32_t tgid, uint64_t inode, void *ctx)
{
	struct claim_ctx *c = ctx;
	if (claim(c->pm, c->spill, c->gen, inode, tgid)) {
		struct proc_info *p = procmap_lookup(c->pm, tgid);
		if (p)
			p->hot_gen = c->gen;
		c->found++;
	}
	return 0;
}

/*
 * Reads the fd links of one process. A socket inode wanted in this scan (in
 * pm->inodes with owner 0, or in spill when that cache was full) gets this
 * pid. Returns how many wanted inodes were found.
 */
static size_t walk_fds(struct procmap *pm, struct proc_info *p,
		       struct u64map *spill, uint32_t gen)
{
	char path[32];
	snprintf(path, sizeof(path), "%u/fd", p->pid);
	_cleanup_(closep) int fd = openat(pm->proc_fd, path,
					  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EACCES || errno == EPERM) {
			pm->stats.fd_denied++;
			pm->stats.denied_example = p->pid;
		}
		return 0;
	}
	pm->stats.fd_dirs_walked++;

	size_t found = 0;
	char buf[32768];
	for (;;) {
		/* getdents64 directly: one syscall per 32 KiB of entries,
		 * no DIR allocation per process. */
		long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *de =
				(struct linux_dirent64 *)(buf + off);
			off += de->d_reclen;
			if (de->d_name[0] < '0' || de->d_name[0] > '9')
				continue;
			/* readlinkat, not fstatat: following the link would
			 * stat the target, which may sit on a hung NFS or
			 * FUSE mount; both cost the same for sockets. */
			char link[64];
			ssize_t l = readlinkat(fd, de->d_name, link,
					       sizeof(link));
			pm->stats.fd_links_read++;
			if (l <= 0)
				continue;
			uint64_t ino = procfs_socket_inode(link, (size_t)l);
			if (!ino)
				continue;
			found += claim(pm, spill, gen, ino, p->pid);
		}
	}
	return found;
}

static int cmp_hot(const void *a, const void *b)
{
	const struct proc_info *pa = *(struct proc_info *const *)a;
	const struct proc_info *pb = *(struct proc_info *const *)b;
	if (pa->hot_gen != pb->hot_gen)
		return pa->hot_gen > pb->hot_gen ? -1 : 1;
	return pa->pid < pb->pid ? -1 : pa->pid > pb->pid;
}

static bool keep_gen(uint64_t key, uint64_t val, void *ud)
{
	const uint32_t *gen = ud;
	(void)key;
	return (uint32_t)(val >> 32) == *gen;
}

/* An ownerless inode searched once only is due again after a short wait. */
static bool unowned_due(const uint64_t *u, uint32_t gen)
{
	return u && (*u >> 32) == 1 &&
	       gen - (uint32_t)*u >= UNOWNED_FIRST_RETRY_SCANS;
}

static bool keep_recent(uint64_t key, uint64_t val, void *ud)
{
	const uint32_t *gen = ud;
	(void)key;
	return *gen - (uint32_t)val < UNOWNED_RETRY_SCANS;
}

/*
 * Records an inode nobody owns (or whose cached owner is gone and who has no
 * new one): not searched again for UNOWNED_RETRY_SCANS scans.
 */
static void mark_unowned(struct procmap *pm, uint64_t ino, uint32_t gen)
{
	uint64_t *u = u64map_get(&pm->unowned, ino);
	pm->stats.unowned++;
	if (u)
		*u = ((*u >> 32) + 1) << 32 | gen;
	else
		(void)u64map_put(&pm->unowned, ino, (1ULL << 32) | gen);
	/* A cached owner that is gone must not be reported (nor after pid
	 * reuse). */
	(void)u64map_del(&pm->inodes, ino);
}

/* The maps of one procmap_resolve() call. */
struct resolve {
	struct u64map spill;   /* wanted, cache full: inode -> owner */
	struct u64map want_ns; /* netns of wanted inodes -> 1 */
	uint32_t gen;
};

/*
 * Pass 1: cache hits get their owner, unknown inodes are wanted (in the
 * cache itself with owner 0). Returns the number wanted, or -errno;
 * *owned counts the records with an owner.
 */
static ssize_t resolve_cached(struct procmap *pm, struct resolve *rs,
			      struct sock_record *recs, size_t n, int *owned)
{
	const uint64_t wanted_val = (uint64_t)rs->gen << 32; /* owner 0 */
	size_t wanted = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		struct sock_record *rec = &recs[i];
		if (rec->pid) {
			(*owned)++;
			continue;
		}
		if (!rec->inode || (rec->flags & SOCK_REC_F_NO_OWNER))
			continue;
		uint64_t *v = u64map_get(&pm->inodes, rec->inode);
		if (v) {
			uint32_t owner = (uint32_t)*v;
			if (owner && procmap_lookup(pm, owner)) {
				*v = ((uint64_t)rs->gen << 32) | owner;
				rec->pid = owner;
				(*owned)++;
				continue;
			}
			if (*v == wanted_val)
				continue; /* listed twice: wanted already */
		}
		uint64_t *u = u64map_get(&pm->unowned, rec->inode);
		if (u && !unowned_due(u, rs->gen))
			continue; /* searched recently, nobody owns it */
		if (v) {
			*v = wanted_val; /* owner gone (or none): search */
		} else {
			r = u64map_put(&pm->inodes, rec->inode, wanted_val);
			/* Cache full: attribution still works for this scan
			 * (spill); it is just not kept. */
			if (r == -ENOSPC)
				r = u64map_put(&rs->spill, rec->inode, 0);
			if (r < 0)
				return r;
			if (r == 0)
				continue; /* listed twice */
		}
		wanted++;
		if ((r = u64map_put(&rs->want_ns, rec->netns ? rec->netns : 1,
				    1)) < 0)
			return r;
	}
	return (ssize_t)wanted;
}

/*
 * Pass 2, slow: walks the fd tables of candidate processes (in a netns
 * with wanted sockets), busiest first, until wanted inodes have owners.
 */
static ssize_t resolve_walk(struct procmap *pm, struct resolve *rs,
			    size_t wanted)
{
	size_t np = 0;
	_cleanup_(freep) struct proc_info **cand =
		calloc(pm->pids.count ? pm->pids.count : 1, sizeof(*cand));
	if (!cand)
		return -ENOMEM;
	pm->stats.walks++;
	uint64_t v;
	for (size_t it = 0; u64map_next(&pm->pids, &it, NULL, &v);) {
		struct proc_info *p = (struct proc_info *)(uintptr_t)v;
		/* netns 0: unreadable ns link, still a candidate. */
		if (p->netns && !u64map_get(&rs->want_ns, p->netns))
			continue;
		cand[np++] = p;
	}
	qsort(cand, np, sizeof(*cand), cmp_hot);
	size_t remaining = wanted;
	for (size_t i = 0; i < np && remaining; i++) {
		size_t f = walk_fds(pm, cand[i], &rs->spill, rs->gen);
		if (f) {
			cand[i]->hot_gen = rs->gen;
			remaining -= f < remaining ? f : remaining;
		}
	}
	return (ssize_t)remaining;
}

/*
 * Pass 2b: processes born since the pid list of this scan was read (a
 * socket of the dump may be theirs): lists /proc again, tracks the new
 * ones and walks those in a wanted netns. Returns how many were walked.
 */
static int walk_newborn(struct procmap *pm, struct resolve *rs,
			size_t remaining)
{
	int dfd = openat(pm->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	int walked = 0;
	struct dirent *de;
	while (remaining && (de = readdir(d))) {
		uint32_t pid;
		if (!procmap_parse_pid(de->d_name, &pid) ||
		    procmap_lookup(pm, pid))
			continue;
		struct proc_info *p;
		int r = procmap_track(pm, pid, &p);
		if (r == -ENOMEM)
			break;
		if (r < 0)
			continue;
		(void)procmap_read_netns(pm, pid, &p->netns);
		if (p->netns && !u64map_get(&rs->want_ns, p->netns))
			continue;
		size_t f = walk_fds(pm, p, &rs->spill, rs->gen);
		pm->stats.newborn_walked++;
		walked++;
		if (f) {
			p->hot_gen = rs->gen;
			remaining -= f < remaining ? f : remaining;
		}
	}
	closedir(d);
	return walked;
}

/* Pass 3: owners found by the search; the rest is unowned. */
static void resolve_found(struct procmap *pm, struct resolve *rs,
			  struct sock_record *recs, size_t n, int *owned)
{
	for (size_t i = 0; i < n; i++) {
		struct sock_record *rec = &recs[i];
		if (rec->pid || !rec->inode ||
		    (rec->flags & SOCK_REC_F_NO_OWNER))
			continue;
		uint64_t *v = u64map_get(&pm->inodes, rec->inode);
		uint64_t *w = v || !rs->spill.count
				      ? NULL
				      : u64map_get(&rs->spill, rec->inode);
		uint32_t owner = v ? (uint32_t)*v : w ? (uint32_t)*w : 0;
		if (owner) {
			rec->pid = owner;
			(*owned)++;
		} else if (v ||
			   (w && !u64map_get(&pm->unowned, rec->inode))) {
			mark_unowned(pm, rec->inode, rs->gen);
		}
	}
}

/*
 * One hash lookup per socket in steady state. Unknown inodes go into the
 * cache itself with owner 0 ("wanted"), where the fd walk claims them: no
 * second map to build and copy from, which matters on a cold start (every
 * socket is unknown then).
 */
int procmap_resolve(struct procmap *pm, struct sock_record *recs, size_t n)
{
	struct resolve rs = { .gen = pm->gen };
	bool searched = false;
	ssize_t wanted = 0;
	int owned = 0;
	int r;

	if ((r = u64map_init(&rs.spill, 0)) < 0 ||
	    (r = u64map_init(&rs.want_ns, 0)) < 0)
		goto out;
	/* A cold start inserts every socket: size the cache once (for the
	 * sockets the source did not attribute itself). */
	size_t todo = 0;
	for (size_t i = 0; i < n; i++)
		todo += !recs[i].pid && recs[i].inode &&
			!(recs[i].flags & SOCK_REC_F_NO_OWNER);
	if ((r = u64map_reserve(&pm->inodes, todo)) < 0)
		goto out;
	wanted = resolve_cached(pm, &rs, recs, n, &owned);
	if (wanted < 0) {
		r = (int)wanted;
		goto out;
	}
	if (wanted && pm->owner_fn) {
		/* Pass 2, fast: every (owner, socket) of the host at once. */
		struct claim_ctx c = { .pm = pm, .spill = &rs.spill,
				       .gen = rs.gen };
		pm->stats.owner_lookups++;
		r = pm->owner_fn(pm->owner_ud, claim_emit, &c);
		searched = true;
		if (r < 0) {
			/* Claims made so far stand; the walk finds the rest. */
			pm->stats.owner_lookup_errors++;
			wanted -= (ssize_t)c.found < wanted ? (ssize_t)c.found
							    : wanted;
		} else {
			/* What is left no process holds (kernel sockets, or
			 * closed since the dump): no fd walk would find it. */
			wanted = 0;
		}
	}
	if (wanted) {
		ssize_t left = resolve_walk(pm, &rs, (size_t)wanted);
		if (left < 0) {
			r = (int)left;
			goto out;
		}
		/* Not found: perhaps a process born during this scan. */
		if (left > 0 && (r = walk_newborn(pm, &rs, (size_t)left)) < 0)
			goto out;
		searched = true;
	}
	if (searched)
		resolve_found(pm, &rs, recs, n, &owned);

	/* Owned inodes absent from this scan belong to closed sockets. */
	u64map_filter(&pm->inodes, keep_gen, &rs.gen);
	u64map_filter(&pm->unowned, keep_recent, &rs.gen);
	r = owned;
out:
	u64map_free(&rs.spill);
	u64map_free(&rs.want_ns);
	return r;
}
