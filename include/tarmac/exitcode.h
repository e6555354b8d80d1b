/* The exit-code contract of the tarmac command, the one place it is defined.
 * Scripts and CI branch on these; RUNBOOK.md documents them. Never renumber. */
#ifndef TARMAC_EXITCODE_H
#define TARMAC_EXITCODE_H

enum tm_exit {
	TM_EXIT_OK = 0,          /* done; for diff: no changes */
	TM_EXIT_ERROR = 1,       /* failed; the message says why */
	TM_EXIT_USAGE = 2,       /* bad command line: unknown command or option, bad value */
	TM_EXIT_DIFF = 3,        /* diff found changes */
	TM_EXIT_TIMEOUT = 4,     /* a health wait ran out of time */
	TM_EXIT_UNREACHABLE = 5, /* the cluster could not be reached or did not answer in time,
				  * or refused our credentials */
	TM_EXIT_LOCKED = 6,      /* the release is locked by another run (retry, or --wait-for-lock) */
	TM_EXIT_INTERRUPTED = 130, /* stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells do) */
};

/* Maps a module's TM_E* code to the exit code a script sees. */
int tm_exit_for(int code);
/* "ok", "error", "usage", ...: for -o json and docs. */
const char *tm_exit_name(int exit_code);

#endif
