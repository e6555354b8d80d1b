/* Ctrl-C and SIGTERM: they raise one stop flag that waits, requests and key generation
 * watch, so a command ends cleanly (exit 130) instead of dying half-way. */
#include <signal.h>
#include <string.h>

#include "cli.h"

/* The one mutable global: a signal handler can reach nothing else. The release lock
 * raises it too when the lock is lost, so waits stop the same way. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

volatile sig_atomic_t *tm_cli_stop_flag(void)
{
	return &interrupted;
}

void tm_cli_catch_signals(struct tm_signals *s)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* nested in tm_cli_main's catch: a signal that came already must not be lost */
	if (sigaction(SIGINT, NULL, &s->old_int) < 0 || s->old_int.sa_handler != on_signal)
		interrupted = 0;
	sigaction(SIGINT, &sa, &s->old_int);
	sigaction(SIGTERM, &sa, &s->old_term);
}

void tm_cli_restore_signals(const struct tm_signals *s)
{
	sigaction(SIGINT, &s->old_int, NULL);
	sigaction(SIGTERM, &s->old_term, NULL);
}

