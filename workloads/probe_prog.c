/* pyperf probe workload (tests/golden/probe, tests/test_probe*.py): functions with integer, pointer and
 * string arguments, a static function, one inlined at -O2 into two callers, a global object, and a main
 * that calls everything ITER times (argv[1], default 3) so a probe on each of them fires a known number of
 * times. Built at -O0 and -O2 with debug info, and at -O2 without (workloads/Makefile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile long probe_counter;
const char probe_banner[] = "probe_prog";

static inline int clamp_add(int a, int b)
{
	int s = a + b;
	if (s > 1000)
		s = 1000;
	return s;
}

__attribute__((noinline)) int leaf(int n)
{
	probe_counter += n;
	return n * 2;
}

__attribute__((noinline)) int mid_a(int n)
{
	int r = leaf(n + 1);
	return clamp_add(r, n);
}

__attribute__((noinline)) int mid_b(int n, const char *tag)
{
	int r = leaf(n) + (int)strlen(tag);
	return clamp_add(r, 3);
}

__attribute__((noinline)) static long sum_array(const long *values, int count)
{
	long total = 0;
	for (int i = 0; i < count; i++)
		total += values[i];
	return total;
}

__attribute__((noinline)) size_t take_string(const char *text, size_t len)
{
	probe_counter += (long)len;
	return strnlen(text, len);
}

struct point { int x, y; };

__attribute__((noinline)) int manhattan(const struct point *p)
{
	return abs(p->x) + abs(p->y);
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 3;
	long values[4] = {1, 2, 3, 4};
	struct point pt = {3, -4};
	long acc = 0;

	for (int i = 0; i < iters; i++) {
		acc += mid_a(i);
		acc += mid_b(i, "tag");
		acc += sum_array(values, 4);
		acc += (long)take_string(probe_banner, sizeof(probe_banner));
		acc += manhattan(&pt);
	}
	printf("%ld\n", acc);
	return 0;
}
