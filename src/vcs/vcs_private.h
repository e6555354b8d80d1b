/* Private to vcs/: one open repository cache and the libgit2 error helper. */
#ifndef TARMAC_VCS_PRIVATE_H
#define TARMAC_VCS_PRIVATE_H

#include <git2.h>
#include <stdarg.h>

#include "tarmac/vcs.h"

struct tm_vcs_repo {
	git_repository *repo;
	char path[4096];          /* the bare cache */
	int lock_fd;              /* its lock file, held (flock) while open */
	struct tm_vcs_opts o;     /* borrowed strings: the caller keeps them while open */
	struct tm_vcs_url url;
	char why[TM_ERR_TEXT];    /* tarmac's own reason for stopping a transfer */
	int why_code;
	int auth_tries;
	int64_t shown_ms;         /* last progress report */
};

/* Sets err to code with "<fmt>: <libgit2's last error>". Returns code. */
int tm_vcs_git_err(struct tm_err *err, int code, const char *fmt, ...) TM_PRINTF(3, 4);

#endif
