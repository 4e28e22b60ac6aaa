/* the second file of the LTO workload (see lto_main.c): global functions called across files, one static */
#include <stdlib.h>
#include "lto_util.h"

extern volatile long lto_counter;

__attribute__((noinline)) static long lto_clip(long total, long limit)
{
	long over = total - limit;
	lto_counter += over;
	return over > 0 ? limit : total;
}

__attribute__((noinline)) int lto_scale(int value, int factor)
{
	int scaled = value * factor;
	lto_counter += scaled;
	return scaled ^ factor;
}

__attribute__((noinline)) long lto_sum(const long *values, int count)
{
	long total = 0;
	for (int i = 0; i < count; i++)
		total += values[i];
	return lto_clip(total, 1000);
}

__attribute__((noinline)) int lto_span(const struct lto_pair *pair)
{
	return abs(pair->hi - pair->lo);
}
