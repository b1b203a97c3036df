// SPDX-License-Identifier: MIT
#include "k8s/cgroupfs.h"

#include "core/file.h"
#include "core/u64map.h"
#include "core/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define CGROUPFS_MAX_DEPTH 32
#define CGROUPFS_DEFAULT_MAX 65536

struct cgroupfs {
	char mount[PATH_MAX];
	char root[PATH_MAX]; /* the mount's root in the hierarchy, "" for / */
	int mount_fd;	     /* O_PATH on the mount point */
	struct u64map ids;   /* id -> (uintptr_t) malloc'd path */
	int64_t last_walk_ms;
	int64_t min_walk_ms;
	bool walked;
	bool no_handle_open; /* open_by_handle_at refused: stop trying */
};

/* ---- mountinfo (pure) -------------------------------------------------- */

/* Copies a mountinfo field, decoding the \ooo escapes of ' ', '\t', '\n',
 * '\\'. Returns 0 or -ENAMETOOLONG. */
static int copy_unescaped(const char *p, size_t n, char *out, size_t sz)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (c == '\\' && i + 3 < n &&
		    p[i + 1] >= '0' && p[i + 1] <= '3' && p[i + 2] >= '0' &&
		    p[i + 2] <= '7' && p[i + 3] >= '0' && p[i + 3] <= '7') {
			c = (char)((p[i + 1] - '0') * 64 + (p[i + 2] - '0') * 8 +
				   (p[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= sz)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static bool path_under(const char *path, size_t n, const char *prefix)
{
	size_t pn = strlen(prefix);
	while (pn > 1 && prefix[pn - 1] == '/')
		pn--;
	return n >= pn && memcmp(path, prefix, pn) == 0 &&
	       (n == pn || path[pn] == '/' || pn == 1);
}

int cgroupfs_parse_mountinfo(const char *buf, size_t len, const char *prefer,
			     char *ret_mount, size_t mount_sz, char *ret_root,
			     size_t root_sz)
{
	const char *best_mp = NULL, *best_root = NULL;
	size_t best_mp_n = 0, best_root_n = 0;
	bool best_preferred = false;

	for (size_t i = 0; i < len;) {
		size_t eol = i;
		while (eol < len && buf[eol] != '\n')
			eol++;
		const char *f[6];
		size_t fn[6], nf = 0;
		const char *fstype = NULL;
		size_t fstype_n = 0;
		bool after_sep = false;
		for (size_t j = i; j < eol;) {
			while (j < eol && buf[j] == ' ')
				j++;
			size_t k = j;
			while (k < eol && buf[k] != ' ')
				k++;
			if (k == j)
				break;
			if (after_sep) {
				fstype = buf + j;
				fstype_n = k - j;
				break;
			}
			if (nf >= 6 && k - j == 1 && buf[j] == '-') {
				after_sep = true;
			} else if (nf < 6) {
				f[nf] = buf + j;
				fn[nf++] = k - j;
			}
			j = k;
		}
		i = eol + 1;
		if (nf < 6 || !fstype || fstype_n != 7 ||
		    memcmp(fstype, "cgroup2", 7) != 0)
			continue;
		char mp[PATH_MAX];
		bool preferred =
			prefer &&
			copy_unescaped(f[4], fn[4], mp, sizeof(mp)) == 0 &&
			path_under(mp, strlen(mp), prefer);
		if (!best_mp || (preferred && !best_preferred)) {
			best_mp = f[4];
			best_mp_n = fn[4];
			best_root = f[3];
			best_root_n = fn[3];
			best_preferred = preferred;
		}
	}
	if (!best_mp)
		return -ENOENT;
	char mp[PATH_MAX], root[PATH_MAX];
	int r = copy_unescaped(best_mp, best_mp_n, mp, sizeof(mp));
	if (r < 0)
		return r;
	r = copy_unescaped(best_root, best_root_n, root, sizeof(root));
	if (r < 0)
		return r;
	if (strlen(mp) >= mount_sz || strlen(root) >= root_sz)
		return -ENAMETOOLONG;
	strcpy(ret_mount, mp);
	strcpy(ret_root, root);
	return 0;
}

/* ---- cache ------------------------------------------------------------- */

static void ids_clear(struct cgroupfs *c)
{
	for (size_t i = 0; i < c->ids.cap; i++)
		if (c->ids.slots[i].key)
			free((void *)(uintptr_t)c->ids.slots[i].val);
	u64map_clear(&c->ids);
}

/* Takes path. Returns 0, -ENOSPC (full) or -ENOMEM. */
static int ids_put(struct cgroupfs *c, uint64_t id, char *path)
{
	uint64_t *old = u64map_get(&c->ids, id);
	if (old) {
		free((void *)(uintptr_t)*old);
		*old = (uintptr_t)path;
		return 0;
	}
	int r = u64map_put(&c->ids, id, (uintptr_t)path);
	if (r < 0) {
		free(path);
		return r;
	}
	return 0;
}

/* "/" + rel, with the mount's root in front when it is not "/". */
static char *join_path(const struct cgroupfs *c, const char *rel)
{
	char *out = NULL;
	while (*rel == '/')
		rel++;
	if (asprintf(&out, "%s/%s", c->root, rel) < 0)
		return NULL;
	size_t n = strlen(out);
	if (n > 1 && out[n - 1] == '/')
		out[n - 1] = '\0';
	return out;
}

static int handle_id(int dfd, const char *name, int flags, uint64_t *ret)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 64];
	} u;
	int mount_id;
	u.fh.handle_bytes = 64;
	if (name_to_handle_at(dfd, name, &u.fh, &mount_id, flags) < 0)
		return -errno;
	/* kernfs handles (FILEID_KERNFS) hold the 64-bit node id. */
	if (u.fh.handle_bytes != sizeof(uint64_t))
		return -EINVAL;
	memcpy(ret, u.fh.f_handle, sizeof(*ret));
	return 0;
}

