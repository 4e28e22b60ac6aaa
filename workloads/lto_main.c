/* pyperf probe workload for LTO (tests/golden/probe, tests/test_probe*.py): built with -O2 -g -flto from two
 * files (lto_main.c, lto_util.c), so every function's body lives in the link-time unit "<artificial>" whose
 * subprograms point with DW_AT_abstract_origin into the units of these files (cross-unit references).
 * A static and a global function in each file, with arguments and locals; main calls everything ITER times
 * (argv[1], default 3). */
#include <stdio.h>
#include <stdlib.h>
#include "lto_util.h"

volatile long lto_counter;

__attribute__((noinline)) static int lto_step(int i, const char *why)
{
	int twice = i * 2;
	lto_counter += twice + why[0];
	return twice + 1;
}

__attribute__((noinline)) int lto_driver(int iters)
{
	long values[4] = {1, 2, 3, 4};
	struct lto_pair pair = {3, -4};
	long acc = 0;

	for (int i = 0; i < iters; i++) {
		acc += lto_step(i, "step");
		acc += lto_scale(i, 3);
		acc += lto_sum(values, 4);
		acc += lto_span(&pair);
	}
	return (int)acc;
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 3;

	printf("%d\n", lto_driver(iters));
	return 0;
}
