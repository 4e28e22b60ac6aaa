/* lto_util.c's functions, called from lto_main.c (see there) */
struct lto_pair { int lo, hi; };

int lto_scale(int value, int factor);
long lto_sum(const long *values, int count);
int lto_span(const struct lto_pair *pair);
