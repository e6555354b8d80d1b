/* Process entry point: everything else lives in tm_cli_main so tests can drive it. */
#include <stdio.h>

#include "tarmac/cli.h"

int main(int argc, char **argv)
{
	return tm_cli_main(argc, argv, stdout, stderr);
}
