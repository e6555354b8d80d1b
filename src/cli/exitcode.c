/* The TM_E* -> exit code mapping behind include/tarmac/exitcode.h. */
#include "tarmac/exitcode.h"
#include "tarmac/util.h"

int tm_exit_for(int code)
{
	switch (code) {
	case TM_OK:
		return TM_EXIT_OK;
	case TM_ETIMEOUT:
		return TM_EXIT_TIMEOUT;
	case TM_EUNAVAILABLE:
	case TM_EAUTH:
		return TM_EXIT_UNREACHABLE;
	case TM_EINTERRUPTED:
		return TM_EXIT_INTERRUPTED;
	case TM_ELOCKED:
		return TM_EXIT_LOCKED;
	default:
		return TM_EXIT_ERROR;
	}
}

static const char *const exit_names[] = {
	[TM_EXIT_OK] = "ok",
	[TM_EXIT_ERROR] = "error",
	[TM_EXIT_USAGE] = "usage",
	[TM_EXIT_DIFF] = "changes",
	[TM_EXIT_TIMEOUT] = "timeout",
	[TM_EXIT_UNREACHABLE] = "unreachable",
	[TM_EXIT_LOCKED] = "locked",
	[TM_EXIT_INTERRUPTED] = "interrupted",
};

const char *tm_exit_name(int exit_code)
{
	if (exit_code < 0 || (unsigned)exit_code >= TM_ARRAY_LEN(exit_names) || !exit_names[exit_code])
		return "unknown";
	return exit_names[exit_code];
}