struct walk {
	struct cgroupfs *c;
	char rel[PATH_MAX];
	size_t count;
	int err;
};

static void walk_dir(struct walk *w, int dfd, size_t rel_len, int depth)
{
	if (depth > CGROUPFS_MAX_DEPTH || w->err)
		return;
	int fd = dup(dfd);
	if (fd < 0)
		return;
	/* fdopendir needs a readable fd, not O_PATH. */
	int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(fd);
	if (rfd < 0)
		return;
	DIR *d = fdopendir(rfd);
	if (!d) {
		close(rfd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d)) && !w->err) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		size_t nl = strlen(de->d_name);
		if (rel_len + 1 + nl + 1 > sizeof(w->rel))
			continue;
		uint64_t id = 0;
		if (handle_id(dirfd(d), de->d_name, 0, &id) < 0)
			continue;
		w->rel[rel_len] = '/';
		memcpy(w->rel + rel_len + 1, de->d_name, nl + 1);
		char *p = join_path(w->c, w->rel);
		if (!p) {
			w->err = -ENOMEM;
			break;
		}
		int r = ids_put(w->c, id, p);
		if (r == -ENOSPC) {
			w->err = r;
			break;
		}
		if (r < 0) {
			w->err = r;
			break;
		}
		w->count++;
		int sub = openat(dirfd(d), de->d_name,
				 O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (sub >= 0) {
			walk_dir(w, sub, rel_len + 1 + nl, depth + 1);
			close(sub);
		}
		w->rel[rel_len] = '\0';
	}
	closedir(d);
}

int cgroupfs_rescan(struct cgroupfs *c)
{
	struct walk *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->c = c;
	ids_clear(c);
	uint64_t root_id = 0;
	if (handle_id(c->mount_fd, "", AT_EMPTY_PATH, &root_id) == 0) {
		char *p = join_path(c, "");
		if (!p || ids_put(c, root_id, p) < 0)
			w->err = -ENOMEM;
	}
	walk_dir(w, c->mount_fd, 0, 0);
	c->walked = true;
	/* A full cache still answers for what it holds. */
	int r = w->err && w->err != -ENOSPC ? w->err : (int)w->count;
	free(w);
	return r;
}

/* Fast path: the handle opens the directory itself, and /proc/self/fd
 * names it. Needs CAP_DAC_READ_SEARCH. */
