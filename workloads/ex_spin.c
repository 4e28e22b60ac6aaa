/* ex_spin: a CPU-bound workload for the export goldens and bench (tests/golden/export, bench/export).
 *
 * Sampled by cpu-clock, not probed: named threads (one name with a space, which stackcollapse writes with
 * an underscore) spin for a given time through plain calls, a recursion, inline functions (DWARF-unwound
 * chains show them as inline frames) and qsort's comparator (libc frames between ours).
 * Usage: ex_spin [MILLISECONDS]   (default 400)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
#define INLINE static inline __attribute__((always_inline))

static volatile unsigned long ex_sink;
static long deadline_ns;

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

NOINLINE unsigned long ex_hash(const char *s, int n)
{
	unsigned long h = 5381;
	for (int i = 0; i < n; i++)
		h = h * 33 + (unsigned char)s[i];
	return h;
}

INLINE unsigned long ex_mix(unsigned long x)
{
	x ^= x >> 13;
	x *= 0x9e3779b97f4a7c15UL;
	return x ^ (x >> 29);
}

INLINE unsigned long ex_round(const char *buf, int n)
{
	return ex_mix(ex_hash(buf, n));
}

NOINLINE unsigned long ex_digest(int rounds)
{
	char buf[256];
	unsigned long acc = 0;
	for (int i = 0; i < rounds; i++) {
		memset(buf, 'a' + i % 26, sizeof buf);
		acc += ex_round(buf, sizeof buf);
	}
	return acc;
}

NOINLINE unsigned long ex_recurse(int depth);
/* called through a volatile pointer: a real recursion, which gcc cannot turn into a loop */
static unsigned long (*volatile ex_recurse_ptr)(int) = ex_recurse;

NOINLINE unsigned long ex_recurse(int depth)
{
	if (depth == 0)
		return ex_digest(8);
	return ex_recurse_ptr(depth - 1) * 3 + (unsigned long)depth;
}

static int ex_cmp(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

NOINLINE void ex_sort(long *v, int n)
{
	for (int i = 0; i < n; i++)
		v[i] = (long)ex_mix((unsigned long)i * 7919);
	qsort(v, n, sizeof *v, ex_cmp);
}

struct job {
	const char *name;
	void (*step)(void);
};

static void step_hash(void) { ex_sink += ex_digest(16); }
static void step_recurse(void) { ex_sink += ex_recurse(6); }
static void step_sort(void)
{
	static __thread long v[512];
	ex_sort(v, 512);
	ex_sink += (unsigned long)v[7];
}

static void *worker(void *arg)
{
	const struct job *job = arg;
	pthread_setname_np(pthread_self(), job->name);
	while (now_ns() < deadline_ns)
		job->step();
	return NULL;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 400;
	struct job jobs[] = {{"ex-hash", step_hash}, {"ex sort", step_sort}};
	pthread_t tids[2];
	deadline_ns = now_ns() + ms * 1000000L;
	for (int i = 0; i < 2; i++)
		pthread_create(&tids[i], NULL, worker, &jobs[i]);
	while (now_ns() < deadline_ns)
		step_recurse();
	for (int i = 0; i < 2; i++)
		pthread_join(tids[i], NULL);
	printf("%d\n", ex_sink != 0);
	return 0;
}
