/* ad_work: deterministic calls for pyperf argdist's tests (tests/test_argdist_live.py), whose expected counts
 * the tests compute from the same formulas.
 *
 *   ad_work N [writes]
 *                  for i in 0..N-1:
 *                    ad_call(i % 37, TAGS[i % 3])  returns 3 * (i % 37) - 50 after a pause of ~(i % 37) us
 *                    malloc(16 + i % 300), freed at once
 *                    write(/dev/null, buf, i % 500)
 *                    the SDT marker ad:step (semaphore ad_step_semaphore) with i and i % 7, when raised
 *                  with "writes", only the writes (bench/argdist)
 *
 * With $AD_TIMES naming a file, CLOCK_MONOTONIC in ns at the start and at the end of main go into it
 * ("START END\n", by pwrite: no write(2) to count) for bench/argdist.
 * -O1 with frame pointers; ad_call is noinline so its entry and return are probe-able.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <time.h>
#include <unistd.h>

unsigned short ad_step_semaphore __attribute__((section(".probes")));
static const char *TAGS[] = {"alpha", "beta", "gamma"};

static void pause_us(int us)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < us * 1000L);
}

__attribute__((noinline)) long ad_call(int n, const char *tag)
{
	pause_us(n);
	asm volatile("" : : "r"(tag) : "memory");
	return 3L * n - 50;
}

static long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(int argc, char **argv)
{
	long start = now_ns();
	int n = argc > 1 ? atoi(argv[1]) : 100;
	int writes_only = argc > 2 && !strcmp(argv[2], "writes");
	int fd = open("/dev/null", O_WRONLY);
	static char buf[512];
	volatile long sink = 0;

	for (int i = 0; i < n; i++) {
		if (writes_only) {
			if (write(fd, buf, i % 500) < 0)
				return 1;
			continue;
		}
		sink += ad_call(i % 37, TAGS[i % 3]);
		free(malloc(16 + i % 300));
		if (write(fd, buf, i % 500) < 0)
			return 1;
		if (ad_step_semaphore)
			DTRACE_PROBE2(ad, step, i, i % 7);
	}
	close(fd);
	if (getenv("AD_TIMES")) {
		char line[64];
		int out = open(getenv("AD_TIMES"), O_WRONLY | O_CREAT | O_TRUNC, 0644);

		snprintf(line, sizeof(line), "%ld %ld\n", start, now_ns());
		if (out < 0 || pwrite(out, line, strlen(line), 0) < 0)
			return 1;
		close(out);
	}
	return 0;
}
