/* A small translation unit for the make/cc1 unwinding golden (tests/golden/unwind). */
#include <stdio.h>
#include <string.h>
struct rec3 { int id; char name[32]; double weight[4]; };
static int cmp3(const struct rec3 *a, const struct rec3 *b) { return a->id - b->id; }
int unit3_sum(const struct rec3 *r, int n) {
    int total = 0;
    for (int k = 0; k < n; k++) total += r[k].id * (int)r[k].weight[k & 3] + (int)strlen(r[k].name);
    for (int k = 1; k < n; k++) total += cmp3(&r[k - 1], &r[k]);
    return total;
}
void unit3_print(const struct rec3 *r) { printf("%d %s %f\n", r->id, r->name, r->weight[0]); }
