/* dwarf_demo: a program whose debug info exercises pyperf's DWARF side (tests/test_dwarf*.py).
 * Built twice: dwarf_demo_O0 (-O0: frame-base locations, prologue skipping) and dwarf_demo_O2
 * (-O2: location lists, inlined copies of clamp_add and struct_sum, a static variable).
 * Usage: dwarf_demo [N]  - runs the loop N times (default 3) and prints a checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct point {
	int x;
	int y;
	const char *label;
	unsigned char flags : 3;
	unsigned char kind : 5;
	long weights[4];
};

union number {
	long as_long;
	double as_double;
};

enum color { RED, GREEN, BLUE };

typedef unsigned long counter_t;

static counter_t total_calls;
int global_scale = 3;

static inline int clamp_add(int a, int b, int limit)
{
	int sum = a + b;

	if (sum > limit)
		sum = limit;
	return sum;
}

static inline long struct_sum(const struct point *p)
{
	long s = p->x + p->y;

	for (int i = 0; i < 4; i++)
		s += p->weights[i];
	return s;
}

__attribute__((noinline)) long process_point(struct point *pt, int scale, const char *name)
{
	long acc = struct_sum(pt);

	total_calls++;
	if (name && strlen(name) > 3)
		acc += clamp_add(pt->x, scale, 1000);
	{
		int shifted = pt->y << 2;

		acc += shifted * global_scale;
	}
	return acc * scale;
}

/* an ELF alias without a DWARF subprogram of its own: perf finds it through the symbol table and goes back
 * to DWARF by address (probe-event.c find_alternative_probe_point) */
extern long pp_alias(struct point *pt, int scale, const char *name) __attribute__((alias("process_point")));

__attribute__((noinline)) double mix_numbers(union number n, enum color c, float f, char tag)
{
	double r = n.as_double + f;

	if (c == BLUE)
		r *= 2;
	return r + tag;
}

__attribute__((noinline)) int count_chars(const char *text, char wanted)
{
	int n = 0;

	while (*text) {
		if (*text == wanted)
			n++;
		text++;
	}
	return clamp_add(n, 1, 50);
}

__attribute__((noinline)) unsigned long fill_points(struct point *pts, int count, short seed)
{
	unsigned long total = 0;

	for (int i = 0; i < count; i++) {
		pts[i].x = seed + i;
		pts[i].y = clamp_add(seed, i * 2, 64);
		pts[i].label = "demo";
		pts[i].flags = i & 7;
		pts[i].kind = i;
		for (int w = 0; w < 4; w++)
			pts[i].weights[w] = w * i;
		total += struct_sum(&pts[i]);
	}
	return total;
}

int main(int argc, char **argv)
{
	int loops = argc > 1 ? atoi(argv[1]) : 3;
	struct point pts[8];
	long checksum = 0;

	for (int l = 0; l < loops; l++) {
		union number num = { .as_double = l * 0.5 };

		checksum += fill_points(pts, 8, (short)l);
		checksum += process_point(&pts[l % 8], l + 1, argv[0]);
		checksum += (long)mix_numbers(num, (enum color)(l % 3), 1.5f, 'a');
		checksum += count_chars(argv[0], '/');
	}
	printf("checksum %ld calls %lu\n", checksum, total_calls);
	return 0;
}
