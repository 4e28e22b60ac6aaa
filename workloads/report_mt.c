/* report_mt: a multi-threaded workload for the `pyperf report` goldens.
 *
 * Three named worker threads and the main thread reach rpt_leaf() through different call paths a fixed
 * number of times, so every percentage in the report is the same from run to run. Probed by
 * tests/golden/report/make_goldens.sh (rpt_leaf, rpt_leaf%return, rpt_mid).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int sink;

__attribute__((noinline)) int rpt_leaf(int x)
{
	sink += x;
	return x * 3 + 1;
}

__attribute__((noinline)) int rpt_mid(int x)
{
	return rpt_leaf(x) + 1;
}

__attribute__((noinline)) int path_alpha(int x)
{
	return rpt_mid(x) + rpt_leaf(x + 1);
}

__attribute__((noinline)) int path_beta(int x)
{
	return path_alpha(x) * 2 + rpt_leaf(x);
}

/* Inlined into path_gamma: with debuginfo, perf shows it as "rpt_step (inlined)" in call chains. */
static inline __attribute__((always_inline)) int rpt_step(int x)
{
	return rpt_mid(x ^ 1) - 1;
}

__attribute__((noinline)) int path_gamma(int x)
{
	if (x % 4 == 0)
		return path_beta(x);
	return rpt_step(x) + 2;
}

struct job {
	const char *name;
	int loops;
	int (*fn)(int);
};

static void *worker(void *arg)
{
	const struct job *job = arg;
	pthread_setname_np(pthread_self(), job->name);
	for (int i = 0; i < job->loops; i++)
		sink += job->fn(i);
	return NULL;
}

int main(int argc, char **argv)
{
	int scale = argc > 1 ? atoi(argv[1]) : 1;
	struct job jobs[] = {
		{"rpt-alpha", 60 * scale, path_alpha},
		{"rpt-beta", 25 * scale, path_beta},
		{"rpt-gamma", 40 * scale, path_gamma},
	};
	pthread_t tids[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&tids[i], NULL, worker, &jobs[i]);
	for (int i = 0; i < 3; i++)
		pthread_join(tids[i], NULL);
	for (int i = 0; i < 10 * scale; i++)
		sink += rpt_leaf(i);
	printf("%d\n", sink != 0);
	return 0;
}
