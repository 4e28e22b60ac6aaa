/* rd_threads: a deterministic multi-threaded workload for the perf.data reader and session tests.
 *
 *   rd_threads [ITERATIONS [THREADS]]     default 2000 iterations per thread, 3 threads
 *
 * main() starts THREADS workers (named "rd_worker<N>" with prctl, so each thread has its own COMM record)
 * and joins them; each worker calls worker_loop -> compute -> rd_leaf ITERATIONS times, and the odd
 * iterations go through an extra frame (compute_odd) so that two distinct call chains reach the leaf.
 * Probe rd_leaf: every call is one sample, with a frame-pointer call chain leaf -> ... -> start_thread.
 * Built with -fno-omit-frame-pointer; rd_leaf and compute* are noinline so the chains are stable.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

static volatile unsigned long sink;

__attribute__((noinline)) unsigned long rd_leaf(unsigned long x)
{
	sink += x;
	return sink;
}

__attribute__((noinline)) static unsigned long compute_odd(unsigned long x)
{
	return rd_leaf(x * 3) + 1;
}

__attribute__((noinline)) static unsigned long compute(unsigned long x)
{
	if (x & 1)
		return compute_odd(x);
	return rd_leaf(x);
}

struct job {
	int index;
	long iterations;
};

static void *worker_loop(void *arg)
{
	struct job *job = arg;
	char name[16];

	snprintf(name, sizeof(name), "rd_worker%d", job->index);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	for (long i = 0; i < job->iterations; i++)
		compute((unsigned long)i);
	return NULL;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 2000;
	int nthreads = argc > 2 ? atoi(argv[2]) : 3;
	pthread_t tids[64];
	struct job jobs[64];

	if (nthreads < 1 || nthreads > 64)
		return 2;
	/* One call from the main thread too, before any worker exists. */
	compute(0);
	for (int i = 0; i < nthreads; i++) {
		jobs[i] = (struct job){ .index = i, .iterations = iterations };
		/* Start them one after the other: samples of different threads then interleave only by time. */
		if (pthread_create(&tids[i], NULL, worker_loop, &jobs[i]) != 0)
			return 1;
		pthread_join(tids[i], NULL);
	}
	printf("%lu\n", sink);
	return 0;
}
