/* bench/record: one of the small C files that `make -j2` compiles under pyperf/perf record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item1 { int key; char name[32]; struct item1 *next; };

static struct item1 *push1(struct item1 *head, int key)
{
	struct item1 *it = malloc(sizeof(*it));
	if (!it)
		abort();
	it->key = key;
	snprintf(it->name, sizeof(it->name), "item-%d", key);
	it->next = head;
	return it;
}

int unit1(int n)
{
	struct item1 *head = NULL;
	int sum = 0;
	for (int k = 0; k < n; k++)
		head = push1(head, k * 1);
	while (head) {
		struct item1 *next = head->next;
		sum += head->key + (int)strlen(head->name);
		free(head);
		head = next;
	}
	return sum;
}
