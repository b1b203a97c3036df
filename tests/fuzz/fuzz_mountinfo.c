// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the mountinfo parser (finding the cgroup2 mount,
 * octal escapes decoded): results fit their buffers, small buffers are
 * refused rather than overrun. Seeds: the files of tests/fixtures/mountinfo.
 */
#include "fuzz.h"
#include "k8s/cgroupfs.h"

#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	if (!s)
		return 0;
	char mnt[4096], root[4096], small_m[8], small_r[8];
	if (cgroupfs_parse_mountinfo(s, size, "/sys/fs/cgroup", mnt,
				     sizeof(mnt), root, sizeof(root)) == 0)
		FUZZ_ASSERT(memchr(mnt, '\0', sizeof(mnt)) &&
			    memchr(root, '\0', sizeof(root)));
	cgroupfs_parse_mountinfo(s, size, NULL, mnt, sizeof(mnt), root,
				 sizeof(root));
	int r = cgroupfs_parse_mountinfo(s, size, NULL, small_m,
					 sizeof(small_m), small_r,
					 sizeof(small_r));
	if (r == 0)
		FUZZ_ASSERT(memchr(small_m, '\0', sizeof(small_m)) &&
			    memchr(small_r, '\0', sizeof(small_r)));
	free(s);
	return 0;
}
