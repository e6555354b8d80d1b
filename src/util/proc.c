/* Process hardening for runs that hold secrets in memory: no core file (a dump of
 * 'apply' would hold every unsealed Secret) and no ptrace attach by the user's other
 * processes. */
#include <errno.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "tarmac/util.h"

int tm_proc_no_core_dumps(struct tm_err *err)
{
	struct rlimit none = { 0, 0 };

	/* lowering a limit is always allowed; the hard limit too, so nothing below us
	 * (an exec plugin) can raise it again */
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		return tm_err_errno(err, errno, "set the core file size limit to 0");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return tm_err_errno(err, errno, "turn core dumps off (PR_SET_DUMPABLE)");
	return 0;
}
