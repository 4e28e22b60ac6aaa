/* pt_plugin: the library pt_work dlopens (pt_work dlopen LIB CALLS), for probes on code mapped after
 * the program started. */
__attribute__((noinline)) long pt_plugin_leaf(long n)
{
	__asm__ volatile("" ::: "memory");
	return n + 7;
}

long pt_plugin_fn(long n)
{
	return pt_plugin_leaf(n) * 2;
}
