/* pt_work: deterministic calls for the ptrace backend (pyperf_probe/ptrace, tests/test_ptrace*.py,
 * bench/ptrace). Every mode calls its probed functions a known number of times:
 *
 *   pt_work threads N CALLS   N threads released together, each CALLS x pt_thread -> pt_mid -> pt_leaf
 *   pt_work rec DEPTH REPS    REPS x pt_rec(DEPTH): DEPTH+1 nested pt_rec frames, then pt_leaf (return probes)
 *   pt_work forkexec N        10 x pt_leaf; N children by fork, each execs "pt_work child" (20 x pt_leaf);
 *                             one child by vfork + exec of the same; one fork child that does not exec
 *                             (5 x pt_leaf); total 10 + 20 * (N + 1) + 5
 *   pt_work dlopen LIB CALLS  dlopen(LIB), CALLS x pt_plugin_fn through dlsym, dlclose, dlopen again, CALLS more
 *   pt_work args              pt_named("alpha", 1), pt_named("beta", -2), pt_named(NULL, 3)
 *   pt_work sdt N             N x the SDT marker pt_work:tick (with a semaphore; its argument is computed
 *                             only while the semaphore is non-zero: prints how often)
 *   pt_work spin MS           prints its pid, then pt_mid -> pt_leaf (and the marker, while its semaphore is set) every
 *                             millisecond for MS milliseconds, then "done traced=N" (-p and clean-up tests)
 *   pt_work mtexec            5 x pt_leaf in each of 2 threads, then the second thread execs "pt_work child"
 *                             while the first blocks (a multithreaded exec: 30 x pt_leaf in all)
 *   pt_work signals N         N x (pt_leaf, then SIGUSR1 to itself, whose handler calls pt_leaf), then stops
 *                             itself (SIGSTOP) until a child sends SIGCONT: 2N x pt_leaf, signals delivered
 *   pt_work loop N            N x pt_leaf in one thread, nothing else (bench)
 *   pt_work child             20 x pt_leaf (what forkexec execs)
 * Frame pointers (Makefile CFLAGS_FP), so FP call chains are complete.
 */
#define _GNU_SOURCE
#define _SDT_HAS_SEMAPHORES 1
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

unsigned short pt_work_tick_semaphore __attribute__((section(".probes")));
static volatile long sink;

__attribute__((noinline)) long pt_leaf(long n)
{
	sink += n;
	__asm__ volatile("" ::: "memory");
	return n * 2;
}

__attribute__((noinline)) long pt_mid(long n)
{
	return pt_leaf(n) + 1;
}

__attribute__((noinline)) long pt_rec(long depth)
{
	if (depth <= 0)
		return pt_leaf(0);
	return pt_rec(depth - 1) + 1;
}

__attribute__((noinline)) int pt_named(const char *name, int n)
{
	sink += (name ? strlen(name) : 0) + n;
	return n * 10;
}

struct job { long calls; pthread_barrier_t *go; };

__attribute__((noinline)) static void *pt_thread(void *arg)
{
	struct job *job = arg;
	pthread_barrier_wait(job->go);
	for (long i = 0; i < job->calls; i++)
		sink += pt_mid(i);
	return NULL;
}

static int run_threads(int n, long calls)
{
	pthread_t t[64];
	pthread_barrier_t go;
	struct job job = { calls, &go };
	if (n < 1 || n > 64)
		return 2;
	pthread_barrier_init(&go, NULL, n);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, pt_thread, &job);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}

static int run_child(void)
{
	for (int i = 0; i < 20; i++)
		pt_leaf(i);
	return 0;
}

