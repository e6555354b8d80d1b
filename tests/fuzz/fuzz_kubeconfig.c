/* libFuzzer target: kubeconfig files (written by anyone who could edit them). The
 * input goes through a private memfd so the real loading path runs, mode checks too. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tarmac/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tm_kube_source src = { 0 };
	struct tm_kube_config cfg;
	struct tm_err err;
	char path[64];
	int fd = memfd_create("kubeconfig", MFD_CLOEXEC);

	if (fd < 0 || fchmod(fd, 0600) < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	src.kubeconfig = path;
	tm_err_init(&err);
	tm_kube_config_init(&cfg);
	if (tm_kube_config_load(&cfg, &src, &err) == 0) {
		if (!cfg.server || !cfg.context)
			__builtin_trap(); /* success means a usable context */
		tm_kube_config_release(&cfg);
	} else if (err.depth == 0) {
		__builtin_trap();
	}
	close(fd);
	return 0;
}
