/* bench/record: one of the small C files that `make -j2` compiles under pyperf/perf record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct item4 { int key; char name[32]; struct item4 *next; };

static struct item4 *push4(struct item4 *head, int key)
{
	struct item4 *it = malloc(sizeof(*it));
	if (!it)
		abort();
	it->key = key;
	snprintf(it->name, sizeof(it->name), "item-%d", key);
	it->next = head;
	return it;
}

int unit4(int n)
{
	struct item4 *head = NULL;
	int sum = 0;
	for (int k = 0; k < n; k++)
		head = push4(head, k * 4);
	while (head) {
		struct item4 *next = head->next;
		sum += head->key + (int)strlen(head->name);
		free(head);
		head = next;
	}
	return sum;
}
