// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the cgroup path parsers (container and pod identity
 * from a cgroup path, and /proc/<pid>/cgroup content): ids come out
 * NUL-terminated within their buffers. Seeds: the files of tests/fixtures/cgroup.
 * The agent hands cgroup_parse_path() NUL-terminated paths shorter than
 * PATH_MAX (procmap keeps at most 1023 bytes of /proc/<pid>/cgroup, the
 * cgroup tree's paths are shorter than PATH_MAX): scripts/fuzz.sh fuzzes
 * this target with -max_len=4096.
 */
#include "fuzz.h"
#include "k8s/cgroup.h"

static void check(const struct cgroup_identity *id)
{
	FUZZ_ASSERT(memchr(id->container_id, '\0', sizeof(id->container_id)));
	FUZZ_ASSERT(memchr(id->pod_uid, '\0', sizeof(id->pod_uid)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	if (!s)
		return 0;
	struct cgroup_identity id;
	if (cgroup_parse_path(s, strlen(s), &id) >= 0)
		check(&id);
	if (cgroup_parse_proc(s, size, &id) >= 0)
		check(&id);
	free(s);
	return 0;
}
