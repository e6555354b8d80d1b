/* bench/spawn: runs a command N times and reports each run's wall time and peak RSS
 * (wait4's ru_maxrss) as JSON. A small C parent keeps the child's RSS honest: a child
 * forked from a large interpreter would count the parent's pages until exec. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int runs;

	if (argc < 3 || (runs = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: spawn RUNS CMD [ARGS...]\n");
		return 2;
	}
	printf("[");
	for (int i = 0; i < runs; i++) {
		struct rusage ru;
		int status;
		double t0 = now_ms();
		pid_t pid = fork();
		if (pid < 0)
			return perror("fork"), 1;
		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);
			dup2(fd, 1);
			dup2(fd, 2);
			execv(argv[2], argv + 2);
			_exit(127);
		}
		if (wait4(pid, &status, 0, &ru) < 0)
			return perror("wait4"), 1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "spawn: %s failed (status %d)\n", argv[2], status);
			return 1;
		}
		printf("%s[%.4f,%ld]", i ? "," : "", now_ms() - t0, ru.ru_maxrss);
	}
	printf("]\n");
	return 0;
}
