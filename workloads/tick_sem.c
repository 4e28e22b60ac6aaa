/* tick's markers with semaphores: tick:loop2 (one argument) and tick:loop3 (two). See tick.c. */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#include "tick_sem.h"

unsigned short tick_loop2_semaphore __attribute__((section(".probes")));
unsigned short tick_loop3_semaphore __attribute__((section(".probes")));

/* Work worth skipping when nobody traces tick:loop3. */
static long costly(int i)
{
	long v = 0;
	for (int k = 0; k <= i; k++)
		v += (long)k * k;
	return v;
}

void tick_loop2(int i)
{
	DTRACE_PROBE1(tick, loop2, i);
}

void tick_loop3(int i)
{
	long value = costly(i);

	DTRACE_PROBE2(tick, loop3, i, value);
}