static int wait_ok(pid_t pid)
{
	int status;
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int run_forkexec(int n)
{
	char *child_argv[] = { "pt_work", "child", NULL };
	for (int i = 0; i < 10; i++)
		pt_leaf(i);
	for (int c = 0; c < n; c++) {
		pid_t pid = fork();
		if (pid == 0) {
			execv("/proc/self/exe", child_argv);
			_exit(127);
		}
		if (pid < 0 || !wait_ok(pid))
			return 3;
	}
	pid_t pid = vfork();
	if (pid == 0) {
		execv("/proc/self/exe", child_argv);
		_exit(127);
	}
	if (pid < 0 || !wait_ok(pid))
		return 4;
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 5; i++)
			pt_leaf(i);
		_exit(0);
	}
	if (pid < 0 || !wait_ok(pid))
		return 5;
	return 0;
}

static int run_dlopen(const char *lib, long calls)
{
	for (int round = 0; round < 2; round++) {
		void *h = dlopen(lib, RTLD_NOW);
		if (!h) {
			fprintf(stderr, "%s\n", dlerror());
			return 6;
		}
		long (*fn)(long) = (long (*)(long))dlsym(h, "pt_plugin_fn");
		for (long i = 0; i < calls; i++)
			sink += fn(i);
		dlclose(h);
	}
	return 0;
}

static int run_sdt(int n)
{
	int traced = 0;
	for (int i = 0; i < n; i++) {
		if (pt_work_tick_semaphore) {
			traced++;
			DTRACE_PROBE1(pt_work, tick, i);
		}
	}
	printf("traced %d\n", traced);
	return 0;
}

static void *exec_thread(void *arg)
{
	char *child_argv[] = { "pt_work", "child", NULL };
	(void)arg;
	for (int i = 0; i < 5; i++)
		pt_leaf(i);
	execv("/proc/self/exe", child_argv);
	return NULL;
}

static int run_mtexec(void)
{
	pthread_t t;
	for (int i = 0; i < 5; i++)
		pt_leaf(i);
	pthread_create(&t, NULL, exec_thread, NULL);
	pthread_join(t, NULL);  /* never returns: the exec ends this image */
	return 7;
}

static void on_usr1(int sig)
{
	pt_leaf(sig);
}

static int run_signals(int n)
{
	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < n; i++) {
		pt_leaf(i);
		kill(getpid(), SIGUSR1);
	}
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
		kill(parent, SIGCONT);
		_exit(0);
	}
	raise(SIGSTOP);
	return wait_ok(pid) ? 0 : 8;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "threads";
	long a = argc > 2 ? atol(argv[2]) : 1, b = argc > 3 ? atol(argv[3]) : 1000;
	int rc = 0;
	if (!strcmp(mode, "threads"))
		rc = run_threads((int)a, b);
	else if (!strcmp(mode, "rec"))
		for (long r = 0; r < (argc > 3 ? b : 1); r++)
			pt_rec(a);
	else if (!strcmp(mode, "forkexec"))
		rc = run_forkexec((int)a);
	else if (!strcmp(mode, "dlopen"))
		rc = run_dlopen(argv[2], argc > 3 ? b : 50);
	else if (!strcmp(mode, "args")) {
		pt_named("alpha", 1);
		pt_named("beta", -2);
		pt_named(NULL, 3);
	} else if (!strcmp(mode, "sdt"))
		rc = run_sdt((int)a);
	else if (!strcmp(mode, "spin")) {
		int traced = 0;
		printf("%d\n", getpid());
		fflush(stdout);
		for (long i = 0; i < a; i++) {
			pt_mid(i);
			if (pt_work_tick_semaphore) {
				traced++;
				DTRACE_PROBE1(pt_work, tick, i);
			}
			sleep_ms(1);
		}
		printf("done traced=%d\n", traced);
	} else if (!strcmp(mode, "loop"))
		for (long i = 0; i < a; i++)
			pt_leaf(i);
	else if (!strcmp(mode, "mtexec"))
		rc = run_mtexec();
	else if (!strcmp(mode, "signals"))
		rc = run_signals((int)a);
	else if (!strcmp(mode, "child"))
		rc = run_child();
	else {
		fprintf(stderr, "pt_work: unknown mode %s\n", mode);
		return 2;
	}
	return rc;
}
