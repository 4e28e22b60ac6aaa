/* rd_vdso: spends its time in the vdso (clock_gettime), for the session's [vdso] tests: a cpu-clock
 * recording of it has most samples in [vdso], which perf resolves only through the build-id cache.
 *
 *   rd_vdso [ITERATIONS]     default 3000000
 */
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 3000000;
	struct timespec ts;
	long sum = 0;

	for (long i = 0; i < iterations; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sum += ts.tv_nsec;
	}
	return sum == 42;
}