static int lookup_by_handle(struct cgroupfs *c, uint64_t id, char **ret)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + sizeof(uint64_t)];
	} u;
	u.fh.handle_bytes = sizeof(uint64_t);
	u.fh.handle_type = 0xfe; /* FILEID_KERNFS */
	memcpy(u.fh.f_handle, &id, sizeof(id));
	_cleanup_(closep) int fd =
		open_by_handle_at(c->mount_fd, &u.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	size_t ml = strlen(c->mount);
	if (strncmp(target, c->mount, ml) != 0 ||
	    (target[ml] != '/' && target[ml] != '\0'))
		return -ENOENT;
	char *p = join_path(c, target + ml);
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

int cgroupfs_lookup(struct cgroupfs *c, uint64_t id, int64_t now_ms,
		    const char **ret_path)
{
	if (!id)
		return -ENOENT;
	uint64_t *v = u64map_get(&c->ids, id);
	if (v) {
		*ret_path = (const char *)(uintptr_t)*v;
		return 0;
	}
	if (!c->no_handle_open) {
		char *p = NULL;
		int r = lookup_by_handle(c, id, &p);
		if (r == -EPERM || r == -EOPNOTSUPP || r == -ENOSYS)
			c->no_handle_open = true;
		if (r == 0) {
			if (c->ids.count >= c->ids.max_entries)
				ids_clear(c); /* bounded; a walk refills it */
			if (ids_put(c, id, p) < 0)
				return -ENOENT;
			v = u64map_get(&c->ids, id);
			*ret_path = (const char *)(uintptr_t)*v;
			return 0;
		}
	}
	if (c->walked && now_ms - c->last_walk_ms < c->min_walk_ms)
		return -ENOENT;
	c->last_walk_ms = now_ms;
	if (cgroupfs_rescan(c) < 0)
		return -ENOENT;
	v = u64map_get(&c->ids, id);
	if (!v)
		return -ENOENT;
	*ret_path = (const char *)(uintptr_t)*v;
	return 0;
}

void cgroupfs_set_min_walk_ms(struct cgroupfs *c, int64_t ms)
{
	c->min_walk_ms = ms;
}

const char *cgroupfs_mount(const struct cgroupfs *c)
{
	return c->mount;
}

void cgroupfs_free(struct cgroupfs *c)
{
	if (!c)
		return;
	ids_clear(c);
	u64map_free(&c->ids);
	if (c->mount_fd >= 0)
		close(c->mount_fd);
	free(c);
}

static bool is_cgroup2(const char *path)
{
	struct statfs sf;
	return statfs(path, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

static int find_mount(const char *host_proc, const char *cgroup_root,
		      char *mount, char *root)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/self/mountinfo", host_proc);
	_cleanup_(freep) char *buf = NULL;
	size_t len;
	/* A mountinfo past the bound (or unreadable) is not parsed half:
	 * the cgroup root's own type decides below. */
	int r = file_read_alloc(path, MOUNTINFO_MAX, &buf, &len);
	if (r == -ENOMEM)
		return r;
	if (r == 0 && cgroupfs_parse_mountinfo(buf, len, cgroup_root, mount,
					       PATH_MAX, root, PATH_MAX) == 0)
		return 0;
	strcpy(root, "/");
	if (is_cgroup2(cgroup_root)) {
		snprintf(mount, PATH_MAX, "%s", cgroup_root);
		return 0;
	}
	snprintf(mount, PATH_MAX, "%s/unified", cgroup_root);
	return is_cgroup2(mount) ? 0 : -ENOENT;
}

int cgroupfs_open(const char *host_proc, const char *cgroup_root,
		  size_t max_entries, struct cgroupfs **ret)
{
	struct cgroupfs *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->mount_fd = -1;
	c->min_walk_ms = 2000;
	int r = u64map_init(&c->ids, max_entries ? max_entries :
						   CGROUPFS_DEFAULT_MAX);
	if (r < 0) {
		free(c);
		return r;
	}
	r = find_mount(host_proc, cgroup_root, c->mount, c->root);
	if (r < 0) {
		cgroupfs_free(c);
		return r;
	}
	if (strcmp(c->root, "/") == 0)
		c->root[0] = '\0';
	c->mount_fd = open(c->mount, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->mount_fd < 0) {
		r = -errno;
		cgroupfs_free(c);
		return r;
	}
	*ret = c;
	return 0;
}
