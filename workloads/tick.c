/* tick: the program of the SDT reference-counter patch series (seeds/004), with <sys/sdt.h>.
 *
 *   tick [ITERATIONS [USLEEP]]     default 100 iterations, no pause
 *
 * Markers (provider "tick"):
 *   tick:begin  no semaphore, two arguments: the iteration count and a constant (an `$IMM` SDT argument)
 *   tick:loop1  no semaphore, one argument: i
 *   tick:loop2  semaphore tick_loop2_semaphore, one argument: i          (tick_sem.c)
 *   tick:loop3  semaphore tick_loop3_semaphore, two arguments: i, costly (tick_sem.c)
 *
 * sys/sdt.h decides per translation unit whether its markers carry a semaphore (_SDT_HAS_SEMAPHORES), so
 * the markers with semaphores live in tick_sem.c, as the `dtrace -h`/`dtrace -G` pair would put them.
 * The checks `if (TICK_LOOP2_ENABLED())` stay here in the loop: the argument work is skipped unless a
 * tracer raised the semaphore (the kernel does it for uprobes with a ref_ctr_offset, Linux 4.20+).
 * Built at -O0 so arguments live in memory (`-4@-20(%rbp)`), as in the seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/sdt.h>

#include "tick_sem.h"

int main(int argc, char **argv)
{
	int iterations = argc > 1 ? atoi(argv[1]) : 100;
	int pause_us = argc > 2 ? atoi(argv[2]) : 0;

	DTRACE_PROBE2(tick, begin, iterations, 8);
	for (int i = 0; i < iterations; i++) {
		DTRACE_PROBE1(tick, loop1, i);
		if (TICK_LOOP2_ENABLED())
			tick_loop2(i);
		if (TICK_LOOP3_ENABLED())
			tick_loop3(i);
		printf("hi: %d\n", i);
		if (pause_us)
			usleep(pause_us);
	}
	return 0;
}
