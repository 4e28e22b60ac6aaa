/* bench/record: one of the small C files that `make -j2` compiles under pyperf/perf record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item3 { int key; char name[32]; struct item3 *next; };

static struct item3 *push3(struct item3 *head, int key)
{
	struct item3 *it = malloc(sizeof(*it));
	if (!it)
		abort();
	it->key = key;
	snprintf(it->name, sizeof(it->name), "item-%d", key);
	it->next = head;
	return it;
}

int unit3(int n)
{
	struct item3 *head = NULL;
	int sum = 0;
	for (int k = 0; k < n; k++)
		head = push3(head, k * 3);
	while (head) {
		struct item3 *next = head->next;
		sum += head->key + (int)strlen(head->name);
		free(head);
		head = next;
	}
	return sum;
}
