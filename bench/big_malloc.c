/* big_malloc: the workload of bench/shapes.py's "big" recording (a uprobe on libc's malloc, -g).
 *
 * Two named threads ("big-a", "big-b") each call malloc COUNT/2 times (then free the block), every call at
 * the bottom of a chain of 2 to 6 frames picked by a pseudo-random walk through four functions, each calling
 * the next through one call site: 4^2 + ... + 4^6 = 5456 distinct caller chains, the same in both threads.
 * Built with frame pointers and no sibling calls (perf's -g chains walk them), by bench/shapes.py.
 * Usage: big_malloc [COUNT]   (default 1000000)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long big_sink;
typedef void step_fn(unsigned long *state, int depth);
static step_fn big_walk0, big_walk1, big_walk2, big_walk3;
static step_fn *const steps[4] = {big_walk0, big_walk1, big_walk2, big_walk3};

static unsigned long next(unsigned long *state)
{
	*state = *state * 6364136223846793005UL + 1442695040888963407UL;
	return *state >> 33;
}

NOINLINE static void big_alloc(unsigned long *state)
{
	size_t size = 16 + (next(state) & 1023);
	char *p = malloc(size);
	p[0] = (char)size;
	big_sink += (unsigned char)p[0];
	free(p);
}

/* One call site per function: the return address in each frame names the caller, not the callee. */
#define WALK(name)                                                          \
	NOINLINE static void name(unsigned long *state, int depth)          \
	{                                                                   \
		if (depth == 0)                                             \
			big_alloc(state);                                   \
		else                                                        \
			steps[next(state) & 3](state, depth - 1);           \
		big_sink++;                                                 \
	}
WALK(big_walk0)
WALK(big_walk1)
WALK(big_walk2)
WALK(big_walk3)

static long count = 1000000;

static void *big_thread(void *arg)
{
	unsigned long state = (unsigned long)arg;
	pthread_setname_np(pthread_self(), arg == (void *)1 ? "big-a" : "big-b");
	for (long i = 0; i < count / 2; i++) {
		int depth = 1 + (int)(next(&state) % 5); /* 1..5 more frames below the first */
		steps[next(&state) & 3](&state, depth);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;
	if (argc > 1)
		count = atol(argv[1]);
	pthread_create(&a, NULL, big_thread, (void *)1);
	pthread_create(&b, NULL, big_thread, (void *)2);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
