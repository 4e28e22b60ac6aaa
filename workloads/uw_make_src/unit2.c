/* A small translation unit for the make/cc1 unwinding golden (tests/golden/unwind). */
#include <stdio.h>
#include <string.h>
struct rec2 { int id; char name[32]; double weight[4]; };
static int cmp2(const struct rec2 *a, const struct rec2 *b) { return a->id - b->id; }
int unit2_sum(const struct rec2 *r, int n) {
    int total = 0;
    for (int k = 0; k < n; k++) total += r[k].id * (int)r[k].weight[k & 3] + (int)strlen(r[k].name);
    for (int k = 1; k < n; k++) total += cmp2(&r[k - 1], &r[k]);
    return total;
}
void unit2_print(const struct rec2 *r) { printf("%d %s %f\n", r->id, r->name, r->weight[0]); }
