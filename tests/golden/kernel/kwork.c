/* The workload of the kernel-symbol goldens (record.sh): user work and system calls in a loop, frame
 * pointers kept, linked statically so that its one file holds every user symbol the chains need.
 * Usage: kwork [LOOPS [exec]]   ("exec": run again through execve first, one more sched_process_exec). */
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
static volatile unsigned long sink;
static char buf[4096];
__attribute__((noinline)) void kw_spin(int n) { for (int i = 0; i < n; i++) sink += (unsigned long)i * i; }
__attribute__((noinline)) void kw_syscalls(void)
{
	getppid();
	int fd = open("/dev/null", O_WRONLY);
	if (fd >= 0) { write(fd, buf, sizeof(buf)); close(fd); }
}
__attribute__((noinline)) void kw_nap(void) { struct timespec ts = {0, 100000}; nanosleep(&ts, 0); }
__attribute__((noinline)) void kw_leaf(int i) { kw_spin(3000); kw_syscalls(); if (i % 32 == 0) kw_nap(); }
__attribute__((noinline)) void kw_mid(int i) { kw_leaf(i); }
int main(int argc, char **argv)
{
	int loops = argc > 1 ? atoi(argv[1]) : 1000;
	if (argc > 2)   /* run again through execve: one more sched_process_exec */
		execl("/proc/self/exe", argv[0], argv[1], (char *)0);
	for (int i = 0; i < loops; i++)
		kw_mid(i);
	return 0;
}
