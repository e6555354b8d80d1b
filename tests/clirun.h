/* Running the tarmac command inside a test: argv in, exit code and both streams out. */
#ifndef TARMAC_TEST_CLIRUN_H
#define TARMAC_TEST_CLIRUN_H

#include <stdarg.h>

#include "testutil.h"
#include "../src/cli/cli.h"
#include "tarmac/exitcode.h"

struct run {
	int rc;
	struct tu_capture out, err;
};

/* Runs tarmac with a NULL-terminated argument list (argv[0] added). */
static inline void run_tarmac(struct run *r, const char *first, ...)
{
	char *argv[40] = { "tarmac" };
	int argc = 1;
	va_list ap;

	va_start(ap, first);
	for (const char *a = first; a && argc < 39; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	tu_capture_start(&r->out);
	tu_capture_start(&r->err);
	r->rc = tm_cli_main(argc, argv, r->out.f, r->err.f);
}

static inline const char *out_of(struct run *r)
{
	return tu_capture_text(&r->out);
}

static inline const char *err_of(struct run *r)
{
	return tu_capture_text(&r->err);
}

static inline void done(struct run *r)
{
	tu_capture_end(&r->out);
	tu_capture_end(&r->err);
}

#endif
