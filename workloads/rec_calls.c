/* rec_calls: calls rec_leaf() a KNOWN number of times, from several threads and child processes, so that
 * `pyperf record -e <probe on rec_leaf>` can be checked for an exact sample count with none lost.
 *
 *   rec_calls [SCALE [DELAY_MS]]      (SCALE defaults to 1; DELAY_MS: sleep first, for -p/-a attach tests)
 *
 * parent "rec_calls":  main -> rec_main_path -> rec_leaf                    10 * SCALE calls
 *                      3 threads: rec_thread -> rec_mid -> rec_leaf         3 * 100 * SCALE calls
 * 2 children (fork, prctl name "rec_child"), each 2 threads:
 *                      rec_thread -> rec_mid -> rec_leaf                    2 * 2 * 150 * SCALE calls
 * total: 910 * SCALE. The children run one after the other and threads are joined, so the call chains and the
 * per-comm counts are the same on every run (only addresses move with ASLR). Built with frame pointers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long sink;

__attribute__((noinline)) void rec_leaf(long n)
{
	sink += n;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void rec_mid(long n)
{
	rec_leaf(n);
	__asm__ volatile("" ::: "memory");
}

struct job { long calls; };

__attribute__((noinline)) static void *rec_thread(void *arg)
{
	const struct job *job = arg;
	for (long i = 0; i < job->calls; i++)
		rec_mid(i);
	__asm__ volatile("" ::: "memory");
	return NULL;
}

__attribute__((noinline)) static void rec_main_path(long calls)
{
	for (long i = 0; i < calls; i++)
		rec_leaf(i);
	__asm__ volatile("" ::: "memory");
}

static void run_threads(int nthreads, long calls)
{
	pthread_t tids[8];
	struct job job = { calls };
	/* One thread at a time: the order of samples, and so of everything derived from it, is fixed. */
	for (int i = 0; i < nthreads; i++) {
		if (pthread_create(&tids[i], NULL, rec_thread, &job) != 0) {
			perror("pthread_create");
			exit(2);
		}
		pthread_join(tids[i], NULL);
	}
}

int main(int argc, char **argv)
{
	long scale = argc > 1 ? atol(argv[1]) : 1;
	if (scale < 1) {
		fprintf(stderr, "usage: rec_calls [SCALE>=1]\n");
		return 2;
	}
	if (argc > 2) {
		long ms = atol(argv[2]);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	rec_main_path(10 * scale);
	run_threads(3, 100 * scale);
	for (int c = 0; c < 2; c++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 2;
		}
		if (pid == 0) {
			prctl(PR_SET_NAME, "rec_child", 0, 0, 0);
			run_threads(2, 150 * scale);
			_exit(0);
		}
		int status;
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return 3;
	}
	return 0;
}
