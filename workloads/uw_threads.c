/* Unwinding workload (tests/golden/unwind): no frame pointers (-O2 -fomit-frame-pointer), so only CFI can
 * unwind it. Each thread reaches the probed uw_leaf through: a plain call chain, a recursion, a frame with a
 * variable-length array (CFA on rbp), a stack-realigning frame (CFA expression through rbp), qsort's
 * comparator (libc frames between ours), and a signal handler (the __restore_rt signal frame). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

volatile long uw_sink;

NOINLINE long uw_leaf(long x) { uw_sink += x; return uw_sink; }

NOINLINE long uw_vla(int n) {
    long buf[n];                      /* VLA: gcc keeps rbp as the CFA base */
    for (int i = 0; i < n; i++) buf[i] = i;
    return uw_leaf(buf[n - 1]) + buf[0];
}

NOINLINE long uw_aligned(long x) {
    long buf[8] __attribute__((aligned(64)));  /* realigned stack: DW_CFA_def_cfa_expression */
    memset(buf, 0, sizeof buf);
    buf[3] = x;
    uw_sink += buf[(x & 3)];
    return uw_leaf(buf[3]) + buf[x & 7];  /* use buf after the call: no tail call */
}

NOINLINE long uw_recurse(int depth, long x) {
    if (depth == 0) return uw_leaf(x) + uw_vla((int)(x & 7) + 1);
    long r = uw_recurse(depth - 1, x + 1);
    uw_sink += r;
    return r + 1;
}

static int uw_compare(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    if (((x ^ y) & 63) == 0) uw_leaf(x);
    return (x > y) - (x < y);
}

NOINLINE void uw_sort(long seed) {
    long v[64];
    for (int i = 0; i < 64; i++) v[i] = (seed * 7919 + i * 104729) % 1000;
    qsort(v, 64, sizeof v[0], uw_compare);
    uw_sink += v[seed & 63];
}

static void uw_handler(int sig) { uw_sink += uw_leaf(sig) * 2; }

NOINLINE void uw_round(long i) {
    uw_recurse((int)(i % 5) + 1, i);
    uw_aligned(i);
    uw_sort(i);
    if (i % 10 == 0) raise(SIGUSR1);
    uw_sink++;
}

static void *uw_worker(void *arg) {
    long id = (long)arg;
    for (long i = 0; i < 20; i++) uw_round(i * 3 + id);
    return NULL;
}

int main(void) {
    signal(SIGUSR1, uw_handler);
    pthread_t threads[2];
    for (long t = 0; t < 2; t++) pthread_create(&threads[t], NULL, uw_worker, (void *)t);
    uw_worker((void *)9);
    for (int t = 0; t < 2; t++) pthread_join(threads[t], NULL);
    printf("%ld\n", uw_sink);
    return 0;
}
