/* bench/record: one of the small C files that `make -j2` compiles under pyperf/perf record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item2 { int key; char name[32]; struct item2 *next; };

static struct item2 *push2(struct item2 *head, int key)
{
	struct item2 *it = malloc(sizeof(*it));
	if (!it)
		abort();
	it->key = key;
	snprintf(it->name, sizeof(it->name), "item-%d", key);
	it->next = head;
	return it;
}

int unit2(int n)
{
	struct item2 *head = NULL;
	int sum = 0;
	for (int k = 0; k < n; k++)
		head = push2(head, k * 2);
	while (head) {
		struct item2 *next = head->next;
		sum += head->key + (int)strlen(head->name);
		free(head);
		head = next;
	}
	return sum;
}
