/* cli: the tarmac command. The only module that prints or exits. */
#ifndef TARMAC_CLI_H
#define TARMAC_CLI_H

#include <stdio.h>

/* Runs one tarmac invocation with argv as given on the command line, printing
 * results to out and diagnostics to err; returns an exit code (exitcode.h).
 * Holds no state between calls, so tests may call it any number of times. */
int tm_cli_main(int argc, char **argv, FILE *out, FILE *err);

#endif
