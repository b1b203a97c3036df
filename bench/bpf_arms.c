// SPDX-License-Identifier: MIT
/*
 * bpf_arms: attaches some programs of a BPF object and waits for SIGTERM,
 * so bench/streaming_rate.sh can measure what each hook of the streaming
 * agent costs the traffic on its own, without the agent's user space.
 *
 *   bpf_arms OBJ CGROUP PROG[,PROG...] [agg]
 *
 * OBJ: build/rel/gen/shawk.bpf.o (the agent's programs) or the bench's
 * empty.bpf.o (the same hooks, programs that return at once). Programs not
 * named are not loaded. Cgroup programs attach to CGROUP (the agent uses
 * the cgroup2 root), the others where their section says. "agg" installs
 * an aggregate map in agg_outer as the agent does at each scan, so
 * established TCP connections are counted in the kernel instead of going
 * to the ring buffer (which nobody reads here: it would fill, and a full
 * ring buffer costs less than a read one).
 *
 * Prints "attached: NAMES" once everything is attached.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shawk_event.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; (p = strstr(p, name)) != NULL; p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static int install_agg(struct bpf_object *obj)
{
	struct bpf_map *outer = bpf_object__find_map_by_name(obj, "agg_outer");
	if (!outer)
		return -ENOENT;
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "arms_agg",
				sizeof(struct shawk_event), sizeof(__u64),
				SHAWK_AGG_MAX_ENTRIES, &o);
	if (fd < 0)
		return -errno;
	__u32 zero = 0;
	if (bpf_map_update_elem(bpf_map__fd(outer), &zero, &fd, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "agg"))) {
		fprintf(stderr, "usage: bpf_arms OBJ CGROUP PROG[,PROG...] [agg]\n");
		return 2;
	}
	const char *names = argv[3];
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "bpf_arms: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct bpf_program *p;
	int wanted = 0;
	bpf_object__for_each_program(p, obj) {
		bool on = listed(names, bpf_program__name(p));
		bpf_program__set_autoload(p, on);
		wanted += on;
	}
	if (!wanted) {
		fprintf(stderr, "bpf_arms: no program of %s is named in %s\n", argv[1], names);
		return 2;
	}
	int r = bpf_object__load(obj);
	if (r < 0) {
		fprintf(stderr, "bpf_arms: cannot load %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	int cg = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		fprintf(stderr, "bpf_arms: cannot open %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (argc == 5 && (r = install_agg(obj)) < 0) {
		fprintf(stderr, "bpf_arms: cannot install an aggregate map: %s\n", strerror(-r));
		return 1;
	}
	char on[512] = "";
	bpf_object__for_each_program(p, obj) {
		if (!bpf_program__autoload(p))
			continue;
		const char *sec = bpf_program__section_name(p);
		struct bpf_link *l = strncmp(sec, "cgroup/", 7) && strcmp(sec, "sockops")
					     ? bpf_program__attach(p)
					     : bpf_program__attach_cgroup(p, cg);
		if (!l) {
			fprintf(stderr, "bpf_arms: cannot attach %s: %s\n",
				bpf_program__name(p), strerror(errno));
			return 1;
		}
		size_t len = strlen(on);
		snprintf(on + len, sizeof(on) - len, "%s%s", len ? "," : "", bpf_program__name(p));
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("attached: %s\n", on);
	fflush(stdout);
	while (!stop)
		pause();
	bpf_object__close(obj);
	return 0;
}
