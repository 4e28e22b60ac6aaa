/* pyperf_probe.perfdata._speedups, report's loops (the contract of each function: its comment here, and _speedups.c's
 * module comment for the whole module). */
#include "_speedups.h"
#include "structmember.h"

/* ---------------------------------------------------------------------------------------------------------
 * report: perf's entries_in rb-tree replayed (report/findnew.py's replay; that module's docstring says what
 * it computes, and its Python code is this loop's twin: tests/test_report_findnew.py compares them).
 *
 * findnew_replay(block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after, collapse
 *                [, entries[, aggregate]]) -> (moves, ident, order, merged)
 *     Per identity its block (int64), ip (u64: a resolved symbol's name rank in the high 32 bits, its
 *     (start, name) rank in the low ones), sub (int64), wraps, unres and inl (bool), dso (int64); per sample its group and period
 *     (u64) and count (None: 1 each); per group its replayed look-ups, None or a list of (look, identity,
 *     entries made before it at the group's first sample, -1 if it made the identity's first entry then),
 *     and the entries made once its first sample is done. Nodes are entries; an insertion is lib/rbtree.c's
 *     (report.rbtree's _fixup: the CLRS rebalancing). `entries` (default: all identities): the first ones
 *     are made as entries, the others are only searched with (and make an entry where nothing is found).
 *     `aggregate`: the moves summed per (group, look, entry), in the order of each one's first move
 *     (report/findnew.py's aggregate_moves of the moves).
 * ------------------------------------------------------------------------------------------------------ */

typedef struct {
    Py_ssize_t *left, *right, *parent, *ident;
    char *red;
    Py_ssize_t root, size, cap;
    const long long *block, *sub, *dso;
    const unsigned long long *ip;
    const char *wraps, *unres, *inl;
} FnTree;

static int fn_grow(FnTree *t)
{
    Py_ssize_t cap = t->cap ? t->cap * 2 : 64;
    Py_ssize_t *l = PyMem_Realloc(t->left, cap * sizeof(Py_ssize_t));
    if (!l) return -1;
    t->left = l;
    l = PyMem_Realloc(t->right, cap * sizeof(Py_ssize_t));
    if (!l) return -1;
    t->right = l;
    l = PyMem_Realloc(t->parent, cap * sizeof(Py_ssize_t));
    if (!l) return -1;
    t->parent = l;
    l = PyMem_Realloc(t->ident, cap * sizeof(Py_ssize_t));
    if (!l) return -1;
    t->ident = l;
    char *r = PyMem_Realloc(t->red, cap);
    if (!r) return -1;
    t->red = r;
    t->cap = cap;
    return 0;
}

static void fn_free(FnTree *t)
{
    PyMem_Free(t->left);
    PyMem_Free(t->right);
    PyMem_Free(t->parent);
    PyMem_Free(t->ident);
    PyMem_Free(t->red);
}

static void fn_rotate_left(FnTree *t, Py_ssize_t x)
{
    Py_ssize_t y = t->right[x];
    t->right[x] = t->left[y];
    if (t->left[y] >= 0) t->parent[t->left[y]] = x;
    t->parent[y] = t->parent[x];
    if (t->parent[x] < 0) t->root = y;
    else if (x == t->left[t->parent[x]]) t->left[t->parent[x]] = y;
    else t->right[t->parent[x]] = y;
    t->left[y] = x;
    t->parent[x] = y;
}

static void fn_rotate_right(FnTree *t, Py_ssize_t x)
{
    Py_ssize_t y = t->left[x];
    t->left[x] = t->right[y];
    if (t->right[y] >= 0) t->parent[t->right[y]] = x;
    t->parent[y] = t->parent[x];
    if (t->parent[x] < 0) t->root = y;
    else if (x == t->right[t->parent[x]]) t->right[t->parent[x]] = y;
    else t->left[t->parent[x]] = y;
    t->right[y] = x;
    t->parent[x] = y;
}

static void fn_fixup(FnTree *t, Py_ssize_t z)
{
    while (t->parent[z] >= 0 && t->red[t->parent[z]]) {
        Py_ssize_t parent = t->parent[z], grand = t->parent[parent];
        if (parent == t->left[grand]) {
            Py_ssize_t uncle = t->right[grand];
            if (uncle >= 0 && t->red[uncle]) {
                t->red[parent] = t->red[uncle] = 0;
                t->red[grand] = 1;
                z = grand;
                continue;
            }
            if (z == t->right[parent]) {
                z = parent;
                fn_rotate_left(t, z);
                parent = t->parent[z];
            }
            t->red[parent] = 0;
            t->red[grand] = 1;
            fn_rotate_right(t, grand);
        } else {
            Py_ssize_t uncle = t->left[grand];
            if (uncle >= 0 && t->red[uncle]) {
                t->red[parent] = t->red[uncle] = 0;
                t->red[grand] = 1;
                z = grand;
                continue;
            }
            if (z == t->left[parent]) {
                z = parent;
                fn_rotate_right(t, z);
                parent = t->parent[z];
            }
            t->red[parent] = 0;
            t->red[grand] = 1;
            fn_rotate_left(t, grand);
        }
    }
    t->red[t->root] = 0;
}

/* The node (entry) equal to identity x, else -1 after inserting `entry` (of identity x) where the search
 * ended. Nodes are numbered by entry: entry's slot must exist (size > entry). */
static Py_ssize_t fn_lookup(FnTree *t, Py_ssize_t x, Py_ssize_t entry)
{
    long long bx = t->block[x], sx = t->sub[x], dx = t->dso[x];
    unsigned long long ipx = t->ip[x];
    int wraps = t->wraps[x], ux = t->unres[x], ix = t->inl[x];
    Py_ssize_t parent = -1, cur = t->root;
    int left = 0;
    while (cur >= 0) {
        Py_ssize_t y = t->ident[cur];
        long long by = t->block[y];
        if (bx != by)
            left = bx < by;
        else if (!wraps)
            return cur;
        else {  /* sort__sym_cmp, then the keys after sym */
            int order;
            if (ux && t->unres[y]) {
                unsigned long long d = ipx - t->ip[y];
                order = !d ? 0 : d >= (1ULL << 63) ? -1 : 1;
            } else if (dx != t->dso[y])
                order = dx < t->dso[y] ? -1 : 1;
            else if (ux != t->unres[y])
                order = ux ? 1 : -1;
            else {  /* two resolved symbols: by name (strcmp(old, new)) if one is inlined, then by start */
                unsigned long long ipy = t->ip[y];
                order = 0;
                if (ix || t->inl[y]) {
                    unsigned long long nx = ipx >> 32, ny = ipy >> 32;
                    order = (ny > nx) - (ny < nx);
                }
                if (!order) {
                    unsigned long long lx = ipx & 0xFFFFFFFFULL, ly = ipy & 0xFFFFFFFFULL;
                    order = (lx > ly) - (lx < ly);
                }
            }
            if (!order)
                order = (sx > t->sub[y]) - (sx < t->sub[y]);
            if (!order)
                return cur;
            left = order < 0;
        }
        parent = cur;
        cur = left ? t->left[cur] : t->right[cur];
    }
    t->left[entry] = t->right[entry] = -1;
    t->parent[entry] = parent;
    t->red[entry] = 1;
    if (parent < 0) t->root = entry;
    else if (left) t->left[parent] = entry;
    else t->right[parent] = entry;
    fn_fixup(t, entry);
    return -1;
}

static PyObject *fn_walk(FnTree *t)
{
    PyObject *out = PyList_New(0);
    Py_ssize_t *stack, top = 0, cur = t->root;
    if (!out) return NULL;
    stack = PyMem_Malloc((t->cap + 1) * sizeof(Py_ssize_t));
    if (!stack) { Py_DECREF(out); return PyErr_NoMemory(); }
    while (top || cur >= 0) {
        while (cur >= 0) { stack[top++] = cur; cur = t->left[cur]; }
        cur = stack[--top];
        PyObject *v = PyLong_FromSsize_t(cur);
        if (!v || PyList_Append(out, v) < 0) { Py_XDECREF(v); Py_DECREF(out); PyMem_Free(stack); return NULL; }
        Py_DECREF(v);
        cur = t->right[cur];
    }
    PyMem_Free(stack);
    return out;
}

/* list of ints -> C array (signed or unsigned 64-bit, or chars); NULL with an exception set */
/* ---------------------------------------------------------------------------------------------------------
 * A sequence of unsigned ints read in C: a list of ints, or a C-contiguous buffer of format 'I' or 'Q' (the
 * arrays of report/builder.py's _Sequence.arrays: 4 or 8 bytes a sample where a list holds an int object).
 * ------------------------------------------------------------------------------------------------------ */

typedef struct {
    PyObject *list;   /* the list, or NULL: `view` holds the buffer */
    Py_buffer view;
    int size;         /* the buffer's item size: 4 ('I') or 8 ('Q') */
    Py_ssize_t n;
} USeq;

static int useq_open(PyObject *o, USeq *s, const char *what)
{
    s->list = NULL;
    s->view.obj = NULL;
    if (PyList_Check(o)) {
        s->list = o;
        s->n = PyList_GET_SIZE(o);
        return 0;
    }
    if (PyObject_GetBuffer(o, &s->view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Format(PyExc_TypeError, "%s: a list or an array of format 'I' or 'Q' expected", what);
        return -1;
    }
    const char *fmt = s->view.format ? s->view.format : "B";
    if (fmt[0] == '@' || fmt[0] == '=') fmt++;
    if ((fmt[0] == 'I' && fmt[1] == 0 && s->view.itemsize == 4) ||
        (fmt[0] == 'Q' && fmt[1] == 0 && s->view.itemsize == 8)) {
        s->size = (int)s->view.itemsize;
        s->n = s->view.len / s->view.itemsize;
        return 0;
    }
    PyBuffer_Release(&s->view);
    PyErr_Format(PyExc_TypeError, "%s: a list or an array of format 'I' or 'Q' expected", what);
    return -1;
}

/* item i (< s->n): 0 and *v set, or -1 with an exception (a list item that is not an int of 64 bits) */
static inline int useq_get(const USeq *s, Py_ssize_t i, unsigned long long *v)
{
    if (s->list) {
        *v = PyLong_AsUnsignedLongLong(PyList_GET_ITEM(s->list, i));
        return (*v == (unsigned long long)-1 && PyErr_Occurred()) ? -1 : 0;
    }
    if (s->size == 4)
        *v = ((const uint32_t *)s->view.buf)[i];
    else
        *v = ((const uint64_t *)s->view.buf)[i];
    return 0;
}

static void useq_close(USeq *s)
{
    if (!s->list && s->view.obj) PyBuffer_Release(&s->view);
    s->view.obj = NULL;
}

static void *fn_array(PyObject *list, Py_ssize_t n, int kind)
{
    void *out;
    if (!PyList_Check(list) && kind != 2 && PyObject_CheckBuffer(list)) {  /* (an 'I' or 'Q' array) */
        USeq s;
        if (useq_open(list, &s, "findnew_replay") < 0) return NULL;
        if (s.n != n) {
            useq_close(&s);
            PyErr_SetString(PyExc_ValueError, "findnew_replay: lists of the same length expected");
            return NULL;
        }
        out = PyMem_Malloc((n ? n : 1) * 8);
        if (!out) { useq_close(&s); return PyErr_NoMemory(); }
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned long long v;
            useq_get(&s, i, &v);
            if (kind == 0 && v > (unsigned long long)LLONG_MAX) {
                useq_close(&s);
                PyMem_Free(out);
                PyErr_SetString(PyExc_OverflowError, "findnew_replay: a value above int64");
                return NULL;
            }
            ((unsigned long long *)out)[i] = v;
        }
        useq_close(&s);
        return out;
    }
    if (!PyList_Check(list) || PyList_GET_SIZE(list) != n) {
        PyErr_SetString(PyExc_ValueError, "findnew_replay: lists of the same length expected");
        return NULL;
    }
    out = PyMem_Malloc((n ? n : 1) * (kind == 2 ? 1 : 8));
    if (!out) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(list, i);
        if (kind == 0) ((long long *)out)[i] = PyLong_AsLongLong(v);
        else if (kind == 1) ((unsigned long long *)out)[i] = PyLong_AsUnsignedLongLong(v);
        else ((char *)out)[i] = (char)PyObject_IsTrue(v);
        if (PyErr_Occurred()) { PyMem_Free(out); return NULL; }
    }
    return out;
}

/* A u64 -> i64 open-addressing table (key 0 marks a free slot: keys are stored + 1; no key is 2^64 - 1). */
typedef struct {
    uint64_t *keys;
    int64_t *vals;
    size_t cap, n;
} U64Map;

static uint64_t um_hash(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* the value slot of `key`, made if absent (*found then 0); NULL when out of memory */
static int64_t *um_slot(U64Map *m, uint64_t key, int *found)
{
    uint64_t stored = key + 1;
    if ((m->n + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 1024;
        uint64_t *keys = PyMem_Calloc(cap, sizeof(uint64_t));
        int64_t *vals = PyMem_Malloc(cap * sizeof(int64_t));
        if (!keys || !vals) { PyMem_Free(keys); PyMem_Free(vals); return NULL; }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = um_hash(m->keys[i] - 1) & (cap - 1);
                while (keys[j]) j = (j + 1) & (cap - 1);
                keys[j] = m->keys[i];
                vals[j] = m->vals[i];
            }
        PyMem_Free(m->keys);
        PyMem_Free(m->vals);
        m->keys = keys;
        m->vals = vals;
        m->cap = cap;
    }
    size_t j = um_hash(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->keys[j] == stored) { *found = 1; return &m->vals[j]; }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = stored;
    m->vals[j] = 0;
    m->n++;
    *found = 0;
    return &m->vals[j];
}

/* findnew_replay's per-sample groups and periods: a list's copy (8 bytes an item), or an 'I' or 'Q' array's own
 * buffer, read in place (no copy of 78K samples' worth at the report's peak) */
typedef struct {
    const void *p;
    int size;            /* 4 or 8 */
    void *owned;         /* the copy of a list */
    USeq seq;            /* the array's view */
} UView;

static inline uint64_t uv_at(const UView *v, Py_ssize_t i)
{
    return v->size == 4 ? ((const uint32_t *)v->p)[i] : ((const uint64_t *)v->p)[i];
}

/* n < 0: any length (*n set) */
static int uv_open(PyObject *o, Py_ssize_t *n, int kind, UView *v)
{
    v->owned = NULL;
    v->seq.list = NULL;
    v->seq.view.obj = NULL;
    if (PyList_Check(o)) {
        if (*n < 0) *n = PyList_GET_SIZE(o);
        if (!(v->owned = fn_array(o, *n, kind))) return -1;
        v->p = v->owned;
        v->size = 8;
        return 0;
    }
    if (useq_open(o, &v->seq, "findnew_replay") < 0) return -1;
    if (*n < 0) *n = v->seq.n;
    if (v->seq.n != *n) {
        useq_close(&v->seq);
        PyErr_SetString(PyExc_ValueError, "findnew_replay: lists of the same length expected");
        return -1;
    }
    v->p = v->seq.view.buf;
    v->size = v->seq.size;
    if (kind == 0 && v->size == 8)  /* (a 'Q' array of groups: each one an int64) */
        for (Py_ssize_t i = 0; i < *n; i++)
            if (((const uint64_t *)v->p)[i] > (uint64_t)LLONG_MAX) {
                useq_close(&v->seq);
                PyErr_SetString(PyExc_OverflowError, "findnew_replay: a value above int64");
                return -1;
            }
    return 0;
}

static void uv_close(UView *v)
{
    PyMem_Free(v->owned);
    v->owned = NULL;
    useq_close(&v->seq);
}

static PyObject *findnew_replay(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *lblock, *lip, *lsub, *lwraps, *lunres, *ldso, *linl, *lrs, *lperiods, *lcounts, *llooks, *lmade;
    PyObject *result = NULL, *moves = NULL, *ident = NULL, *order = NULL, *merged = NULL;
    int collapse, aggregate = 0;
    Py_ssize_t nentries = -1;
    /* aggregate: moves summed per (group, look, entry), in first-move order (mv_* arrays; by (group, look) in
     * `firsts`, then along `next` for another entry) */
    U64Map firsts = {0};
    Py_ssize_t nmv = 0, capmv = 0, *mv_r = NULL, *mv_j = NULL, *mv_got = NULL, *mv_next = NULL;
    unsigned long long *mv_period = NULL;
    long long *mv_count = NULL;
    long long *block = NULL, *sub = NULL, *dso = NULL, *counts = NULL, *made_after = NULL;
    unsigned long long *ip = NULL;
    UView rs = {0}, periods = {0};
    char *wraps = NULL, *unres = NULL, *inl = NULL, *done = NULL;
    FnTree t = {0}, c = {0};
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!O!OOOO!O!p|np:findnew_replay", &PyList_Type, &lblock, &PyList_Type, &lip,
                          &PyList_Type, &lsub, &PyList_Type, &lwraps, &PyList_Type, &lunres, &PyList_Type, &ldso,
                          &PyList_Type, &linl,
                          &lrs, &lperiods, &lcounts, &PyList_Type, &llooks,
                          &PyList_Type, &lmade, &collapse, &nentries, &aggregate))
        return NULL;
    /* (groups and periods: lists, or report/builder.py _Sequence.arrays' 'I' and 'Q' arrays) */
    Py_ssize_t ns = -1;
    Py_ssize_t nr = PyList_GET_SIZE(lblock), ng = PyList_GET_SIZE(llooks);
    if (nentries < 0) nentries = nr;
    if (nentries > nr) {
        PyErr_SetString(PyExc_ValueError, "findnew_replay: more entries than identities");
        return NULL;
    }
    Py_ssize_t n = nentries;  /* identities made as entries; nr ranked */
    if (!(block = fn_array(lblock, nr, 0)) || !(ip = fn_array(lip, nr, 1)) || !(sub = fn_array(lsub, nr, 0)) ||
        !(wraps = fn_array(lwraps, nr, 2)) || !(unres = fn_array(lunres, nr, 2)) || !(dso = fn_array(ldso, nr, 0)) ||
        !(inl = fn_array(linl, nr, 2)) ||
        uv_open(lrs, &ns, 0, &rs) < 0 || uv_open(lperiods, &ns, 1, &periods) < 0 ||
        !(made_after = fn_array(lmade, ng, 0)))
        goto done;
    if (lcounts != Py_None && !(counts = fn_array(lcounts, ns, 0)))
        goto done;
    if (!(done = PyMem_Calloc(ng ? ng : 1, 1))) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < ns; i++)
        if (uv_at(&rs, i) >= (uint64_t)ng) {  /* (a list's negative int: above any group, as u64) */
            PyErr_SetString(PyExc_ValueError, "findnew_replay: a sample's group is out of range");
            goto done;
        }
    for (Py_ssize_t g = 0; g < ng; g++)
        if (made_after[g] < 0 || made_after[g] > n) {
            PyErr_SetString(PyExc_ValueError, "findnew_replay: made_after out of range");
            goto done;
        }
    t.root = -1;
    t.block = block; t.ip = ip; t.sub = sub; t.wraps = wraps; t.unres = unres; t.dso = dso; t.inl = inl;
    while (t.cap < n + 1)
        if (fn_grow(&t) < 0) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < n; i++) t.ident[i] = i;
    t.size = n;
    if (!(moves = PyList_New(0))) goto done;
    Py_ssize_t k = 0, top = -1;
    for (Py_ssize_t i = 0; i < ns; i++) {
        Py_ssize_t r = (Py_ssize_t)uv_at(&rs, i);
        if (r > top) top = r;
        PyObject *looks = PyList_GET_ITEM(llooks, r);
        if (looks == Py_None) continue;
        if (!PyList_Check(looks)) {
            PyErr_SetString(PyExc_TypeError, "findnew_replay: a group's look-ups are a list or None");
            goto done;
        }
        int first = !done[r];
        done[r] = 1;
        for (Py_ssize_t q = 0; q < PyList_GET_SIZE(looks); q++) {
            PyObject *look = PyList_GET_ITEM(looks, q), *jo, *xo, *bo;
            if (!PyTuple_Check(look) || PyTuple_GET_SIZE(look) != 3) {
                PyErr_SetString(PyExc_TypeError, "findnew_replay: a look-up is (look, identity, made before)");
                goto done;
            }
            jo = PyTuple_GET_ITEM(look, 0); xo = PyTuple_GET_ITEM(look, 1); bo = PyTuple_GET_ITEM(look, 2);
            Py_ssize_t x = PyLong_AsSsize_t(xo), before = PyLong_AsSsize_t(bo), m;
            if (PyErr_Occurred()) goto done;
            if (x < 0 || x >= nr || before > n) {
                PyErr_SetString(PyExc_ValueError, "findnew_replay: a look-up is out of range");
                goto done;
            }
            if (first) {
                if (before < 0) continue;
                m = before;
            } else
                m = (Py_ssize_t)made_after[top];
            for (; k < m; k++) fn_lookup(&t, k, k);
            if (t.size >= t.cap && fn_grow(&t) < 0) { PyErr_NoMemory(); goto done; }
            t.ident[t.size] = x;
            Py_ssize_t got = fn_lookup(&t, x, t.size);
            if (got < 0) got = t.size++;
            if (got >= n && aggregate) {
                Py_ssize_t j = PyLong_AsSsize_t(jo);
                if (j == -1 && PyErr_Occurred()) goto done;
                if (j < 0 || j >= ((Py_ssize_t)1 << 32) || r >= ((Py_ssize_t)1 << 31)) {
                    PyErr_SetString(PyExc_ValueError, "findnew_replay: a look-up index out of range");
                    goto done;
                }
                int found;
                int64_t *first = um_slot(&firsts, ((uint64_t)r << 32) | (uint64_t)j, &found), at = -1;
                if (!first) { PyErr_NoMemory(); goto done; }
                if (found)
                    for (at = *first; at >= 0 && mv_got[at] != got; at = mv_next[at]) ;
                if (at >= 0) {
                    mv_period[at] += uv_at(&periods, i);
                    mv_count[at] += counts ? counts[i] : 1LL;
                } else {
                    if (nmv == capmv) {
                        capmv = capmv ? capmv * 2 : 256;
                        if (!(mv_r = PyMem_Realloc(mv_r, capmv * sizeof(Py_ssize_t))) ||
                            !(mv_j = PyMem_Realloc(mv_j, capmv * sizeof(Py_ssize_t))) ||
                            !(mv_got = PyMem_Realloc(mv_got, capmv * sizeof(Py_ssize_t))) ||
                            !(mv_next = PyMem_Realloc(mv_next, capmv * sizeof(Py_ssize_t))) ||
                            !(mv_period = PyMem_Realloc(mv_period, capmv * sizeof(unsigned long long))) ||
                            !(mv_count = PyMem_Realloc(mv_count, capmv * sizeof(long long)))) {
                            PyErr_NoMemory();
                            goto done;
                        }
                    }
                    mv_r[nmv] = r;
                    mv_j[nmv] = j;
                    mv_got[nmv] = got;
                    mv_period[nmv] = uv_at(&periods, i);
                    mv_count[nmv] = counts ? counts[i] : 1LL;
                    mv_next[nmv] = found ? *first : -1;  /* (the chain's order does not matter: got differs) */
                    *first = nmv++;
                }
            } else if (got >= n) {
                PyObject *move = Py_BuildValue("(nOnKL)", r, jo, got, (unsigned long long)uv_at(&periods, i),
                                               counts ? counts[i] : 1LL);
                if (!move || PyList_Append(moves, move) < 0) { Py_XDECREF(move); goto done; }
                Py_DECREF(move);
            }
        }
    }
    for (; k < n; k++) fn_lookup(&t, k, k);
    for (Py_ssize_t m = 0; m < nmv; m++) {
        PyObject *move = Py_BuildValue("(nnnKL)", mv_r[m], mv_j[m], mv_got[m], mv_period[m], mv_count[m]);
        if (!move || PyList_Append(moves, move) < 0) { Py_XDECREF(move); goto done; }
        Py_DECREF(move);
    }
    if (!(order = fn_walk(&t))) goto done;
    if (!(ident = PyList_New(t.size)) || !(merged = PyList_New(t.size))) goto done;
    for (Py_ssize_t i = 0; i < t.size; i++) {
        PyObject *v = PyLong_FromSsize_t(t.ident[i]), *m = PyLong_FromLong(-1);
        if (!v || !m) { Py_XDECREF(v); Py_XDECREF(m); goto done; }
        PyList_SET_ITEM(ident, i, v);
        PyList_SET_ITEM(merged, i, m);
    }
    if (collapse) {
        c.root = -1;
        c.block = block; c.ip = ip; c.sub = sub; c.wraps = wraps; c.unres = unres; c.dso = dso; c.inl = inl;
        while (c.cap < t.size + 1)
            if (fn_grow(&c) < 0) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t i = 0; i < t.size; i++) c.ident[i] = t.ident[i];
        c.size = t.size;
        Py_ssize_t norder = PyList_GET_SIZE(order);
        for (Py_ssize_t i = 0; i < norder; i++) {
            Py_ssize_t entry = PyLong_AsSsize_t(PyList_GET_ITEM(order, i));
            Py_ssize_t got = fn_lookup(&c, c.ident[entry], entry);
            if (got >= 0) {
                PyObject *v = PyLong_FromSsize_t(got);
                if (!v) goto done;
                if (PyList_SetItem(merged, entry, v) < 0) goto done;
            }
        }
        Py_SETREF(order, fn_walk(&c));
        if (!order) goto done;
    }
    result = PyTuple_Pack(4, moves, ident, order, merged);
done:
    Py_XDECREF(moves);
    Py_XDECREF(ident);
    Py_XDECREF(order);
    Py_XDECREF(merged);
    PyMem_Free(block);
    PyMem_Free(ip);
    PyMem_Free(sub);
    PyMem_Free(wraps);
    PyMem_Free(unres);
    PyMem_Free(inl);
    PyMem_Free(dso);
    uv_close(&rs);
    uv_close(&periods);
    PyMem_Free(counts);
    PyMem_Free(made_after);
    PyMem_Free(done);
    PyMem_Free(firsts.keys);
    PyMem_Free(firsts.vals);
    PyMem_Free(mv_r);
    PyMem_Free(mv_j);
    PyMem_Free(mv_got);
    PyMem_Free(mv_next);
    PyMem_Free(mv_period);
    PyMem_Free(mv_count);
    fn_free(&t);
    fn_free(&c);
    return result;
}

/* rank_order(group, thread, depth, rest) -> order
 *     report.rbtree.replay_ranked: items 0..n-1 inserted in turn into one rb-tree (a new item goes left of an
 *     existing one if its group is lower; on equal groups, if both have the same thread and their depths
 *     differ, if its depth is lower; else if its rest is lower), the in-order walk returned. Lists of ints
 *     (int64). */
static PyObject *rank_order(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *lgroup, *lthread, *ldepth, *lrest, *result = NULL;
    long long *group = NULL, *thread = NULL, *depth = NULL, *rest = NULL;
    FnTree t = {0};
    if (!PyArg_ParseTuple(args, "O!O!O!O!:rank_order", &PyList_Type, &lgroup, &PyList_Type, &lthread,
                          &PyList_Type, &ldepth, &PyList_Type, &lrest))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(lgroup);
    if (!(group = fn_array(lgroup, n, 0)) || !(thread = fn_array(lthread, n, 0)) || !(depth = fn_array(ldepth, n, 0)) ||
        !(rest = fn_array(lrest, n, 0)))
        goto done;
    t.root = -1;
    while (t.cap < n + 1)
        if (fn_grow(&t) < 0) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t x = 0; x < n; x++) {
        Py_ssize_t parent = -1, cur = t.root;
        int left = 0;
        while (cur >= 0) {
            if (group[x] != group[cur])
                left = group[x] < group[cur];
            else if (thread[x] == thread[cur] && depth[x] != depth[cur])
                left = depth[x] < depth[cur];
            else
                left = rest[x] < rest[cur];
            parent = cur;
            cur = left ? t.left[cur] : t.right[cur];
        }
        t.left[x] = t.right[x] = -1;
        t.parent[x] = parent;
        t.red[x] = 1;
        if (parent < 0) t.root = x;
        else if (left) t.left[parent] = x;
        else t.right[parent] = x;
        fn_fixup(&t, x);
    }
    result = fn_walk(&t);
done:
    PyMem_Free(group);
    PyMem_Free(thread);
    PyMem_Free(depth);
    PyMem_Free(rest);
    fn_free(&t);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * hist_lookups(groups, caller_order, graphs, cumulative, every, heads, entries, frame_entries, make_self,
 *              make_frame) -> (records, made_after, pending)
 *     report/hist.py's Hists._lookups (its Python twin: that method without this module, and
 *     _cumulative_lookups, `heads` the indices of the keys that do not depend on the frame): each group of
 *     `groups` ((ident, chain id, ...) -> [period, count, tid, comm, loc, chain, trace, filtered, raw, n]), in
 *     order, finds or makes its self entry (entries.get(ident), else make_self(ident, comm, tid, loc, trace,
 *     filtered, raw)) and, with `cumulative`, each of its chain's frames its cumulative entry
 *     (frame_entries[head].get(frame), head the identity's values at the indices `heads`, else make_frame(head, frame, comm, tid, trace, filtered, level,
 *     raw), kept there), an entry met twice in a chain once; each found entry credited (period_acc, hits; the
 *     self entry's period and nr_events too) and, with `graphs`, its chain suffix added to `pending` by
 *     (entry, suffix id) (suffix ids interned from the leaf end, as hist._suffix_ids; without `cumulative`
 *     the whole chain's id is (chain id,)). A group's listed look-ups (unresolved ones, all with `every`)
 *     and the records, made_after and pending answered are hist._lookups' own.
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *hl_s_period_acc, *hl_s_hits, *hl_s_period, *hl_s_nr_events, *hl_s_callchain, *hl_s_key,
    *hl_s_mapped, *hl_s_level, *hl_s_has_sym, *hl_minus_one;

static int hl_strings(void)
{
    if (hl_minus_one) return 0;
    if (!(hl_s_period_acc = PyUnicode_InternFromString("period_acc")) ||
        !(hl_s_hits = PyUnicode_InternFromString("hits")) ||
        !(hl_s_period = PyUnicode_InternFromString("period")) ||
        !(hl_s_nr_events = PyUnicode_InternFromString("nr_events")) ||
        !(hl_s_callchain = PyUnicode_InternFromString("callchain")) ||
        !(hl_s_key = PyUnicode_InternFromString("key")) ||
        !(hl_s_mapped = PyUnicode_InternFromString("mapped")) ||
        !(hl_s_level = PyUnicode_InternFromString("level")) ||
        !(hl_s_has_sym = PyUnicode_InternFromString("has_sym")) ||
        !(hl_minus_one = PyLong_FromLong(-1)))
        return -1;
    return 0;
}


/* Slot attributes read and written in place: a (type, offset) cache per attribute name, filled from the type's
 * member descriptor (a __slots__ entry) the first time an object of that type is met; any other attribute
 * (a property, a dict entry) goes through PyObject_GetAttr / SetAttr. */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t off;
} SlotCache;

static int sa_find(PyObject *o, PyObject *name, SlotCache *c)
{
    PyTypeObject *type = Py_TYPE(o);
    if (c->type == type) return 1;
    PyObject *d = _PyType_Lookup(type, name);
    if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type)) return 0;
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    if (m->type != T_OBJECT_EX || (m->flags & READONLY)) return 0;
    Py_INCREF(type);
    Py_XDECREF(c->type);
    c->type = type;
    c->off = m->offset;
    return 1;
}

#define SA_SLOT(o, c) (*(PyObject **)((char *)(o) + (c)->off))

/* o.name, a new reference */
static PyObject *sa_get(PyObject *o, PyObject *name, SlotCache *c)
{
    if (sa_find(o, name, c)) {
        PyObject *v = SA_SLOT(o, c);
        if (v) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(o, name);
}

/* o.name = v (v stolen) */
static int sa_set(PyObject *o, PyObject *name, SlotCache *c, PyObject *v)
{
    if (sa_find(o, name, c)) {
        PyObject *old = SA_SLOT(o, c);
        SA_SLOT(o, c) = v;
        Py_XDECREF(old);
        return 0;
    }
    int r = PyObject_SetAttr(o, name, v);
    Py_DECREF(v);
    return r;
}

static int sa_true(PyObject *o, PyObject *name, SlotCache *c)
{
    PyObject *v = sa_get(o, name, c);
    if (!v) return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}


/* [entry, keys, frames, i, period, count] (a pending append's list: Py_BuildValue's "[OOOnOO]" without parsing a
 * format), period and count stolen when steal; NULL and an error */
static PyObject *pend_list(PyObject *entry, PyObject *keys, PyObject *frames, Py_ssize_t i, PyObject *period,
                           PyObject *count, int steal)
{
    PyObject *val = PyList_New(6), *io = val ? PyLong_FromSsize_t(i) : NULL;
    if (!io) {
        Py_XDECREF(val);
        if (steal) { Py_DECREF(period); Py_DECREF(count); }
        return NULL;
    }
    PyList_SET_ITEM(val, 0, Py_NewRef(entry));
    PyList_SET_ITEM(val, 1, Py_NewRef(keys));
    PyList_SET_ITEM(val, 2, Py_NewRef(frames));
    PyList_SET_ITEM(val, 3, io);
    PyList_SET_ITEM(val, 4, steal ? period : Py_NewRef(period));
    PyList_SET_ITEM(val, 5, steal ? count : Py_NewRef(count));
    return val;
}

static SlotCache hl_c_period_acc, hl_c_hits, hl_c_period, hl_c_nr_events, hl_c_callchain, hl_c_key, hl_c_mapped,
    hl_c_level, hl_c_has_sym;

/* obj.name += v */
static int hl_add(PyObject *obj, PyObject *name, SlotCache *c, PyObject *v)
{
    PyObject *cur = sa_get(obj, name, c), *sum;
    if (!cur) return -1;
    sum = PyNumber_Add(cur, v);
    Py_DECREF(cur);
    if (!sum) return -1;
    return sa_set(obj, name, c, sum);
}

/* pending[(entry, sid)] gets period and count, or is [entry, keys, frames, i, period, count] */
static int hl_pend(PyObject *pending, PyObject *entry, PyObject *sid, PyObject *keys, PyObject *frames,
                   Py_ssize_t i, PyObject *period, PyObject *count)
{
    PyObject *key = PyTuple_Pack(2, entry, sid), *got, *val;
    if (!key) return -1;
    got = PyDict_GetItemWithError(pending, key);
    if (got) {
        Py_DECREF(key);
        if (!PyList_Check(got) || PyList_GET_SIZE(got) != 6) {
            PyErr_SetString(PyExc_TypeError, "hist_lookups: a pending value is a list of 6");
            return -1;
        }
        PyObject *p = PyNumber_Add(PyList_GET_ITEM(got, 4), period);
        if (!p) return -1;
        PyList_SetItem(got, 4, p);
        PyObject *c = PyNumber_Add(PyList_GET_ITEM(got, 5), count);
        if (!c) return -1;
        PyList_SetItem(got, 5, c);
        return 0;
    }
    if (PyErr_Occurred()) { Py_DECREF(key); return -1; }
    val = pend_list(entry, keys, frames, i, period, count, 0);
    if (!val) { Py_DECREF(key); return -1; }
    int r = PyDict_SetItem(pending, key, val);
    Py_DECREF(key);
    Py_DECREF(val);
    return r;
}

/* a listed look-up (entry, i, frame, level, sid or None, made) appended to *listed (made if NULL) */
static int hl_list(PyObject **listed, PyObject *entry, Py_ssize_t i, PyObject *frame, PyObject *level,
                   PyObject *sid, Py_ssize_t made)
{
    if (!*listed && !(*listed = PyList_New(0))) return -1;
    PyObject *io = PyLong_FromSsize_t(i), *mo = io ? PyLong_FromSsize_t(made) : NULL, *look = NULL;
    if (mo) look = PyTuple_Pack(6, entry, io, frame, level, sid ? sid : Py_None, mo);
    Py_XDECREF(io);
    Py_XDECREF(mo);
    if (!look) return -1;
    int r = PyList_Append(*listed, look);
    Py_DECREF(look);
    return r;
}

/* hist_lookups' sums, kept in C until the end: each found entry's period_acc, hits, period and nr_events, and
 * with cumulative entries each pending (entry, suffix id)'s period and count, added to the Python objects once
 * (an entry's attributes, the pending lists) instead of one Python addition per look-up. A sum that would pass
 * 64 bits (or a value that is not a u64) is carried in a Python int: the answers are Python's, exactly. */
typedef struct {
    PyObject *obj;           /* the entry (a new reference) */
    uint64_t v[4];           /* period_acc, hits, period, nr_events */
    PyObject *carry[4];      /* the part past 64 bits: a Python int, or NULL */
} HlEntrySum;

typedef struct {
    Py_ssize_t entry;        /* its entry's HlEntrySum */
    int64_t sid;             /* the suffix id */
    PyObject *keys, *frames; /* the first look-up's (new references) */
    Py_ssize_t i;
    uint64_t v[2];           /* period, count */
    PyObject *carry[2];
} HlPend;

typedef struct {
    U64Map by_ptr, by_pair;  /* entry address -> its index; (entry index << 32 | sid) -> pending index */
    HlEntrySum *e;
    Py_ssize_t ne, cape;
    HlPend *p;
    Py_ssize_t np, capp;
} HlSums;

/* the value of a group's period or count: *ok 1 with *u its u64 value, else 0 (carried as a Python int) */
static int hl_u64(PyObject *o, uint64_t *u)
{
    if (!PyLong_Check(o)) return 0;
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    *u = v;
    return 1;
}

/* *v += value (u: its u64 value when ok), the overflow carried in *carry */
static int hl_sum(uint64_t *v, PyObject **carry, PyObject *value, uint64_t u, int ok)
{
    uint64_t r;
    if (ok && !__builtin_add_overflow(*v, u, &r)) {
        *v = r;
        return 0;
    }
    PyObject *sum = *carry ? Py_NewRef(*carry) : PyLong_FromLong(0), *t;
    if (!sum) return -1;
    if (!(t = PyNumber_Add(sum, value))) { Py_DECREF(sum); return -1; }
    Py_SETREF(sum, t);
    if (!(t = PyLong_FromUnsignedLongLong(*v))) { Py_DECREF(sum); return -1; }
    Py_SETREF(sum, PyNumber_Add(sum, t));
    Py_DECREF(t);
    if (!sum) return -1;
    Py_XSETREF(*carry, sum);
    *v = 0;
    return 0;
}

/* the sum index of an entry (made, with the entry held, if new); -1 on error */
static Py_ssize_t hl_entry(HlSums *S, PyObject *entry)
{
    int found;
    int64_t *slot = um_slot(&S->by_ptr, (uint64_t)(uintptr_t)entry, &found);
    if (!slot) { PyErr_NoMemory(); return -1; }
    if (found) return (Py_ssize_t)*slot;
    if (S->ne == S->cape) {
        Py_ssize_t cap = S->cape ? S->cape * 2 : 256;
        HlEntrySum *a = PyMem_Realloc(S->e, cap * sizeof(HlEntrySum));
        if (!a) { S->by_ptr.keys[slot - S->by_ptr.vals] = 0; S->by_ptr.n--; PyErr_NoMemory(); return -1; }
        S->e = a;
        S->cape = cap;
    }
    HlEntrySum *e = &S->e[S->ne];
    memset(e, 0, sizeof(*e));
    e->obj = Py_NewRef(entry);
    *slot = S->ne;
    return S->ne++;
}

/* pending (entry, sid) gets period and count, or is made with keys, frames, i */
static int hl_pend_sum(HlSums *S, Py_ssize_t entry, int64_t sid, PyObject *keys, PyObject *frames, Py_ssize_t i,
                       PyObject *period, uint64_t pu, int pok, PyObject *count, uint64_t cu, int cok)
{
    int found;
    if (entry >= ((Py_ssize_t)1 << 31) || sid < 0 || sid >= ((int64_t)1 << 32)) {
        PyErr_SetString(PyExc_OverflowError, "hist_lookups: too many entries or chain suffixes");
        return -1;
    }
    int64_t *slot = um_slot(&S->by_pair, ((uint64_t)entry << 32) | (uint64_t)sid, &found);
    if (!slot) { PyErr_NoMemory(); return -1; }
    HlPend *p;
    if (found)
        p = &S->p[*slot];
    else {
        if (S->np == S->capp) {
            Py_ssize_t cap = S->capp ? S->capp * 2 : 1024;
            HlPend *a = PyMem_Realloc(S->p, cap * sizeof(HlPend));
            if (!a) { S->by_pair.keys[slot - S->by_pair.vals] = 0; S->by_pair.n--; PyErr_NoMemory(); return -1; }
            S->p = a;
            S->capp = cap;
        }
        p = &S->p[S->np];
        memset(p, 0, sizeof(*p));
        p->entry = entry;
        p->sid = sid;
        p->keys = Py_NewRef(keys);
        p->frames = Py_NewRef(frames);
        p->i = i;
        *slot = S->np++;
    }
    if (hl_sum(&p->v[0], &p->carry[0], period, pu, pok) < 0 || hl_sum(&p->v[1], &p->carry[1], count, cu, cok) < 0)
        return -1;
    return 0;
}

/* v (+ carry) as a Python int, a new reference */
static PyObject *hl_total(uint64_t v, PyObject *carry)
{
    PyObject *t = PyLong_FromUnsignedLongLong(v);
    if (!t || !carry) return t;
    Py_SETREF(t, PyNumber_Add(t, carry));
    return t;
}

/* the entries' sums added to their attributes; with `idobjs`, the pending chains into `pending` */
static int hl_flush(HlSums *S, PyObject *pending, PyObject **idobjs)
{
    static PyObject **names[4] = {&hl_s_period_acc, &hl_s_hits, &hl_s_period, &hl_s_nr_events};
    SlotCache *caches[4] = {&hl_c_period_acc, &hl_c_hits, &hl_c_period, &hl_c_nr_events};
    for (Py_ssize_t x = 0; x < S->ne; x++) {
        HlEntrySum *e = &S->e[x];
        for (int k = 0; k < 4; k++) {
            if (!e->v[k] && !e->carry[k]) continue;
            PyObject *t = hl_total(e->v[k], e->carry[k]);
            if (!t) return -1;
            int r = hl_add(e->obj, *names[k], caches[k], t);
            Py_DECREF(t);
            if (r < 0) return -1;
        }
    }
    for (Py_ssize_t x = 0; x < S->np; x++) {
        HlPend *p = &S->p[x];
        PyObject *entry = S->e[p->entry].obj, *period = hl_total(p->v[0], p->carry[0]), *count, *key, *val;
        if (!period) return -1;
        if (!(count = hl_total(p->v[1], p->carry[1]))) { Py_DECREF(period); return -1; }
        val = pend_list(entry, p->keys, p->frames, p->i, period, count, 1);
        if (!val) return -1;
        if (!(key = PyTuple_Pack(2, entry, idobjs[p->sid]))) { Py_DECREF(val); return -1; }
        int r = PyDict_SetItem(pending, key, val);
        Py_DECREF(key);
        Py_DECREF(val);
        if (r < 0) return -1;
    }
    return 0;
}

static void hl_sums_free(HlSums *S)
{
    for (Py_ssize_t x = 0; x < S->ne; x++) {
        Py_DECREF(S->e[x].obj);
        for (int k = 0; k < 4; k++) Py_XDECREF(S->e[x].carry[k]);
    }
    for (Py_ssize_t x = 0; x < S->np; x++) {
        Py_DECREF(S->p[x].keys);
        Py_DECREF(S->p[x].frames);
        Py_XDECREF(S->p[x].carry[0]);
        Py_XDECREF(S->p[x].carry[1]);
    }
    PyMem_Free(S->e);
    PyMem_Free(S->p);
    PyMem_Free(S->by_ptr.keys);
    PyMem_Free(S->by_ptr.vals);
    PyMem_Free(S->by_pair.keys);
    PyMem_Free(S->by_pair.vals);
}

/* hist_lookups' make_frame in C (report/hist.py's Hists._make_frame is the twin) where the frame keys are dso and
 * sym: `spec` has a letter per sort key in key order, "h" for the next item of head (a key that does not depend on
 * the frame), "d" for loc.dso_name and "s" for sortkeys.sym_identity(loc, False) ("hhds" for comm,pid,dso,sym,
 * "shd" for sym,pid,dso); the entry of that identity in `entries`, else a HistEntry made as its __init__ makes
 * one (callchain: chain_class() or None) and added. */
static int ca_offset(PyTypeObject *type, const char *name, Py_ssize_t *off);  /* (below: callchain_append's) */
#define HE_SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

typedef struct {
    PyTypeObject *type;
    Py_ssize_t ident, raw, trace_output, level, filtered, comm, tid, loc, trace, is_self, thread_comm, period, nr_events,
        period_acc, hits, trace_known, thread, callchain, pairs, slot;
} HistEntrySlots;

static HistEntrySlots he_slots;
static PyObject *mf_s_has_sym, *mf_s_inlined, *mf_s_avma, *mf_s_dso_name, *mf_s_name, *mf_s_sym_start, *mf_s_a,
    *mf_s_i, *mf_s_s, *mf_s_empty, *mf_zero, *mf_minus_one;
static SlotCache mf_c_has_sym, mf_c_inlined, mf_c_avma, mf_c_dso_name, mf_c_name, mf_c_sym_start;

static int he_setup(PyTypeObject *type)
{
    if (!mf_s_has_sym) {
        if (!(mf_s_has_sym = PyUnicode_InternFromString("has_sym")) ||
            !(mf_s_inlined = PyUnicode_InternFromString("inlined")) || !(mf_s_avma = PyUnicode_InternFromString("avma")) ||
            !(mf_s_dso_name = PyUnicode_InternFromString("dso_name")) ||
            !(mf_s_name = PyUnicode_InternFromString("name")) ||
            !(mf_s_sym_start = PyUnicode_InternFromString("sym_start")) ||
            !(mf_s_a = PyUnicode_InternFromString("a")) || !(mf_s_i = PyUnicode_InternFromString("i")) ||
            !(mf_s_s = PyUnicode_InternFromString("s")) || !(mf_s_empty = PyUnicode_InternFromString("")) ||
            !(mf_zero = PyLong_FromLong(0)) || !(mf_minus_one = PyLong_FromLong(-1)))
            return -1;
    }
    if (he_slots.type == type) return 0;
    HistEntrySlots s = {type};
    if (ca_offset(type, "ident", &s.ident) < 0 || ca_offset(type, "raw", &s.raw) < 0 ||
        ca_offset(type, "trace_output", &s.trace_output) < 0 || ca_offset(type, "level", &s.level) < 0 ||
        ca_offset(type, "filtered", &s.filtered) < 0 || ca_offset(type, "comm", &s.comm) < 0 ||
        ca_offset(type, "tid", &s.tid) < 0 || ca_offset(type, "loc", &s.loc) < 0 || ca_offset(type, "trace", &s.trace) < 0 ||
        ca_offset(type, "is_self", &s.is_self) < 0 || ca_offset(type, "thread_comm", &s.thread_comm) < 0 ||
        ca_offset(type, "period", &s.period) < 0 || ca_offset(type, "nr_events", &s.nr_events) < 0 ||
        ca_offset(type, "period_acc", &s.period_acc) < 0 || ca_offset(type, "hits", &s.hits) < 0 ||
        ca_offset(type, "trace_known", &s.trace_known) < 0 || ca_offset(type, "thread", &s.thread) < 0 ||
        ca_offset(type, "callchain", &s.callchain) < 0 || ca_offset(type, "pairs", &s.pairs) < 0 ||
        ca_offset(type, "slot", &s.slot) < 0)
        return -1;
    Py_INCREF(type);
    Py_XDECREF(he_slots.type);
    he_slots = s;
    return 0;
}

/* sortkeys.sym_identity(loc, False), a new reference */
static PyObject *mf_sym_identity(PyObject *loc)
{
    int has = sa_true(loc, mf_s_has_sym, &mf_c_has_sym);
    if (has < 0) return NULL;
    if (!has) {
        PyObject *avma = sa_get(loc, mf_s_avma, &mf_c_avma);
        if (!avma) return NULL;
        PyObject *t = PyTuple_Pack(3, mf_s_a, mf_s_empty, avma);
        Py_DECREF(avma);
        return t;
    }
    int inl = sa_true(loc, mf_s_inlined, &mf_c_inlined);
    if (inl < 0) return NULL;
    PyObject *dso = sa_get(loc, mf_s_dso_name, &mf_c_dso_name), *name = NULL, *start = NULL, *t = NULL;
    if (!dso) return NULL;
    int dt = PyObject_IsTrue(dso);  /* loc.dso_name or "" */
    if (dt < 0) goto out;
    if (!dt) Py_SETREF(dso, Py_NewRef(mf_s_empty));
    if (!(name = sa_get(loc, mf_s_name, &mf_c_name)) || !(start = sa_get(loc, mf_s_sym_start, &mf_c_sym_start))) goto out;
    t = inl ? PyTuple_Pack(4, mf_s_i, dso, name, start) : PyTuple_Pack(4, mf_s_s, dso, start, name);
out:
    Py_XDECREF(dso);
    Py_XDECREF(name);
    Py_XDECREF(start);
    return t;
}

static PyObject *mf_make(const char *spec, PyObject *entries, PyObject *chain_class, PyObject *head, PyObject *frame,
                         PyObject *comm, PyObject *tid, PyObject *trace, PyObject *filtered, PyObject *level,
                         PyObject *raw)
{
    Py_ssize_t nh = PyTuple_GET_SIZE(head), n = (Py_ssize_t)strlen(spec), h = 0;
    PyObject *ident = PyTuple_New(n), *entry;
    if (!ident) return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *v;
        if (spec[k] == 'h') {
            if (h >= nh) {
                Py_DECREF(ident);
                PyErr_SetString(PyExc_ValueError, "hist_lookups: a head shorter than the fast spec's 'h's");
                return NULL;
            }
            v = Py_NewRef(PyTuple_GET_ITEM(head, h++));
        } else
            v = spec[k] == 'd' ? sa_get(frame, mf_s_dso_name, &mf_c_dso_name) : mf_sym_identity(frame);
        if (!v) { Py_DECREF(ident); return NULL; }
        PyTuple_SET_ITEM(ident, k, v);
    }
    if (h != nh) {
        Py_DECREF(ident);
        PyErr_SetString(PyExc_ValueError, "hist_lookups: a head longer than the fast spec's 'h's");
        return NULL;
    }
    entry = PyDict_GetItemWithError(entries, ident);
    if (entry || PyErr_Occurred()) {
        Py_DECREF(ident);
        return Py_XNewRef(entry);
    }
    PyObject *cc = chain_class != Py_None ? PyObject_CallNoArgs(chain_class) : Py_NewRef(Py_None);
    if (!cc) { Py_DECREF(ident); return NULL; }
    PyTypeObject *type = he_slots.type;
    if (!(entry = type->tp_alloc(type, 0))) { Py_DECREF(cc); Py_DECREF(ident); return NULL; }
    HE_SLOT(entry, he_slots.ident) = Py_NewRef(ident);
    HE_SLOT(entry, he_slots.raw) = Py_NewRef(raw);
    HE_SLOT(entry, he_slots.trace_output) = Py_NewRef(trace);
    HE_SLOT(entry, he_slots.level) = Py_NewRef(level);
    HE_SLOT(entry, he_slots.filtered) = Py_NewRef(filtered);
    HE_SLOT(entry, he_slots.comm) = Py_NewRef(comm);
    HE_SLOT(entry, he_slots.tid) = Py_NewRef(tid);
    HE_SLOT(entry, he_slots.loc) = Py_NewRef(frame);
    HE_SLOT(entry, he_slots.trace) = Py_NewRef(trace);
    HE_SLOT(entry, he_slots.is_self) = Py_NewRef(Py_False);
    HE_SLOT(entry, he_slots.thread_comm) = Py_NewRef(comm);
    HE_SLOT(entry, he_slots.period) = Py_NewRef(mf_zero);
    HE_SLOT(entry, he_slots.nr_events) = Py_NewRef(mf_zero);
    HE_SLOT(entry, he_slots.period_acc) = Py_NewRef(mf_zero);
    HE_SLOT(entry, he_slots.hits) = Py_NewRef(mf_zero);
    HE_SLOT(entry, he_slots.trace_known) = Py_NewRef(Py_False);
    HE_SLOT(entry, he_slots.thread) = Py_NewRef(tid);
    HE_SLOT(entry, he_slots.callchain) = cc;
    HE_SLOT(entry, he_slots.pairs) = Py_NewRef(Py_None);
    HE_SLOT(entry, he_slots.slot) = Py_NewRef(mf_minus_one);
    int r = PyDict_SetItem(entries, ident, entry);
    Py_DECREF(ident);
    if (r < 0) { Py_DECREF(entry); return NULL; }
    return entry;
}

static PyObject *hist_lookups(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *groups, *entries, *frame_entries, *make_self, *make_frame;
    int caller, graphs, cumulative, every;
    PyObject *heads;
    PyObject *records = NULL, *made_after = NULL, *pending = NULL, *key_ids = NULL, *held = NULL, *result = NULL;
    U64Map ptr_ids = {0}, pair_ids = {0};
    int64_t npairs = 0;
    PyObject **idobjs = NULL;
    Py_ssize_t nidobjs = 0;
    PyObject **ids = NULL, **seen = NULL;
    int64_t *idnums = NULL;
    Py_ssize_t cap = 0;
    HlSums S = {0};
    PyObject *fast = NULL;  /* (spec, HistEntry class, CallchainRoot or None): make_frame in C (mf_make) */
    const char *spec = NULL;
    PyObject *chain_class = NULL;
    if (!PyArg_ParseTuple(args, "O!ppppO!O!O!OO|O:hist_lookups", &PyDict_Type, &groups, &caller, &graphs, &cumulative,
                          &every, &PyTuple_Type, &heads, &PyDict_Type, &entries, &PyDict_Type, &frame_entries, &make_self,
                          &make_frame, &fast))
        return NULL;
    if (fast && fast != Py_None) {
        PyObject *cls;
        if (!PyArg_ParseTuple(fast, "sO!O:hist_lookups' fast", &spec, &PyType_Type, &cls, &chain_class)) return NULL;
        if (strspn(spec, "hds") != strlen(spec) || strspn(spec, "h") == strlen(spec)) {
            PyErr_SetString(PyExc_ValueError, "hist_lookups: the fast spec is of 'h', 'd' and 's', one 'd' or 's' at least");
            return NULL;
        }
        if (he_setup((PyTypeObject *)cls) < 0) return NULL;
    }
    if (hl_strings() < 0) return NULL;
    if (!(records = PyList_New(0)) || !(made_after = PyList_New(0)) || !(pending = PyDict_New()) ||
        !(key_ids = PyDict_New()) || !(held = PyList_New(0)))
        goto done;
    Py_ssize_t gpos = 0;
    PyObject *gk, *gv;
    while (PyDict_Next(groups, &gpos, &gk, &gv)) {
        PyObject *frames = NULL, *keys = NULL, *sid = NULL, *entry = NULL, *listed = NULL, *level = NULL;
        PyObject *head = NULL, *known = NULL, *rec = NULL;
        Py_ssize_t n = 0, nids = 0;
        int ok = 0;
        if (!PyTuple_Check(gk) || PyTuple_GET_SIZE(gk) < 2 || !PyList_Check(gv) || PyList_GET_SIZE(gv) < 9) {
            PyErr_SetString(PyExc_TypeError, "hist_lookups: groups of (ident, chain id, ...) -> [period, ...]");
            goto done;
        }
        PyObject *ident = PyTuple_GET_ITEM(gk, 0), *chain_id = PyTuple_GET_ITEM(gk, 1);
        PyObject *period = PyList_GET_ITEM(gv, 0), *count = PyList_GET_ITEM(gv, 1), *tid = PyList_GET_ITEM(gv, 2);
        PyObject *comm = PyList_GET_ITEM(gv, 3), *loc = PyList_GET_ITEM(gv, 4), *chain = PyList_GET_ITEM(gv, 5);
        PyObject *trace = PyList_GET_ITEM(gv, 6), *filtered = PyList_GET_ITEM(gv, 7), *raw = PyList_GET_ITEM(gv, 8);
        Py_INCREF(period); Py_INCREF(count); Py_INCREF(tid); Py_INCREF(comm); Py_INCREF(loc);
        Py_INCREF(trace); Py_INCREF(filtered); Py_INCREF(raw);
        uint64_t pu = 0, cu = 0;
        int pok = hl_u64(period, &pu), cok = hl_u64(count, &cu);
        if (!(frames = PySequence_List(chain))) goto group_done;
        if (caller && PyList_Reverse(frames) < 0) goto group_done;
        n = PyList_GET_SIZE(frames);
        if (n >= cap) {
            Py_ssize_t ncap = n * 2 + 16;
            PyObject **a = PyMem_Realloc(ids, ncap * sizeof(PyObject *));
            if (!a) { PyErr_NoMemory(); goto group_done; }
            ids = a;
            a = PyMem_Realloc(seen, (ncap + 1) * sizeof(PyObject *));
            if (!a) { PyErr_NoMemory(); goto group_done; }
            seen = a;
            int64_t *b = PyMem_Realloc(idnums, ncap * sizeof(int64_t));
            if (!b) { PyErr_NoMemory(); goto group_done; }
            idnums = b;
            cap = ncap;
        }
        if (graphs && n) {
            if (!(keys = PyList_New(n))) goto group_done;
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *k = sa_get(PyList_GET_ITEM(frames, i), hl_s_key, &hl_c_key);
                if (!k) goto group_done;
                PyList_SET_ITEM(keys, i, k);
            }
            if (cumulative) {  /* hist._suffix_ids: (key, rest) interned as (key's id, rest) in a C table */
                int64_t rest = -1;
                for (Py_ssize_t i = n - 1; i >= 0; i--) {
                    PyObject *key = PyList_GET_ITEM(keys, i);
                    int found;
                    int64_t *kid = um_slot(&ptr_ids, (uint64_t)(uintptr_t)key, &found), id;
                    if (!kid) { PyErr_NoMemory(); goto group_done; }
                    if (!found) {  /* a key object not met yet: its id by value */
                        PyObject *got = PyDict_GetItemWithError(key_ids, key);
                        if (got) *kid = PyLong_AsLongLong(got);
                        else if (PyErr_Occurred()) goto group_done;
                        else {
                            PyObject *v = PyLong_FromSsize_t(PyDict_GET_SIZE(key_ids));
                            if (!v || PyDict_SetItem(key_ids, key, v) < 0) {
                                Py_XDECREF(v);
                                goto group_done;
                            }
                            *kid = PyDict_GET_SIZE(key_ids) - 1;
                            Py_DECREF(v);
                        }
                        /* (the key object is held to the end: its address stays its own) */
                        if (PyList_Append(held, key) < 0) goto group_done;
                    }
                    if (*kid >= ((int64_t)1 << 31) || rest + 1 >= ((int64_t)1 << 32)) {
                        PyErr_SetString(PyExc_OverflowError, "hist_lookups: too many chain keys");
                        goto group_done;
                    }
                    int64_t *pid = um_slot(&pair_ids, ((uint64_t)*kid << 32) | (uint64_t)(rest + 1), &found);
                    if (!pid) { PyErr_NoMemory(); goto group_done; }
                    if (!found) *pid = npairs++;
                    id = *pid;
                    if (id >= nidobjs) {
                        Py_ssize_t ncap = nidobjs ? nidobjs * 2 : 1024;
                        while (ncap <= id) ncap *= 2;
                        PyObject **a = PyMem_Realloc(idobjs, ncap * sizeof(PyObject *));
                        if (!a) { PyErr_NoMemory(); goto group_done; }
                        memset(a + nidobjs, 0, (ncap - nidobjs) * sizeof(PyObject *));
                        idobjs = a;
                        nidobjs = ncap;
                    }
                    if (!idobjs[id] && !(idobjs[id] = PyLong_FromLongLong(id))) goto group_done;
                    ids[i] = idobjs[id];
                    idnums[i] = id;
                    Py_INCREF(ids[i]);
                    nids++;
                    rest = id;
                }
                sid = ids[0];
                Py_INCREF(sid);
            } else if (!(sid = PyTuple_Pack(1, chain_id)))
                goto group_done;
        }
        Py_ssize_t before = PyDict_GET_SIZE(entries);
        entry = PyDict_GetItemWithError(entries, ident);
        if (entry) Py_INCREF(entry);
        else if (PyErr_Occurred() ||
                 !(entry = PyObject_CallFunctionObjArgs(make_self, ident, comm, tid, loc, trace, filtered, raw, NULL)))
            goto group_done;
        int made_self = PyDict_GET_SIZE(entries) != before;
        Py_ssize_t ex = hl_entry(&S, entry);
        if (ex < 0) goto group_done;
        {
            HlEntrySum *es = &S.e[ex];
            if (hl_sum(&es->v[0], &es->carry[0], period, pu, pok) < 0 || hl_sum(&es->v[1], &es->carry[1], count, cu, cok) < 0 ||
                hl_sum(&es->v[2], &es->carry[2], period, pu, pok) < 0 || hl_sum(&es->v[3], &es->carry[3], count, cu, cok) < 0)
                goto group_done;
        }
        if (sid) {
            PyObject *cc = sa_get(entry, hl_s_callchain, &hl_c_callchain);
            if (!cc) goto group_done;
            int has = cc != Py_None;
            Py_DECREF(cc);
            if (has) {
                if (nids) {
                    if (hl_pend_sum(&S, ex, idnums[0], keys, frames, 0, period, pu, pok, count, cu, cok) < 0)
                        goto group_done;
                } else if (hl_pend(pending, entry, sid, keys, frames, 0, period, count) < 0)
                    goto group_done;
            }
        }
        if (!(level = sa_get(loc, hl_s_level, &hl_c_level))) goto group_done;
        int loc_sym = 1;
        if (!every) {
            PyObject *hs = sa_get(loc, hl_s_has_sym, &hl_c_has_sym);
            if (!hs) goto group_done;
            loc_sym = PyObject_IsTrue(hs);
            Py_DECREF(hs);
            if (loc_sym < 0) goto group_done;
        }
        if ((every || !loc_sym) &&
            hl_list(&listed, entry, -1, loc, level, sid, made_self ? -1 : PyDict_GET_SIZE(entries)) < 0)
            goto group_done;
        if (cumulative) {
            Py_ssize_t nseen = 1, lvl_upto = 0;  /* level: that of frames[:lvl_upto] */
            Py_ssize_t nh = PyTuple_GET_SIZE(heads);
            if (!PyTuple_Check(ident)) { PyErr_SetString(PyExc_TypeError, "hist_lookups: identities are tuples"); goto group_done; }
            if (!(head = PyTuple_New(nh))) goto group_done;
            for (Py_ssize_t h = 0; h < nh; h++) {
                Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(heads, h));
                if (at < 0 || at >= PyTuple_GET_SIZE(ident)) {
                    if (!PyErr_Occurred()) PyErr_SetString(PyExc_IndexError, "hist_lookups: a head index out of the identity");
                    goto group_done;
                }
                PyObject *v = PyTuple_GET_ITEM(ident, at);
                Py_INCREF(v);
                PyTuple_SET_ITEM(head, h, v);
            }
            known = PyDict_GetItemWithError(frame_entries, head);
            if (known) Py_INCREF(known);
            else if (PyErr_Occurred() || !(known = PyDict_New()) || PyDict_SetItem(frame_entries, head, known) < 0)
                goto group_done;
            if (!PyDict_Check(known)) {
                PyErr_SetString(PyExc_TypeError, "hist_lookups: frame_entries' values are dicts");
                goto group_done;
            }
            seen[0] = entry;
            for (Py_ssize_t i = 0; i < n; i++) {
                PyObject *frame = PyList_GET_ITEM(frames, i), *fe;
                int made = 0, sym = 1;
                if (!every) {
                    PyObject *hs = sa_get(frame, hl_s_has_sym, &hl_c_has_sym);
                    if (!hs) goto group_done;
                    sym = PyObject_IsTrue(hs);
                    Py_DECREF(hs);
                    if (sym < 0) goto group_done;
                }
                fe = PyDict_GetItemWithError(known, frame);
                if (!fe && PyErr_Occurred()) goto group_done;
                if (!fe || every || !sym) {  /* the level (perf's al->level) is needed: frames up to this one */
                    for (; lvl_upto <= i; lvl_upto++) {
                        PyObject *f = PyList_GET_ITEM(frames, lvl_upto), *mp = sa_get(f, hl_s_mapped, &hl_c_mapped);
                        if (!mp) goto group_done;
                        int m = PyObject_IsTrue(mp);
                        Py_DECREF(mp);
                        if (m < 0) goto group_done;
                        if (m) {
                            PyObject *lv = sa_get(f, hl_s_level, &hl_c_level);
                            if (!lv) goto group_done;
                            Py_SETREF(level, lv);
                        }
                    }
                }
                if (fe) Py_INCREF(fe);
                else {
                    Py_ssize_t b = PyDict_GET_SIZE(entries);
                    fe = spec ? mf_make(spec, entries, chain_class, head, frame, comm, tid, trace, filtered, level, raw) :
                                PyObject_CallFunctionObjArgs(make_frame, head, frame, comm, tid, trace, filtered, level,
                                                             raw, NULL);
                    if (!fe) goto group_done;
                    if (PyDict_SetItem(known, frame, fe) < 0) { Py_DECREF(fe); goto group_done; }
                    made = PyDict_GET_SIZE(entries) != b;
                }
                Py_ssize_t s = 0;
                while (s < nseen && seen[s] != fe) s++;
                if (s < nseen) { Py_DECREF(fe); continue; }
                seen[nseen++] = fe;  /* (kept alive by `known`) */
                Py_ssize_t fx = hl_entry(&S, fe);
                if (fx < 0 || hl_sum(&S.e[fx].v[0], &S.e[fx].carry[0], period, pu, pok) < 0 ||
                    hl_sum(&S.e[fx].v[1], &S.e[fx].carry[1], count, cu, cok) < 0) {
                    Py_DECREF(fe);
                    goto group_done;
                }
                PyObject *fsid = nids ? ids[i] : NULL;
                if (fsid && hl_pend_sum(&S, fx, idnums[i], keys, frames, i, period, pu, pok, count, cu, cok) < 0) {
                    Py_DECREF(fe);
                    goto group_done;
                }
                if ((every || !sym) &&
                    hl_list(&listed, fe, i, frame, level, fsid, made ? -1 : PyDict_GET_SIZE(entries)) < 0) {
                    Py_DECREF(fe);
                    goto group_done;
                }
                Py_DECREF(fe);
            }
        }
        if (listed)
            rec = PyTuple_Pack(10, period, count, tid, comm, trace, filtered, raw, listed, keys ? keys : Py_None,
                               graphs ? frames : Py_None);  /* (without trees no look-up appends the chain) */
        else {
            rec = Py_None;
            Py_INCREF(rec);
        }
        if (!rec || PyList_Append(records, rec) < 0) goto group_done;
        PyObject *m = PyLong_FromSsize_t(PyDict_GET_SIZE(entries));
        if (!m) goto group_done;
        ok = PyList_Append(made_after, m) == 0;
        Py_DECREF(m);
    group_done:
        for (Py_ssize_t i = 0; i < nids; i++) Py_DECREF(ids[n - 1 - i]);
        Py_XDECREF(frames); Py_XDECREF(keys); Py_XDECREF(sid); Py_XDECREF(entry); Py_XDECREF(listed);
        Py_XDECREF(level); Py_XDECREF(head); Py_XDECREF(known); Py_XDECREF(rec);
        Py_DECREF(period); Py_DECREF(count); Py_DECREF(tid); Py_DECREF(comm); Py_DECREF(loc);
        Py_DECREF(trace); Py_DECREF(filtered); Py_DECREF(raw);
        if (!ok) goto done;
    }
    if (hl_flush(&S, pending, idobjs) < 0) goto done;
    result = PyTuple_Pack(3, records, made_after, pending);
done:
    hl_sums_free(&S);
    PyMem_Free(idnums);
    Py_XDECREF(records);
    Py_XDECREF(made_after);
    Py_XDECREF(pending);
    Py_XDECREF(key_ids);
    Py_XDECREF(held);
    for (Py_ssize_t i = 0; i < nidobjs; i++) Py_XDECREF(idobjs[i]);
    PyMem_Free(idobjs);
    PyMem_Free(ptr_ids.keys);
    PyMem_Free(ptr_ids.vals);
    PyMem_Free(pair_ids.keys);
    PyMem_Free(pair_ids.vals);
    PyMem_Free(ids);
    PyMem_Free(seen);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * frame_cmp(left, right) -> -1, 0 or 1
 *     callchain/tree.py's compare_frames (its Python twin; tests/test_report_lookups.py compares them): perf's
 *     match_chain order of two frames, by name when both are resolved and one is inlined, by (dso_rank,
 *     sym_start) when both are resolved, else by (dso_rank, avma), each compared as Python compares them.
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *fc_s_name, *fc_s_inlined, *fc_s_dso_rank, *fc_s_sym_start, *fc_s_avma;

static SlotCache fc_c_has_sym, fc_c_inlined, fc_c_name, fc_c_dso_rank, fc_c_sym_start, fc_c_avma;

static SlotCache *fc_cache(PyObject *name)
{
    return name == fc_s_name ? &fc_c_name : name == fc_s_inlined ? &fc_c_inlined : name == fc_s_dso_rank ?
        &fc_c_dso_rank : name == fc_s_sym_start ? &fc_c_sym_start : name == fc_s_avma ? &fc_c_avma : &fc_c_has_sym;
}

static int fc_true(PyObject *obj, PyObject *name)
{
    return sa_true(obj, name, fc_cache(name));
}

/* Python's (a > b) - (a < b) of two attributes' values; -2 on an error */
static int fc_attr_cmp(PyObject *left, PyObject *right, PyObject *name)
{
    PyObject *a = sa_get(left, name, fc_cache(name)), *b;
    int r = -2;
    if (!a) return -2;
    if (!(b = sa_get(right, name, fc_cache(name)))) { Py_DECREF(a); return -2; }
    int gt = PyObject_RichCompareBool(a, b, Py_GT);
    int lt = gt < 0 ? -1 : PyObject_RichCompareBool(a, b, Py_LT);
    if (gt >= 0 && lt >= 0) r = gt - lt;
    Py_DECREF(a);
    Py_DECREF(b);
    return r;
}


static int fc_init(void)
{
    if (hl_strings() < 0) return -1;
    if (!fc_s_avma && (!(fc_s_name = PyUnicode_InternFromString("name")) ||
                       !(fc_s_inlined = PyUnicode_InternFromString("inlined")) ||
                       !(fc_s_dso_rank = PyUnicode_InternFromString("dso_rank")) ||
                       !(fc_s_sym_start = PyUnicode_InternFromString("sym_start")) ||
                       !(fc_s_avma = PyUnicode_InternFromString("avma"))))
        return -1;
    return 0;
}

/* -1, 0 or 1; -2 on an error (fc_init done) */
static int fc_cmp(PyObject *left, PyObject *right)
{
    int ls = fc_true(left, hl_s_has_sym), rs, c;
    if (ls < 0 || (rs = fc_true(right, hl_s_has_sym)) < 0) return -2;
    if (ls && rs) {
        int li = fc_true(left, fc_s_inlined), ri;
        if (li < 0 || (ri = fc_true(right, fc_s_inlined)) < 0) return -2;
        if (li || ri)
            c = fc_attr_cmp(left, right, fc_s_name);
        else if ((c = fc_attr_cmp(left, right, fc_s_dso_rank)) == 0)
            c = fc_attr_cmp(left, right, fc_s_sym_start);
    } else if ((c = fc_attr_cmp(left, right, fc_s_dso_rank)) == 0)
        c = fc_attr_cmp(left, right, fc_s_avma);
    return c;
}

static PyObject *frame_cmp(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "frame_cmp(left, right)");
        return NULL;
    }
    if (fc_init() < 0) return NULL;
    int c = fc_cmp(args[0], args[1]);
    if (c == -2) return NULL;
    return PyLong_FromLong(c);
}

/* ---------------------------------------------------------------------------------------------------------
 * callchain_append(root, keys, frames, period, count) -> None
 *     callchain/tree.py's CallchainRoot.append (its Python twin; tests/test_report_lookups.py compares the
 *     trees they build): one chain (keys and frames in print order) added to the radix tree of
 *     root.node, root.max_depth raised to its length. The nodes are tree.Node objects (their class: that of
 *     root.node), read and written through their slots' member descriptors; a new node is allocated as
 *     Node's own __init__ would leave it (children {}, hits and counts 0).
 * ------------------------------------------------------------------------------------------------------ */

typedef struct {
    PyTypeObject *type;
    Py_ssize_t parent, val, keys, children, hit, children_hit, count, children_count;
} NodeSlots;

static NodeSlots ca_slots;
static PyObject *ca_s_node, *ca_s_max_depth;

#define CA_SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

static int ca_offset(PyTypeObject *type, const char *name, Py_ssize_t *off)
{
    PyObject *n = PyUnicode_FromString(name), *d;
    if (!n) return -1;
    d = _PyType_Lookup(type, n);  /* (along the MRO: a subclass's, e.g. callchain.rbreplay.RNode, too) */
    Py_DECREF(n);
    if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type) || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "callchain_append: node class without the slot %s", name);
        return -1;
    }
    *off = ((PyMemberDescrObject *)d)->d_member->offset;
    return 0;
}

static int ca_setup(PyTypeObject *type)
{
    if (ca_slots.type == type) return 0;
    if (!ca_s_node && (!(ca_s_node = PyUnicode_InternFromString("node")) ||
                       !(ca_s_max_depth = PyUnicode_InternFromString("max_depth"))))
        return -1;
    NodeSlots s = {type};
    if (ca_offset(type, "parent", &s.parent) < 0 || ca_offset(type, "val", &s.val) < 0 ||
        ca_offset(type, "keys", &s.keys) < 0 || ca_offset(type, "children", &s.children) < 0 ||
        ca_offset(type, "hit", &s.hit) < 0 || ca_offset(type, "children_hit", &s.children_hit) < 0 ||
        ca_offset(type, "count", &s.count) < 0 || ca_offset(type, "children_count", &s.children_count) < 0)
        return -1;
    Py_INCREF(type);
    Py_XDECREF(ca_slots.type);
    ca_slots = s;
    return 0;
}

/* the slot's value (borrowed), an AttributeError if unset */
static PyObject *ca_get(PyObject *o, Py_ssize_t off)
{
    PyObject *v = CA_SLOT(o, off);
    if (!v) PyErr_SetString(PyExc_AttributeError, "callchain_append: a node slot is unset");
    return v;
}

static void ca_set(PyObject *o, Py_ssize_t off, PyObject *v)  /* v: a new reference, stolen */
{
    PyObject *old = CA_SLOT(o, off);
    CA_SLOT(o, off) = v;
    Py_XDECREF(old);
}

static int ca_add(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject *cur = ca_get(o, off), *sum;
    if (!cur || !(sum = PyNumber_Add(cur, v))) return -1;
    ca_set(o, off, sum);
    return 0;
}

/* Node(parent, val, keys): val and keys new references, stolen */
static PyObject *ca_node(PyObject *parent, PyObject *val, PyObject *keys)
{
    PyTypeObject *type = ca_slots.type;
    PyObject *node = type->tp_alloc(type, 0), *children, *zero;
    if (!node || !(children = PyDict_New())) {
        Py_XDECREF(node);
        Py_DECREF(val);
        Py_DECREF(keys);
        return NULL;
    }
    zero = PyLong_FromLong(0);
    Py_INCREF(parent);
    ca_set(node, ca_slots.parent, parent);
    ca_set(node, ca_slots.val, val);
    ca_set(node, ca_slots.keys, keys);
    ca_set(node, ca_slots.children, children);
    Py_INCREF(zero); ca_set(node, ca_slots.hit, zero);
    Py_INCREF(zero); ca_set(node, ca_slots.children_hit, zero);
    Py_INCREF(zero); ca_set(node, ca_slots.count, zero);
    ca_set(node, ca_slots.children_count, zero);
    return node;
}

/* tree._add_child: a child of `parent` with keys[pos:] and frames[pos:], period and count its hits */
static int ca_add_child(PyObject *parent, PyObject *keys, PyObject *frames, Py_ssize_t pos, PyObject *period,
                        PyObject *count)
{
    PyObject *k = PyList_GetSlice(keys, pos, PyList_GET_SIZE(keys)), *fs, *f, *child;
    if (!k) return -1;
    if (!(fs = PySequence_GetSlice(frames, pos, PY_SSIZE_T_MAX))) { Py_DECREF(k); return -1; }
    f = PySequence_List(fs);
    Py_DECREF(fs);
    if (!f) { Py_DECREF(k); return -1; }
    if (!(child = ca_node(parent, f, k))) return -1;
    Py_INCREF(period); ca_set(child, ca_slots.hit, period);
    Py_INCREF(count); ca_set(child, ca_slots.count, count);
    PyObject *children = ca_get(parent, ca_slots.children);
    int r = children && PyList_GET_SIZE(k) ? PyDict_SetItem(children, PyList_GET_ITEM(k, 0), child) : -1;
    Py_DECREF(child);
    return r;
}

/* tree._split: `node` keeps its first `at` frames, the rest moves to a new child with its children and hits;
 * then keys[pos:] (if any) is added beside it */
static int ca_split(PyObject *node, Py_ssize_t at, PyObject *keys, PyObject *frames, Py_ssize_t pos,
                    PyObject *period, PyObject *count)
{
    PyObject *val = ca_get(node, ca_slots.val), *nkeys = ca_get(node, ca_slots.keys), *tail, *tv, *tk;
    if (!val || !nkeys || !PyList_Check(val) || !PyList_Check(nkeys)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "callchain_append: node runs are lists");
        return -1;
    }
    if (!(tv = PyList_GetSlice(val, at, PyList_GET_SIZE(val)))) return -1;
    if (!(tk = PyList_GetSlice(nkeys, at, PyList_GET_SIZE(nkeys)))) { Py_DECREF(tv); return -1; }
    if (!(tail = ca_node(node, tv, tk))) return -1;
    Py_ssize_t moved[] = {ca_slots.children, ca_slots.hit, ca_slots.children_hit, ca_slots.count,
                          ca_slots.children_count};
    for (int i = 0; i < 5; i++) {
        PyObject *v = ca_get(node, moved[i]);
        if (!v) { Py_DECREF(tail); return -1; }
        Py_INCREF(v);
        ca_set(tail, moved[i], v);
    }
    PyObject *gchildren = CA_SLOT(tail, ca_slots.children), *gk, *gv;
    Py_ssize_t gpos = 0;
    if (!PyDict_Check(gchildren)) { Py_DECREF(tail); PyErr_SetString(PyExc_TypeError, "callchain_append: children"); return -1; }
    while (PyDict_Next(gchildren, &gpos, &gk, &gv)) {
        if (Py_TYPE(gv) != ca_slots.type) { Py_DECREF(tail); PyErr_SetString(PyExc_TypeError, "callchain_append: a child is no Node"); return -1; }
        Py_INCREF(tail);
        ca_set(gv, ca_slots.parent, tail);
    }
    if (PyList_SetSlice(val, at, PyList_GET_SIZE(val), NULL) < 0 ||
        PyList_SetSlice(nkeys, at, PyList_GET_SIZE(nkeys), NULL) < 0) {
        Py_DECREF(tail);
        return -1;
    }
    PyObject *children = PyDict_New();
    if (!children || PyDict_SetItem(children, PyList_GET_ITEM(tk, 0), tail) < 0) {
        Py_XDECREF(children);
        Py_DECREF(tail);
        return -1;
    }
    ca_set(node, ca_slots.children, children);
    PyObject *ch = PyNumber_Add(CA_SLOT(tail, ca_slots.hit), CA_SLOT(tail, ca_slots.children_hit));
    PyObject *cc = ch ? PyNumber_Add(CA_SLOT(tail, ca_slots.count), CA_SLOT(tail, ca_slots.children_count)) : NULL;
    Py_DECREF(tail);
    if (!ch || !cc) { Py_XDECREF(ch); return -1; }
    ca_set(node, ca_slots.children_hit, ch);
    ca_set(node, ca_slots.children_count, cc);
    if (pos < PyList_GET_SIZE(keys)) {
        PyObject *zero = PyLong_FromLong(0);
        Py_INCREF(zero);
        ca_set(node, ca_slots.hit, zero);
        ca_set(node, ca_slots.count, zero);
        if (ca_add(node, ca_slots.children_hit, period) < 0 || ca_add(node, ca_slots.children_count, count) < 0)
            return -1;
        return ca_add_child(node, keys, frames, pos, period, count);
    }
    Py_INCREF(period);
    ca_set(node, ca_slots.hit, period);
    Py_INCREF(count);
    ca_set(node, ca_slots.count, count);
    return 0;
}

/* the chain keys[start:], frames[start:] appended to root's tree (callchain_append's body): 0, or -1 on an error */
static int ca_append(PyObject *root, PyObject *keys, PyObject *frames, Py_ssize_t start, PyObject *period,
                     PyObject *count)
{
    PyObject *node = NULL;
    int result = -1;
    Py_ssize_t n = PySequence_Length(keys), pos = start;
    if (n < 0) return -1;
    if (start < 0) {
        PyErr_SetString(PyExc_ValueError, "callchain_append: a negative start");
        return -1;
    }
    if (n <= start) return 0;
    if (!ca_s_node && (!(ca_s_node = PyUnicode_InternFromString("node")) ||
                       !(ca_s_max_depth = PyUnicode_InternFromString("max_depth"))))
        return -1;
    PyObject *depth = PyObject_GetAttr(root, ca_s_max_depth);
    if (!depth) return -1;
    Py_ssize_t d = PyLong_AsSsize_t(depth);
    Py_DECREF(depth);
    if (d == -1 && PyErr_Occurred()) return -1;
    if (n - start > d) {
        PyObject *v = PyLong_FromSsize_t(n - start);
        if (!v || PyObject_SetAttr(root, ca_s_max_depth, v) < 0) { Py_XDECREF(v); return -1; }
        Py_DECREF(v);
    }
    if (PyList_Check(keys)) Py_INCREF(keys);
    else if (!(keys = PySequence_List(keys))) return -1;
    if (!(node = PyObject_GetAttr(root, ca_s_node))) goto done;
    if (ca_setup(Py_TYPE(node)) < 0) goto done;
    for (;;) {
        if (ca_add(node, ca_slots.children_hit, period) < 0 || ca_add(node, ca_slots.children_count, count) < 0)
            goto done;
        PyObject *children = ca_get(node, ca_slots.children), *child, *ckeys;
        if (!children) goto done;
        if (!PyDict_Check(children)) { PyErr_SetString(PyExc_TypeError, "callchain_append: children"); goto done; }
        child = PyDict_GetItemWithError(children, PyList_GET_ITEM(keys, pos));
        if (!child) {
            if (PyErr_Occurred() || ca_add_child(node, keys, frames, pos, period, count) < 0) goto done;
            break;
        }
        if (Py_TYPE(child) != ca_slots.type) { PyErr_SetString(PyExc_TypeError, "callchain_append: a child is no Node"); goto done; }
        if (!(ckeys = ca_get(child, ca_slots.keys))) goto done;
        if (!PyList_Check(ckeys)) { PyErr_SetString(PyExc_TypeError, "callchain_append: node keys are lists"); goto done; }
        Py_ssize_t vlen = PyList_GET_SIZE(ckeys), matched = 0;
        /* (the run compared key by key as list equality compares: identity first, then ==) */
        while (matched < vlen && pos < n) {
            int eq = PyObject_RichCompareBool(PyList_GET_ITEM(ckeys, matched), PyList_GET_ITEM(keys, pos), Py_EQ);
            if (eq < 0) goto done;
            if (!eq) break;
            matched++;
            pos++;
        }
        if (matched < vlen) {
            Py_INCREF(child);
            int r = ca_split(child, matched, keys, frames, pos, period, count);
            Py_DECREF(child);
            if (r < 0) goto done;
            break;
        }
        if (pos == n) {
            if (ca_add(child, ca_slots.hit, period) < 0 || ca_add(child, ca_slots.count, count) < 0) goto done;
            break;
        }
        Py_INCREF(child);
        Py_SETREF(node, child);
    }
    result = 0;
done:
    Py_XDECREF(node);
    Py_DECREF(keys);
    return result;
}

static PyObject *callchain_append(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "callchain_append(root, keys, frames, period, count)");
        return NULL;
    }
    if (ca_append(args[0], args[1], args[2], 0, args[3], args[4]) < 0) return NULL;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------------------
 * append_pending(items, skip_below, merging) -> None
 *     report/hist.py's Hists._append_pending loop (its Python code is the twin; tests/test_hist_append_pending_c.py
 *     compares them): each [entry, keys, frames, i, period, count] of `items` in order; an entry whose
 *     period_acc is below skip_below and whose id is not in the set `merging` only raises its tree's
 *     max_depth to len(keys) - i; the others get keys[i:], frames[i:] appended (callchain_append, read from
 *     offset i: no slices made).
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *ap_s_period_acc, *ap_s_callchain, *ap_s_max_depth;

static PyObject *append_pending(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *items, *skip_below, *merging;
    if (!PyArg_ParseTuple(args, "O!OO!:append_pending", &PyList_Type, &items, &skip_below, &PySet_Type, &merging))
        return NULL;
    if (!ap_s_period_acc && (!(ap_s_period_acc = PyUnicode_InternFromString("period_acc")) ||
                             !(ap_s_callchain = PyUnicode_InternFromString("callchain")) ||
                             !(ap_s_max_depth = PyUnicode_InternFromString("max_depth"))))
        return NULL;
    int skipping = PyObject_IsTrue(skip_below);  /* (0: no entry's period_acc is below it) */
    if (skipping < 0) return NULL;
    for (Py_ssize_t x = 0; x < PyList_GET_SIZE(items); x++) {
        PyObject *item = PyList_GET_ITEM(items, x);
        if (!PyList_Check(item) || PyList_GET_SIZE(item) != 6) {
            PyErr_SetString(PyExc_TypeError, "append_pending: items are [entry, keys, frames, i, period, count]");
            return NULL;
        }
        Py_INCREF(item);
        PyObject *entry = PyList_GET_ITEM(item, 0), *keys = PyList_GET_ITEM(item, 1), *frames = PyList_GET_ITEM(item, 2);
        PyObject *cc = NULL;
        int ok = 0;
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(item, 3));
        if (i == -1 && PyErr_Occurred()) goto next;
        if (!(cc = PyObject_GetAttr(entry, ap_s_callchain))) goto next;
        if (skipping) {
            PyObject *acc = PyObject_GetAttr(entry, ap_s_period_acc);
            if (!acc) goto next;
            int below = PyObject_RichCompareBool(acc, skip_below, Py_LT);
            Py_DECREF(acc);
            if (below < 0) goto next;
            if (below) {
                PyObject *id = PyLong_FromVoidPtr(entry);
                int in = id ? PySet_Contains(merging, id) : -1;
                Py_XDECREF(id);
                if (in < 0) goto next;
                if (!in) {
                    Py_ssize_t n = PySequence_Length(keys);
                    if (n < 0) goto next;
                    PyObject *md = PyObject_GetAttr(cc, ap_s_max_depth);
                    if (!md) goto next;
                    Py_ssize_t d = PyLong_AsSsize_t(md);
                    Py_DECREF(md);
                    if (d == -1 && PyErr_Occurred()) goto next;
                    if (n - i > d) {
                        PyObject *v = PyLong_FromSsize_t(n - i);
                        if (!v || PyObject_SetAttr(cc, ap_s_max_depth, v) < 0) { Py_XDECREF(v); goto next; }
                        Py_DECREF(v);
                    }
                    ok = 1;
                    goto next;
                }
            }
        }
        ok = ca_append(cc, keys, frames, i, PyList_GET_ITEM(item, 4), PyList_GET_ITEM(item, 5)) == 0;
    next:
        Py_XDECREF(cc);
        Py_DECREF(item);
        if (!ok) return NULL;
    }
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------------------
 * other_dso_looks(records) -> [(record index, look index)]
 *     report/hist.py's _other_dso_looks (its Python twin): the listed look-ups (records[r][7][j], as
 *     hist_lookups lists them) of an unresolved frame (not frame.has_sym) whose dso_name differs from its
 *     entry's location's (look[0].loc.dso_name, compared with ==).
 * replay_looks(records, wraps, variant_of) -> looks
 *     report/hist.py's _replay_looks (its Python twin): per record None, or its look-ups of an identity
 *     that wraps (wraps[look[0].slot]) as (look index, identity, look[5]), the identity being
 *     variant_of.get((slot, look[2].dso_name), slot) when variant_of is a dict, else the slot; None when
 *     none wraps.
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *rl_s_slot, *rl_s_loc, *rl_s_dso_name;
static SlotCache rl_c_slot, rl_c_loc, rl_c_dso_name, rl_c_has_sym;

static int rl_strings(void)
{
    if (rl_s_dso_name) return 0;
    if (hl_strings() < 0 || !(rl_s_slot = PyUnicode_InternFromString("slot")) ||
        !(rl_s_loc = PyUnicode_InternFromString("loc")) || !(rl_s_dso_name = PyUnicode_InternFromString("dso_name")))
        return -1;
    return 0;
}

/* records[r][7] (a list), or NULL with *none set for a None record; NULL with an exception on a bad shape */
static PyObject *rl_looks_of(PyObject *rec, int *none)
{
    *none = rec == Py_None;
    if (*none) return NULL;
    if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) < 8 || !PyList_Check(PyTuple_GET_ITEM(rec, 7))) {
        PyErr_SetString(PyExc_TypeError, "replay: a record is None or a tuple whose [7] is a list");
        return NULL;
    }
    return PyTuple_GET_ITEM(rec, 7);
}

static PyObject *other_dso_looks(PyObject *Py_UNUSED(module), PyObject *records)
{
    if (!PyList_Check(records)) {
        PyErr_SetString(PyExc_TypeError, "other_dso_looks(records: list)");
        return NULL;
    }
    if (rl_strings() < 0) return NULL;
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    for (Py_ssize_t r = 0; r < PyList_GET_SIZE(records); r++) {
        int none;
        PyObject *looks = rl_looks_of(PyList_GET_ITEM(records, r), &none);
        if (!looks) {
            if (none) continue;
            goto fail;
        }
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(looks); j++) {
            PyObject *look = PyList_GET_ITEM(looks, j);
            if (!PyTuple_Check(look) || PyTuple_GET_SIZE(look) < 6) {
                PyErr_SetString(PyExc_TypeError, "other_dso_looks: a look-up is a tuple of 6");
                goto fail;
            }
            PyObject *frame = PyTuple_GET_ITEM(look, 2);
            int sym = sa_true(frame, hl_s_has_sym, &rl_c_has_sym);
            if (sym < 0) goto fail;
            if (sym) continue;
            PyObject *loc = sa_get(PyTuple_GET_ITEM(look, 0), rl_s_loc, &rl_c_loc), *a, *b;
            if (!loc) goto fail;
            a = sa_get(frame, rl_s_dso_name, &rl_c_dso_name);
            b = a ? sa_get(loc, rl_s_dso_name, &rl_c_dso_name) : NULL;
            Py_DECREF(loc);
            if (!b) { Py_XDECREF(a); goto fail; }
            int eq = PyObject_RichCompareBool(a, b, Py_EQ);
            Py_DECREF(a);
            Py_DECREF(b);
            if (eq < 0) goto fail;
            if (eq) continue;
            PyObject *pair = Py_BuildValue("(nn)", r, j);
            if (!pair || PyList_Append(out, pair) < 0) { Py_XDECREF(pair); goto fail; }
            Py_DECREF(pair);
        }
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *replay_looks(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *records, *wraps, *variant_of;
    if (!PyArg_ParseTuple(args, "O!O!O:replay_looks", &PyList_Type, &records, &PyList_Type, &wraps, &variant_of))
        return NULL;
    if (variant_of != Py_None && !PyDict_Check(variant_of)) {
        PyErr_SetString(PyExc_TypeError, "replay_looks: variant_of is a dict or None");
        return NULL;
    }
    if (rl_strings() < 0) return NULL;
    Py_ssize_t nr = PyList_GET_SIZE(records), nw = PyList_GET_SIZE(wraps);
    PyObject *out = PyList_New(nr);
    if (!out) return NULL;
    for (Py_ssize_t r = 0; r < nr; r++) {
        int none;
        PyObject *looks = rl_looks_of(PyList_GET_ITEM(records, r), &none), *mine = NULL;
        if (!looks && !none) goto fail;
        for (Py_ssize_t j = 0; looks && j < PyList_GET_SIZE(looks); j++) {
            PyObject *look = PyList_GET_ITEM(looks, j), *so, *x, *t;
            if (!PyTuple_Check(look) || PyTuple_GET_SIZE(look) < 6) {
                PyErr_SetString(PyExc_TypeError, "replay_looks: a look-up is a tuple of 6");
                Py_XDECREF(mine);
                goto fail;
            }
            if (!(so = sa_get(PyTuple_GET_ITEM(look, 0), rl_s_slot, &rl_c_slot))) { Py_XDECREF(mine); goto fail; }
            Py_ssize_t slot = PyLong_AsSsize_t(so);
            if (slot == -1 && PyErr_Occurred()) { Py_DECREF(so); Py_XDECREF(mine); goto fail; }
            if (slot < 0 || slot >= nw) {
                Py_DECREF(so);
                Py_XDECREF(mine);
                PyErr_SetString(PyExc_IndexError, "replay_looks: a slot out of wraps");
                goto fail;
            }
            int w = PyObject_IsTrue(PyList_GET_ITEM(wraps, slot));
            if (w <= 0) {
                Py_DECREF(so);
                if (w < 0) { Py_XDECREF(mine); goto fail; }
                continue;
            }
            x = so;
            if (variant_of != Py_None) {
                PyObject *dso = sa_get(PyTuple_GET_ITEM(look, 2), rl_s_dso_name, &rl_c_dso_name), *key, *got;
                key = dso ? PyTuple_Pack(2, so, dso) : NULL;
                Py_XDECREF(dso);
                if (!key) { Py_DECREF(so); Py_XDECREF(mine); goto fail; }
                got = PyDict_GetItemWithError(variant_of, key);
                Py_DECREF(key);
                if (got) {
                    Py_INCREF(got);
                    Py_SETREF(x, got);
                } else if (PyErr_Occurred()) { Py_DECREF(so); Py_XDECREF(mine); goto fail; }
            }
            t = Py_BuildValue("(nNO)", j, x, PyTuple_GET_ITEM(look, 5));
            if (!t || (!mine && !(mine = PyList_New(0))) || PyList_Append(mine, t) < 0) {
                Py_XDECREF(t);
                Py_XDECREF(mine);
                goto fail;
            }
            Py_DECREF(t);
        }
        PyList_SET_ITEM(out, r, mine ? mine : (Py_INCREF(Py_None), Py_None));
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------------------
 * sequence_records(order, bucket, gkeys) -> (numbers, periods)
 *     report/builder.py's _Sequence.records (its Python twin): of the session's samples in order, (bucket,
 *     group, period) each, those of `bucket` (all when bucket is None), their group's number (gkeys[group],
 *     found by the group object's address first: the session's groups are interned, gkeys holds its keys)
 *     and their period.
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *sequence_records(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *order, *bucket, *gkeys, *numbers = NULL, *periods = NULL, *result = NULL;
    U64Map by_addr = {0};
    if (!PyArg_ParseTuple(args, "O!OO!:sequence_records", &PyList_Type, &order, &bucket, &PyDict_Type, &gkeys))
        return NULL;
    Py_ssize_t pos = 0, n = PyList_GET_SIZE(order), k = 0;
    PyObject *key, *value;
    while (PyDict_Next(gkeys, &pos, &key, &value)) {
        int found;
        int64_t *slot = um_slot(&by_addr, (uint64_t)(uintptr_t)key, &found);
        if (!slot) { PyErr_NoMemory(); goto done; }
        long long v = PyLong_AsLongLong(value);
        if (v == -1 && PyErr_Occurred()) goto done;
        *slot = v;
    }
    if (!(numbers = PyList_New(n)) || !(periods = PyList_New(n))) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(order, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 3) {
            PyErr_SetString(PyExc_TypeError, "sequence_records: samples are (bucket, group, period)");
            goto done;
        }
        if (bucket != Py_None && PyTuple_GET_ITEM(item, 0) != bucket) continue;
        PyObject *group = PyTuple_GET_ITEM(item, 1), *num;
        int found;
        int64_t *slot = um_slot(&by_addr, (uint64_t)(uintptr_t)group, &found);
        if (!slot) { PyErr_NoMemory(); goto done; }
        if (found)
            num = PyLong_FromLongLong(*slot);
        else {  /* not one of gkeys' own objects: by equality (a KeyError if none) */
            by_addr.n--;  /* (the slot just made is left empty: undone below) */
            by_addr.keys[slot - by_addr.vals] = 0;
            num = PyDict_GetItemWithError(gkeys, group);
            if (!num) {
                if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, group);
                goto done;
            }
            Py_INCREF(num);
        }
        if (!num) goto done;
        PyList_SET_ITEM(numbers, k, num);
        PyObject *period = PyTuple_GET_ITEM(item, 2);
        Py_INCREF(period);
        PyList_SET_ITEM(periods, k, period);
        k++;
    }
    if (PyList_SetSlice(numbers, k, n, NULL) < 0 || PyList_SetSlice(periods, k, n, NULL) < 0) goto done;
    result = PyTuple_Pack(2, numbers, periods);
done:
    Py_XDECREF(numbers);
    Py_XDECREF(periods);
    PyMem_Free(by_addr.keys);
    PyMem_Free(by_addr.vals);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * sequence_fill(order, bucket, gkeys, numbers, periods) -> k
 *     report/builder.py's _Sequence.arrays (py_arrays is its twin): sequence_records' answers written into
 *     `numbers` (a writable 'I' array) and `periods` (a writable 'I' or 'Q' array) of len(order) items or
 *     more, and their number: 4 + 4 or 8 bytes a sample instead of two list slots and an int object
 *     (make.data: 78K samples, ~3 MiB less at the report's peak). OverflowError for a number above 32 bits
 *     or a period above the periods' item (nothing then is written past the sample before it).
 * ------------------------------------------------------------------------------------------------------ */

/* fmt 'I' (4 bytes), 'Q' (8) or 'P' (periods: either) */
static int sf_writable(PyObject *o, Py_buffer *v, char fmt, Py_ssize_t n)
{
    if (PyObject_GetBuffer(o, v, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) return -1;
    const char *f = v->format ? v->format : "B";
    if (f[0] == '@' || f[0] == '=') f++;
    int ok = !f[1] && ((f[0] == 'I' && v->itemsize == 4 && fmt != 'Q') || (f[0] == 'Q' && v->itemsize == 8 && fmt != 'I'));
    if (!ok || v->len / v->itemsize < n) {
        PyBuffer_Release(v);
        PyErr_Format(PyExc_TypeError, "sequence_fill: a writable %s array of len(order) items expected",
                     fmt == 'I' ? "'I'" : fmt == 'Q' ? "'Q'" : "'I' or 'Q'");
        return -1;
    }
    return 0;
}

static PyObject *sequence_fill(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *order, *bucket, *gkeys, *onum, *oper, *result = NULL;
    Py_buffer vn = {0}, vp = {0};
    U64Map by_addr = {0};
    if (!PyArg_ParseTuple(args, "O!OO!OO:sequence_fill", &PyList_Type, &order, &bucket, &PyDict_Type, &gkeys,
                          &onum, &oper))
        return NULL;
    Py_ssize_t pos = 0, n = PyList_GET_SIZE(order), k = 0;
    if (sf_writable(onum, &vn, 'I', n) < 0) return NULL;
    if (sf_writable(oper, &vp, 'P', n) < 0) { PyBuffer_Release(&vn); return NULL; }
    uint32_t *numbers = vn.buf;
    int wide = vp.itemsize == 8;
    PyObject *key, *value;
    while (PyDict_Next(gkeys, &pos, &key, &value)) {
        int found;
        int64_t *slot = um_slot(&by_addr, (uint64_t)(uintptr_t)key, &found);
        if (!slot) { PyErr_NoMemory(); goto done; }
        long long v = PyLong_AsLongLong(value);
        if (v == -1 && PyErr_Occurred()) goto done;
        *slot = v;
    }
    /* (the order's list may not change under the loop: nothing here calls back into Python but a group's
     * __eq__/__hash__ when it is not one of gkeys' own objects, and a dict look-up does not touch the order) */
    for (Py_ssize_t i = 0; i < n && i < PyList_GET_SIZE(order); i++) {
        PyObject *item = PyList_GET_ITEM(order, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 3) {
            PyErr_SetString(PyExc_TypeError, "sequence_fill: samples are (bucket, group, period)");
            goto done;
        }
        if (bucket != Py_None && PyTuple_GET_ITEM(item, 0) != bucket) continue;
        PyObject *group = PyTuple_GET_ITEM(item, 1);
        long long num;
        int found;
        int64_t *slot = um_slot(&by_addr, (uint64_t)(uintptr_t)group, &found);
        if (!slot) { PyErr_NoMemory(); goto done; }
        if (found)
            num = *slot;
        else {  /* not one of gkeys' own objects: by equality (a KeyError if none) */
            by_addr.n--;  /* (the slot just made is left empty) */
            by_addr.keys[slot - by_addr.vals] = 0;
            Py_INCREF(group);
            PyObject *got = PyDict_GetItemWithError(gkeys, group);
            Py_DECREF(group);
            if (!got) {
                if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, group);
                goto done;
            }
            num = PyLong_AsLongLong(got);
            if (num == -1 && PyErr_Occurred()) goto done;
        }
        if (num < 0 || num > (long long)UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "sequence_fill: a group number outside 32 bits");
            goto done;
        }
        unsigned long long period = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 2));
        if (period == (unsigned long long)-1 && PyErr_Occurred()) goto done;
        if (!wide && period > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "sequence_fill: a period outside 32 bits");
            goto done;
        }
        numbers[k] = (uint32_t)num;
        if (wide)
            ((uint64_t *)vp.buf)[k] = period;
        else
            ((uint32_t *)vp.buf)[k] = (uint32_t)period;
        k++;
    }
    result = PyLong_FromSsize_t(k);
done:
    PyBuffer_Release(&vn);
    PyBuffer_Release(&vp);
    PyMem_Free(by_addr.keys);
    PyMem_Free(by_addr.vals);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * rb_replay(chains) -> (max_depth, top_hit, top_count, nodes)
 *     callchain/rbreplay.py's replay loop (its Python twin; tests/test_callchain_rbreplay_c.py compares them on
 *     random trees and sample orders): each (keys, frames, period, count) of `chains` appended in turn as perf's
 *     callchain.c append_chain_children / append_chain / split_add_child do, every node's children in an rb-tree
 *     searched with match_chain (frame_cmp's order) and rebalanced as lib/rbtree.c does (rn_fixup: the CLRS
 *     rebalancing, report.rbtree._fixup). A node is a run (chain, start, len) of one chain's frames. `nodes`: one
 *     (parent, val, keys, hit, count, children_hit, children_count) per node, parents first (parent: the index
 *     in `nodes`, -1 for the root), each node's children in their rb-tree's order. (The twin's shortcuts, the
 *     look-up by key while a node's children are of one class and the end kept per chain, find what this
 *     search finds: equal keys are equal frames.) OverflowError when a sum does not fit 64 bits.
 * ------------------------------------------------------------------------------------------------------ */

typedef struct {
    Py_ssize_t chain, start, len, base, first;  /* base: its frames' place in rn_run's fidx; first: fidx[base] */
    unsigned long long hit, count, chit, ccount;
    Py_ssize_t left, right, parent, root;  /* rb links in the parent's children tree; root of its own */
    char red;
} RnNode;

typedef struct {
    RnNode *n;
    Py_ssize_t size, cap;
} RnArena;

static Py_ssize_t rn_new(RnArena *a, Py_ssize_t chain, Py_ssize_t start, Py_ssize_t len)
{
    if (a->size == a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 256;
        RnNode *n = PyMem_Realloc(a->n, cap * sizeof(RnNode));
        if (!n) { PyErr_NoMemory(); return -1; }
        a->n = n;
        a->cap = cap;
    }
    RnNode *x = &a->n[a->size];
    x->chain = chain;
    x->start = start;
    x->len = len;
    x->hit = x->count = x->chit = x->ccount = 0;
    x->left = x->right = x->parent = x->root = -1;
    x->red = 1;
    return a->size++;
}

static void rn_rotate_left(RnNode *n, Py_ssize_t *root, Py_ssize_t x)
{
    Py_ssize_t y = n[x].right;
    n[x].right = n[y].left;
    if (n[y].left >= 0) n[n[y].left].parent = x;
    n[y].parent = n[x].parent;
    if (n[x].parent < 0) *root = y;
    else if (x == n[n[x].parent].left) n[n[x].parent].left = y;
    else n[n[x].parent].right = y;
    n[y].left = x;
    n[x].parent = y;
}

static void rn_rotate_right(RnNode *n, Py_ssize_t *root, Py_ssize_t x)
{
    Py_ssize_t y = n[x].left;
    n[x].left = n[y].right;
    if (n[y].right >= 0) n[n[y].right].parent = x;
    n[y].parent = n[x].parent;
    if (n[x].parent < 0) *root = y;
    else if (x == n[n[x].parent].right) n[n[x].parent].right = y;
    else n[n[x].parent].left = y;
    n[y].right = x;
    n[x].parent = y;
}

static void rn_fixup(RnNode *n, Py_ssize_t *root, Py_ssize_t z)
{
    while (n[z].parent >= 0 && n[n[z].parent].red) {
        Py_ssize_t parent = n[z].parent, grand = n[parent].parent;
        if (parent == n[grand].left) {
            Py_ssize_t uncle = n[grand].right;
            if (uncle >= 0 && n[uncle].red) {
                n[parent].red = n[uncle].red = 0;
                n[grand].red = 1;
                z = grand;
                continue;
            }
            if (z == n[parent].right) {
                z = parent;
                rn_rotate_left(n, root, z);
                parent = n[z].parent;
            }
            n[parent].red = 0;
            n[grand].red = 1;
            rn_rotate_right(n, root, grand);
        } else {
            Py_ssize_t uncle = n[grand].left;
            if (uncle >= 0 && n[uncle].red) {
                n[parent].red = n[uncle].red = 0;
                n[grand].red = 1;
                z = grand;
                continue;
            }
            if (z == n[parent].left) {
                z = parent;
                rn_rotate_right(n, root, z);
                parent = n[z].parent;
            }
            n[parent].red = 0;
            n[grand].red = 1;
            rn_rotate_left(n, root, grand);
        }
    }
    n[*root].red = 0;
}

/* `x` linked below `parent` (-1: the first) of `owner`'s children tree, on the left if `left` */
static void rn_link(RnNode *n, Py_ssize_t owner, Py_ssize_t x, Py_ssize_t parent, int left)
{
    n[x].parent = parent;
    if (parent < 0) n[owner].root = x;
    else if (left) n[parent].left = x;
    else n[parent].right = x;
    rn_fixup(n, &n[owner].root, x);
}

/* a frame's match_chain fields read once per rb_replay call (ok: its fields are exact ints and its name an exact
 * str, compared here as Python compares them; else fc_cmp on the objects) */
typedef struct {
    PyObject *obj, *name;  /* borrowed: the frames live in the chains' lists, their names in the frames */
    long long dso, dso2, start, avma;  /* dso, dso2: dso_rank, an int (dso2 0) or a pair of ints */
    char ok, has_sym, inlined, dso_kind;  /* dso_kind 1: an int, 2: a pair (compared as Python compares them) */
} RnFrame;

static int rn_ll(PyObject *obj, PyObject *attr, long long *out)
{
    PyObject *v = sa_get(obj, attr, fc_cache(attr));
    int overflow = 0, ok = 0;
    if (!v) return -1;
    if (PyLong_CheckExact(v)) {
        *out = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (*out == -1 && PyErr_Occurred()) { Py_DECREF(v); return -1; }
        ok = !overflow;
    }
    Py_DECREF(v);
    return ok;
}

static int rn_frame(RnFrame *f, PyObject *obj)
{
    int r;
    f->obj = obj;
    f->name = NULL;
    f->ok = 0;
    if ((r = fc_true(obj, hl_s_has_sym)) < 0) return -1;
    f->has_sym = (char)r;
    f->inlined = 0;
    PyObject *rank = sa_get(obj, fc_s_dso_rank, fc_cache(fc_s_dso_rank));
    if (!rank) return -1;
    f->dso2 = 0;
    f->dso_kind = 0;
    if (PyLong_CheckExact(rank) || (PyTuple_CheckExact(rank) && PyTuple_GET_SIZE(rank) == 2 &&
                                    PyLong_CheckExact(PyTuple_GET_ITEM(rank, 0)) &&
                                    PyLong_CheckExact(PyTuple_GET_ITEM(rank, 1)))) {
        int o1 = 0, o2 = 0;
        if (PyLong_CheckExact(rank)) {
            f->dso = PyLong_AsLongLongAndOverflow(rank, &o1);
            f->dso_kind = 1;
        } else {
            f->dso = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(rank, 0), &o1);
            f->dso2 = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(rank, 1), &o2);
            f->dso_kind = 2;
        }
        if (o1 || o2) f->dso_kind = 0;
    }
    Py_DECREF(rank);
    if (!f->dso_kind) return 0;
    if ((r = rn_ll(obj, fc_s_avma, &f->avma)) <= 0) return r;
    if (f->has_sym) {
        if ((r = fc_true(obj, fc_s_inlined)) < 0) return -1;
        f->inlined = (char)r;
        PyObject *name = sa_get(obj, fc_s_name, fc_cache(fc_s_name));
        if (!name) return -1;
        int exact = PyUnicode_CheckExact(name);
        f->name = name;
        Py_DECREF(name);
        if (!exact) return 0;
        if ((r = rn_ll(obj, fc_s_sym_start, &f->start)) <= 0) return r;
    }
    f->ok = 1;
    return 0;
}

/* fc_cmp of two frames read by rn_frame: -1, 0 or 1; -2 on an error */
static int rn_cmp(const RnFrame *l, const RnFrame *r)
{
    if (l == r) return 0;
    if (!l->ok || !r->ok || l->dso_kind != r->dso_kind) return fc_cmp(l->obj, r->obj);
    long long a, b;
    if (l->has_sym && r->has_sym) {
        if (l->inlined || r->inlined) {
            int c = PyUnicode_Compare(l->name, r->name);
            if (c == -1 && PyErr_Occurred()) return -2;
            return c;
        }
        a = l->start, b = r->start;
    } else
        a = l->avma, b = r->avma;
    if (l->dso != r->dso) return l->dso < r->dso ? -1 : 1;
    if (l->dso2 != r->dso2) return l->dso2 < r->dso2 ? -1 : 1;
    return a < b ? -1 : a > b;
}

typedef struct {
    PyObject *keys, *frames;  /* borrowed */
    unsigned long long period, count;
} RnSpec;

/* one chain tuple (keys: list, frames: list, period, count) read into *spec; -1 on an error */
static int rn_spec(PyObject *item, RnSpec *spec)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 4 || !PyList_Check(PyTuple_GET_ITEM(item, 0)) ||
        !PyList_Check(PyTuple_GET_ITEM(item, 1))) {
        PyErr_SetString(PyExc_TypeError, "rb_replay: chains of (keys: list, frames: list, period, count)");
        return -1;
    }
    spec->keys = PyTuple_GET_ITEM(item, 0);
    spec->frames = PyTuple_GET_ITEM(item, 1);
    spec->period = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 2));
    if (spec->period == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    spec->count = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 3));
    if (spec->count == (unsigned long long)-1 && PyErr_Occurred()) return -1;
    if (PyList_GET_SIZE(spec->keys) != PyList_GET_SIZE(spec->frames)) {
        PyErr_SetString(PyExc_ValueError, "rb_replay: keys and frames of different lengths");
        return -1;
    }
    return 0;
}

/* rn_run's chains: `nspecs` specs, then `nitems` per-sample ones: each the next (entry, keys, frames) tuple of
 * entry `entry` in per_group[groups[i]] for its sample's number i (samples[]: its period is periods' item, its
 * count 1). 4 bytes a sample: the tuple is found again in its sample's list (rn_at reads the chains in order,
 * and a sample's items of one entry follow each other, so a cursor finds the next one), not kept as an 8-byte
 * pointer beside it (rb_replay_groups' arrays of make.data's 78K samples: 0.94 -> 0.31 MB at the report's peak,
 * bench/report's --no-children sets). */
typedef struct {
    const RnSpec *specs;
    Py_ssize_t nspecs;
    const uint32_t *samples;
    const UView *periods, *groups;
    PyObject *per_group;  /* (borrowed) */
    Py_ssize_t entry;
    Py_ssize_t last, last_j;  /* the cursor: the last chain read and its tuple's index in its sample's list */
} RnSource;

static inline void rn_at(RnSource *s, Py_ssize_t ci, RnSpec *out)
{
    if (ci < s->nspecs) {
        *out = s->specs[ci];
        return;
    }
    Py_ssize_t k = ci - s->nspecs, j = 0, skip = 0;
    uint32_t i = s->samples[k];
    if (k > 0 && s->samples[k - 1] == i) {
        if (s->last == ci - 1)
            j = s->last_j + 1;
        else  /* (not read in order: the items of this entry before this one, in this sample's list) */
            for (Py_ssize_t b = k - 1; b >= 0 && s->samples[b] == i; b--)
                skip++;
    }
    PyObject *these = PyList_GET_ITEM(s->per_group, (Py_ssize_t)uv_at(s->groups, i)), *t;
    for (;; j++) {  /* (rb_replay_groups' pass 0 checked the tuples and counted this one: it is there) */
        t = PyList_GET_ITEM(these, j);
        if (PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0)) == s->entry && skip-- == 0)
            break;
    }
    s->last = ci;
    s->last_j = j;
    out->keys = PyTuple_GET_ITEM(t, 1);
    out->frames = PyTuple_GET_ITEM(t, 2);
    out->period = uv_at(s->periods, i);
    out->count = 1;
}

/* a frames list met by rn_run: its frames' RnFrames at fidx[off...]; the node its last append ended on (end,
 * -1: none) when `made` nodes had been made (the twin's `ends`) */
typedef struct {
    Py_ssize_t off, end, made;
    PyObject *frames, *keys;  /* (borrowed: the specs' first with this frames list; nodes' val and keys sliced
                               * from them, a node naming its list) */
} RnList;

/* the replay of `nchains` specs in order: (max_depth, top_hit, top_count, nodes) (fc_init done) */
/* callchain/rbreplay.py's RNode made in C (rb_replay_groups with a node class): its slots' offsets, Node's
 * (ca_offset: along the MRO) and its own */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t parent, val, keys, children, hit, children_hit, count, children_count, rb, bykey, cls;
} RNodeSlots;

static RNodeSlots rn_slots;

static int rn_setup(PyTypeObject *type)
{
    if (rn_slots.type == type) return 0;
    RNodeSlots s = {type};
    if (ca_offset(type, "parent", &s.parent) < 0 || ca_offset(type, "val", &s.val) < 0 ||
        ca_offset(type, "keys", &s.keys) < 0 || ca_offset(type, "children", &s.children) < 0 ||
        ca_offset(type, "hit", &s.hit) < 0 || ca_offset(type, "children_hit", &s.children_hit) < 0 ||
        ca_offset(type, "count", &s.count) < 0 || ca_offset(type, "children_count", &s.children_count) < 0 ||
        ca_offset(type, "rb", &s.rb) < 0 || ca_offset(type, "bykey", &s.bykey) < 0 || ca_offset(type, "cls", &s.cls) < 0)
        return -1;
    Py_INCREF(type);
    Py_XDECREF(rn_slots.type);
    rn_slots = s;
    return 0;
}

/* an RNode as rbreplay._built leaves one: parent, val and keys given (val and keys stolen), children {}, rb,
 * bykey and cls None, the four sums */
static PyObject *rn_object(PyObject *parent, PyObject *val, PyObject *keys, unsigned long long hit,
                           unsigned long long count, unsigned long long chit, unsigned long long ccount)
{
    PyTypeObject *type = rn_slots.type;
    PyObject *node = type->tp_alloc(type, 0), *children = NULL, *h = NULL, *c = NULL, *ch = NULL, *cc = NULL;
    if (!node || !(children = PyDict_New()) || !(h = PyLong_FromUnsignedLongLong(hit)) ||
        !(c = PyLong_FromUnsignedLongLong(count)) || !(ch = PyLong_FromUnsignedLongLong(chit)) ||
        !(cc = PyLong_FromUnsignedLongLong(ccount))) {
        Py_XDECREF(node); Py_XDECREF(children); Py_XDECREF(h); Py_XDECREF(c); Py_XDECREF(ch);
        Py_DECREF(val);
        Py_DECREF(keys);
        return NULL;
    }
    CA_SLOT(node, rn_slots.parent) = Py_NewRef(parent);
    CA_SLOT(node, rn_slots.val) = val;
    CA_SLOT(node, rn_slots.keys) = keys;
    CA_SLOT(node, rn_slots.children) = children;
    CA_SLOT(node, rn_slots.hit) = h;
    CA_SLOT(node, rn_slots.count) = c;
    CA_SLOT(node, rn_slots.children_hit) = ch;
    CA_SLOT(node, rn_slots.children_count) = cc;
    CA_SLOT(node, rn_slots.rb) = Py_NewRef(Py_None);
    CA_SLOT(node, rn_slots.bykey) = Py_NewRef(Py_None);
    CA_SLOT(node, rn_slots.cls) = Py_NewRef(Py_None);
    return node;
}

/* ntype NULL: (max_depth, top_hit, top_count, [node tuples]); else (max_depth, the top RNode of the tree,
 * every node an RNode of rn_slots' class, children numbered in order) */
static PyObject *rn_run(RnSource *src, Py_ssize_t nchains, PyTypeObject *ntype)
{
    Py_ssize_t max_depth = 0;
    int ovf = 0;  /* a sum wrapped (the caller then runs the Python loop: Python's integers do not) */
    Py_ssize_t *fidx = NULL, nfidx = 0, capfidx = 0;  /* per distinct frames list, its frames' RnFrame */
    RnFrame *F = NULL;
    Py_ssize_t nF = 0, capF = 0;
    U64Map lists = {0}, objs = {0};  /* frames list -> its RnList; frame -> its RnFrame */
    RnList *L = NULL;
    Py_ssize_t nL = 0, capL = 0, made = 0;  /* made: nodes made or split so far */
    RnArena a = {NULL, 0, 0};
    PyObject *result = NULL, *out = NULL;
    Py_ssize_t *order = NULL, *outpar = NULL;
    Py_ssize_t top = rn_new(&a, -1, 0, 0);
    if (top < 0) goto done;
    for (Py_ssize_t ci = 0; ci < nchains; ci++) {
        RnSpec spec;
        rn_at(src, ci, &spec);
        PyObject *keys = spec.keys, *frames = spec.frames;
        unsigned long long period = spec.period, count = spec.count;
        Py_ssize_t n = PyList_GET_SIZE(frames), pos = 0, node = top;
        if (n == 0) continue;
        if (n > max_depth) max_depth = n;
        PyObject **fr = ((PyListObject *)frames)->ob_item;
        /* the list's frames read once per list object (the chains' lists do not change during the call) */
        int found_list;
        int64_t *lslot = um_slot(&lists, (uint64_t)(uintptr_t)frames, &found_list);
        if (!lslot) { PyErr_NoMemory(); goto done; }
        if (found_list) {
            RnList *l = &L[*lslot];
            if (l->end >= 0 && l->made == made) {
                /* it ended on a node with no node made since: every search meets the same trees */
                ovf |= __builtin_add_overflow(a.n[l->end].hit, period, &a.n[l->end].hit);
                ovf |= __builtin_add_overflow(a.n[l->end].count, count, &a.n[l->end].count);
                continue;
            }
        } else {
            if (nL == capL) {
                Py_ssize_t cap = capL ? capL * 2 : 256;
                RnList *l2 = PyMem_Realloc(L, cap * sizeof(RnList));
                if (!l2) { PyErr_NoMemory(); goto done; }
                L = l2;
                capL = cap;
            }
            L[nL].end = -1;
            L[nL].made = 0;
            L[nL].frames = frames;
            L[nL].keys = keys;
            *lslot = nL++;
            if (nfidx + n > capfidx) {
                Py_ssize_t cap = capfidx ? capfidx * 2 : 1024;
                while (cap < nfidx + n) cap *= 2;
                Py_ssize_t *f2 = PyMem_Realloc(fidx, cap * sizeof(Py_ssize_t));
                if (!f2) { PyErr_NoMemory(); goto done; }
                fidx = f2;
                capfidx = cap;
            }
            for (Py_ssize_t j = 0; j < n; j++) {
                int found_obj;
                int64_t *oslot = um_slot(&objs, (uint64_t)(uintptr_t)fr[j], &found_obj);
                if (!oslot) { PyErr_NoMemory(); goto done; }
                if (!found_obj) {
                    if (nF == capF) {
                        Py_ssize_t cap = capF ? capF * 2 : 256;
                        RnFrame *f2 = PyMem_Realloc(F, cap * sizeof(RnFrame));
                        if (!f2) { PyErr_NoMemory(); goto done; }
                        F = f2;
                        capF = cap;
                    }
                    if (rn_frame(&F[nF], fr[j]) < 0) goto done;
                    *oslot = nF++;
                }
                fidx[nfidx + j] = *oslot;
            }
            L[*lslot].off = nfidx;
            nfidx += n;
        }
        Py_ssize_t lx = *lslot;
        RnList *li = &L[lx];
        Py_ssize_t *fi = fidx + li->off;
        for (;;) {
            /* append_chain_children(node): its rb-tree searched with match_chain */
            const RnFrame *frame = &F[fi[pos]];
            Py_ssize_t parent = -1, cur = a.n[node].root, found = -1;
            int left = 0;
            while (cur >= 0) {
                RnNode *c = &a.n[cur];
                int r = c->first == fi[pos] ? 0 : rn_cmp(&F[c->first], frame);
                if (r == -2) goto done;
                if (r == 0) { found = cur; break; }
                parent = cur;
                left = r < 0;
                cur = left ? c->left : c->right;
            }
            if (found < 0) {
                Py_ssize_t x = rn_new(&a, lx, pos, n - pos);
                if (x < 0) goto done;
                a.n[x].hit = period;
                a.n[x].count = count;
                a.n[x].base = li->off + pos;
                a.n[x].first = fi[pos];
                rn_link(a.n, node, x, parent, left);
                made++;
                break;
            }
            /* append_chain(found): its frames while match_chain says equal */
            Py_ssize_t vlen = a.n[found].len, m = 1;
            const Py_ssize_t *val = fidx + a.n[found].base;
            pos++;
            while (m < vlen && pos < n) {
                int r = val[m] == fi[pos] ? 0 : rn_cmp(&F[val[m]], &F[fi[pos]]);
                if (r == -2) goto done;
                if (r != 0) break;
                m++;
                pos++;
            }
            if (m < vlen) {
                /* split_add_child: the tail takes the node's children tree and hits, the new branch beside it */
                Py_ssize_t tail = rn_new(&a, a.n[found].chain, a.n[found].start + m, vlen - m);
                if (tail < 0) goto done;
                RnNode *f = &a.n[found], *t = &a.n[tail];
                t->base = f->base + m;
                t->first = val[m];
                t->root = f->root;
                t->hit = f->hit;
                t->count = f->count;
                f->len = m;
                f->root = -1;
                rn_link(a.n, found, tail, -1, 0);
                if (pos < n) {
                    f->hit = f->count = 0;
                    int r = rn_cmp(&F[val[m]], &F[fi[pos]]);
                    if (r == -2) goto done;
                    Py_ssize_t x = rn_new(&a, lx, pos, n - pos);
                    if (x < 0) goto done;
                    a.n[x].hit = period;
                    a.n[x].count = count;
                    a.n[x].base = li->off + pos;
                    a.n[x].first = fi[pos];
                    rn_link(a.n, found, x, tail, r < 0);
                } else {
                    f->hit = period;
                    f->count = count;
                }
                made++;
                break;
            }
            if (pos == n) {
                ovf |= __builtin_add_overflow(a.n[found].hit, period, &a.n[found].hit);
                ovf |= __builtin_add_overflow(a.n[found].count, count, &a.n[found].count);
                li->end = found;
                li->made = made;
                break;
            }
            node = found;
        }
    }
    /* the nodes parents first, each one's children in order; children_hit/count summed from the leaves */
    Py_ssize_t total = a.size, nout = 0, sp;
    order = PyMem_Malloc(2 * total * sizeof(Py_ssize_t));
    if (!order) { PyErr_NoMemory(); goto done; }
    outpar = order + total;
    order[nout] = top;
    outpar[nout++] = -1;
    for (Py_ssize_t i = 0; i < nout; i++) {
        /* in-order walk of order[i]'s children tree (rb parent links lead back up) */
        Py_ssize_t cur = a.n[order[i]].root;
        if (cur < 0) continue;
        while (a.n[cur].left >= 0) cur = a.n[cur].left;
        while (cur >= 0) {
            order[nout] = cur;
            outpar[nout++] = i;
            if (a.n[cur].right >= 0) {
                cur = a.n[cur].right;
                while (a.n[cur].left >= 0) cur = a.n[cur].left;
            } else {
                Py_ssize_t up = a.n[cur].parent;
                while (up >= 0 && cur == a.n[up].right) { cur = up; up = a.n[up].parent; }
                cur = up;
            }
        }
    }
    for (sp = nout - 1; sp > 0; sp--) {
        RnNode *x = &a.n[order[sp]], *p = &a.n[order[outpar[sp]]];
        unsigned long long h, c;
        ovf |= __builtin_add_overflow(x->hit, x->chit, &h) | __builtin_add_overflow(p->chit, h, &p->chit);
        ovf |= __builtin_add_overflow(x->count, x->ccount, &c) | __builtin_add_overflow(p->ccount, c, &p->ccount);
    }
    if (ovf) {
        PyErr_SetString(PyExc_OverflowError, "rb_replay: a sum above 2**64 - 1");
        goto done;
    }
    if (ntype) {  /* the RNodes themselves, parents first (made[i]: order[i]'s) */
        PyObject **made = PyMem_Calloc(nout, sizeof(PyObject *)), *none = Py_None;
        if (!made) { PyErr_NoMemory(); goto done; }
        PyObject *v0 = PyList_New(0), *k0 = v0 ? PyList_New(0) : NULL;
        if (!k0) { Py_XDECREF(v0); PyMem_Free(made); goto done; }
        made[0] = rn_object(none, v0, k0, 0, 0, a.n[top].chit, a.n[top].ccount);
        int ok = made[0] != NULL;
        for (Py_ssize_t i = 1; ok && i < nout; i++) {
            RnNode *x = &a.n[order[i]];
            PyObject *up = made[outpar[i]];
            PyObject *val = PyList_GetSlice(L[x->chain].frames, x->start, x->start + x->len);
            PyObject *keys = val ? PyList_GetSlice(L[x->chain].keys, x->start, x->start + x->len) : NULL;
            if (!keys) { Py_XDECREF(val); ok = 0; break; }
            if (!(made[i] = rn_object(up, val, keys, x->hit, x->count, x->chit, x->ccount))) { ok = 0; break; }
            PyObject *kids = CA_SLOT(up, rn_slots.children), *num = PyLong_FromSsize_t(PyDict_GET_SIZE(kids));
            if (!num || PyDict_SetItem(kids, num, made[i]) < 0) { Py_XDECREF(num); ok = 0; break; }
            Py_DECREF(num);
        }
        if (ok) result = Py_BuildValue("nO", max_depth, made[0]);
        for (Py_ssize_t i = 0; i < nout; i++) Py_XDECREF(made[i]);  /* (children held by their parents' dicts) */
        PyMem_Free(made);
        goto done;
    }
    if (!(out = PyList_New(nout - 1))) goto done;
    for (Py_ssize_t i = 1; i < nout; i++) {
        RnNode *x = &a.n[order[i]];
        PyObject *val = PyList_GetSlice(L[x->chain].frames, x->start, x->start + x->len);
        PyObject *keys = val ? PyList_GetSlice(L[x->chain].keys, x->start, x->start + x->len) : NULL;
        PyObject *t = keys ? Py_BuildValue("nNNKKKK", outpar[i] - 1, val, keys, x->hit, x->count, x->chit,
                                           x->ccount) : NULL;
        if (!t) {
            Py_XDECREF(val);
            goto done;
        }
        PyList_SET_ITEM(out, i - 1, t);
    }
    result = Py_BuildValue("nKKO", max_depth, a.n[top].chit, a.n[top].ccount, out);
done:
    Py_XDECREF(out);
    PyMem_Free(order);
    PyMem_Free(a.n);
    PyMem_Free(fidx);
    PyMem_Free(F);
    PyMem_Free(L);
    PyMem_Free(lists.keys);
    PyMem_Free(lists.vals);
    PyMem_Free(objs.keys);
    PyMem_Free(objs.vals);
    return result;
}

static PyObject *rb_replay(PyObject *Py_UNUSED(module), PyObject *chains)
{
    if (!PyList_Check(chains)) {
        PyErr_SetString(PyExc_TypeError, "rb_replay(chains: list)");
        return NULL;
    }
    if (fc_init() < 0) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(chains);
    RnSpec *specs = PyMem_Malloc((n ? n : 1) * sizeof(RnSpec));
    PyObject *result = NULL;
    if (!specs) return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++)
        if (rn_spec(PyList_GET_ITEM(chains, i), &specs[i]) < 0) goto done;
    RnSource src = {specs, n, NULL, NULL, NULL, NULL, 0, -1, 0};
    result = rn_run(&src, n, NULL);
done:
    PyMem_Free(specs);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * rb_replay_groups(fixed, per_group, groups, periods[, node_class]) -> [rb_replay's result or None per entry]
 *     report.hist._replay_trees's sample loop and its rb_replay calls (the Python code there is the twin):
 *     entry e's chains are fixed[e] (chain tuples, appended first), then, for each sample i in order (group
 *     groups[i], period periods[i]), (keys, frames, periods[i], 1) for every (e, keys, frames) of
 *     per_group[groups[i]]. None for an entry whose sums do not fit 64 bits (the caller replays it in Python).
 *     With node_class (callchain/rbreplay.py's RNode), an entry's result is (max_depth, its tree's top node):
 *     the nodes made here as rbreplay._built makes them from rb_replay's tuples (none of those tuples made).
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *rb_replay_groups(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *fixed, *per_group, *groups, *periods, *result = NULL;
    UView gv = {0}, pv = {0};
    PyTypeObject *ntype = NULL;
    if (!PyArg_ParseTuple(args, "O!O!OO|O!", &PyList_Type, &fixed, &PyList_Type, &per_group, &groups, &periods,
                          &PyType_Type, &ntype))
        return NULL;
    if (fc_init() < 0) return NULL;
    if (ntype && rn_setup(ntype) < 0) return NULL;
    /* (groups and periods: lists, copied, or report/builder.py _Sequence.arrays' 'I' and 'Q' arrays, read in
     * place; of one length, else a ValueError) */
    Py_ssize_t nsamples = -1;
    if (uv_open(groups, &nsamples, 0, &gv) < 0) return NULL;
    if (uv_open(periods, &nsamples, 1, &pv) < 0) { uv_close(&gv); return NULL; }
    Py_ssize_t nent = PyList_GET_SIZE(fixed), ngroups = PyList_GET_SIZE(per_group), z = nent ? nent : 1;
    RnSpec **specs = PyMem_Calloc(z, sizeof(RnSpec *));
    uint32_t **samples = PyMem_Calloc(z, sizeof(uint32_t *));
    Py_ssize_t *len = PyMem_Calloc(z, 2 * sizeof(Py_ssize_t)), *cnt = len ? len + z : NULL;
    if (!specs || !samples || !len) { PyErr_NoMemory(); goto done; }
    if (nsamples >= ((Py_ssize_t)1 << 32)) {
        PyErr_SetString(PyExc_OverflowError, "rb_replay_groups: more than 2**32 samples");
        goto done;
    }
    for (Py_ssize_t e = 0; e < nent; e++) {
        PyObject *list = PyList_GET_ITEM(fixed, e);
        if (!PyList_Check(list)) {
            PyErr_SetString(PyExc_TypeError, "rb_replay_groups: fixed is a list of lists");
            goto done;
        }
        Py_ssize_t n = PyList_GET_SIZE(list);
        if (!(specs[e] = PyMem_Malloc((n ? n : 1) * sizeof(RnSpec)))) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t i = 0; i < n; i++)
            if (rn_spec(PyList_GET_ITEM(list, i), &specs[e][i]) < 0) goto done;
        len[e] = n;
    }
    /* pass 0 checks every sample's items and counts them per entry; pass 1 lists them */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            for (Py_ssize_t e = 0; e < nent; e++) {
                if (!(samples[e] = PyMem_Malloc((cnt[e] ? cnt[e] : 1) * sizeof(uint32_t)))) {
                    PyErr_NoMemory();
                    goto done;
                }
                cnt[e] = 0;
            }
        for (Py_ssize_t i = 0; i < nsamples; i++) {
            uint64_t gu = uv_at(&gv, i);  /* (a list's negative int: above any group, as u64) */
            if (gu >= (uint64_t)ngroups) {
                PyErr_SetString(PyExc_IndexError, "rb_replay_groups: a group number out of range");
                goto done;
            }
            PyObject *these = PyList_GET_ITEM(per_group, (Py_ssize_t)gu);
            if (!PyList_Check(these)) {
                PyErr_SetString(PyExc_TypeError, "rb_replay_groups: per_group is a list of lists");
                goto done;
            }
            Py_ssize_t nthese = PyList_GET_SIZE(these);
            for (Py_ssize_t j = 0; j < nthese; j++) {
                PyObject *t = PyList_GET_ITEM(these, j);
                Py_ssize_t e;
                if (pass == 0 && (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3 ||
                                  !PyList_Check(PyTuple_GET_ITEM(t, 1)) || !PyList_Check(PyTuple_GET_ITEM(t, 2)) ||
                                  PyList_GET_SIZE(PyTuple_GET_ITEM(t, 1)) != PyList_GET_SIZE(PyTuple_GET_ITEM(t, 2)))) {
                    PyErr_SetString(PyExc_TypeError, "rb_replay_groups: per_group items are (entry, keys, frames)");
                    goto done;
                }
                e = PyLong_AsSsize_t(PyTuple_GET_ITEM(t, 0));
                if (e == -1 && PyErr_Occurred()) goto done;
                if (e < 0 || e >= nent) {
                    PyErr_SetString(PyExc_IndexError, "rb_replay_groups: an entry number out of range");
                    goto done;
                }
                if (pass == 1)
                    samples[e][cnt[e]] = (uint32_t)i;
                cnt[e]++;
            }
        }
    }
    if (!(result = PyList_New(nent))) goto done;
    for (Py_ssize_t e = 0; e < nent; e++) {
        RnSource src = {specs[e], len[e], samples[e], &pv, &gv, per_group, e, -1, 0};
        PyObject *r = rn_run(&src, len[e] + cnt[e], ntype);
        if (!r) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) { Py_CLEAR(result); goto done; }
            PyErr_Clear();
            r = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(result, e, r);
        PyMem_Free(samples[e]);  /* (this entry's list let go before the next tree is made) */
        samples[e] = NULL;
    }
done:
    for (Py_ssize_t e = 0; e < nent; e++) {
        if (specs) PyMem_Free(specs[e]);
        if (samples) PyMem_Free(samples[e]);
    }
    PyMem_Free(specs);
    PyMem_Free(samples);
    PyMem_Free(len);
    uv_close(&gv);
    uv_close(&pv);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * replay_plan(kept, entries, records, todo, roots, mixed, caller) -> (fixed, per_group) or None
 *     callchain/rbreplay.py's replay_plan (py_replay_plan is its twin; tests/test_report_replay_plan_c.py
 *     compares them): per group of `kept` ((group key, group) items: group[0] its period, [1] its count, [5]
 *     its chain), its look-ups (its self entry entries[key[0]] from frame 0 when records is None, else
 *     (look[0], max(look[1], 0)) of each look of records[g][7]; None answered for a group whose record is
 *     None); a look-up of an entry of `todo` (entry -> e) appends the chain (a list of the chain, reversed
 *     with `caller`, and the list of its frames' .key) from its frame: (keys, frames, period, count) to
 *     fixed[e] when the walk of keys down roots[e] (tree.Node objects: children by key, keys) meets no node
 *     whose id is in the set mixed[e] and finds every child, else (e, keys, frames) to per_group[g]. A chain
 *     from frame 0 is the group's own two lists.
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *rp_s_key;

/* 1: the walk meets a mixed node or a missing child; 0: not; -1: an error */
static int rp_touches(PyObject *node, const U64Map *mixed, PyObject *keys, Py_ssize_t from)
{
    Py_ssize_t pos = from, n = PyList_GET_SIZE(keys);
    while (pos < n) {
        if (mixed->cap) {
            uint64_t stored = (uint64_t)(uintptr_t)node + 1;
            size_t j = um_hash((uint64_t)(uintptr_t)node) & (mixed->cap - 1);
            while (mixed->keys[j]) {
                if (mixed->keys[j] == stored) return 1;
                j = (j + 1) & (mixed->cap - 1);
            }
        }
        if (Py_TYPE(node) != ca_slots.type && ca_setup(Py_TYPE(node)) < 0) return -1;
        PyObject *children = ca_get(node, ca_slots.children);
        if (!children) return -1;
        if (!PyDict_Check(children)) {
            PyErr_SetString(PyExc_TypeError, "replay_plan: a node's children are a dict");
            return -1;
        }
        PyObject *child = PyDict_GetItemWithError(children, PyList_GET_ITEM(keys, pos));
        if (!child) return PyErr_Occurred() ? -1 : 1;
        if (Py_TYPE(child) != ca_slots.type && ca_setup(Py_TYPE(child)) < 0) return -1;
        PyObject *ckeys = ca_get(child, ca_slots.keys);
        if (!ckeys) return -1;
        Py_ssize_t len = PyObject_Length(ckeys);
        if (len < 0) return -1;
        pos += len;
        node = child;
    }
    return 0;
}

static PyObject *replay_plan(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *kept, *entries, *records, *todo, *roots, *mixed, *fixed = NULL, *per_group = NULL, *result = NULL;
    int caller;
    U64Map *mx = NULL;
    Py_ssize_t ne = 0;
    if (!PyArg_ParseTuple(args, "O!O!OO!O!O!p:replay_plan", &PyList_Type, &kept, &PyDict_Type, &entries, &records,
                          &PyDict_Type, &todo, &PyList_Type, &roots, &PyList_Type, &mixed, &caller))
        return NULL;
    if (records != Py_None && !PyList_Check(records)) {
        PyErr_SetString(PyExc_TypeError, "replay_plan: records is a list or None");
        return NULL;
    }
    if (!rp_s_key && !(rp_s_key = PyUnicode_InternFromString("key"))) return NULL;
    ne = PyList_GET_SIZE(roots);
    if (PyList_GET_SIZE(mixed) != ne) {
        PyErr_SetString(PyExc_ValueError, "replay_plan: roots and mixed of different lengths");
        return NULL;
    }
    Py_ssize_t ng = PyList_GET_SIZE(kept);
    if (records != Py_None && PyList_GET_SIZE(records) < ng) {
        PyErr_SetString(PyExc_ValueError, "replay_plan: fewer records than groups");
        return NULL;
    }
    if (!(mx = PyMem_Calloc(ne ? ne : 1, sizeof(U64Map)))) return PyErr_NoMemory();
    for (Py_ssize_t e = 0; e < ne; e++) {  /* each mixed set's ids, as a table of addresses */
        PyObject *set = PyList_GET_ITEM(mixed, e), *it, *id;
        if (!(it = PyObject_GetIter(set))) goto done;
        while ((id = PyIter_Next(it))) {
            unsigned long long v = PyLong_AsUnsignedLongLong(id);
            Py_DECREF(id);
            if (v == (unsigned long long)-1 && PyErr_Occurred()) { Py_DECREF(it); goto done; }
            int found;
            if (!um_slot(&mx[e], (uint64_t)v, &found)) { Py_DECREF(it); PyErr_NoMemory(); goto done; }
        }
        Py_DECREF(it);
        if (PyErr_Occurred()) goto done;
    }
    if (!(fixed = PyList_New(ne)) || !(per_group = PyList_New(ng))) goto done;
    for (Py_ssize_t e = 0; e < ne; e++) {
        PyObject *l = PyList_New(0);
        if (!l) goto done;
        PyList_SET_ITEM(fixed, e, l);
    }
    for (Py_ssize_t g = 0; g < ng; g++) {
        PyObject *item = PyList_GET_ITEM(kept, g), *gkey, *group, *looks = NULL, *these = NULL;
        PyObject *frames = NULL, *keys = NULL;
        Py_ssize_t nlooks;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 || !PyTuple_Check(PyTuple_GET_ITEM(item, 0)) ||
            PyTuple_GET_SIZE(PyTuple_GET_ITEM(item, 0)) < 1 || !PyList_Check(PyTuple_GET_ITEM(item, 1)) ||
            PyList_GET_SIZE(PyTuple_GET_ITEM(item, 1)) < 6) {
            PyErr_SetString(PyExc_TypeError, "replay_plan: kept holds (group key, group) items");
            goto done;
        }
        gkey = PyTuple_GET_ITEM(item, 0);
        group = PyTuple_GET_ITEM(item, 1);
        if (records != Py_None) {
            PyObject *rec = PyList_GET_ITEM(records, g);
            if (rec == Py_None) {
                result = Py_NewRef(Py_None);
                goto done;
            }
            if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) < 8 || !PyList_Check(PyTuple_GET_ITEM(rec, 7))) {
                PyErr_SetString(PyExc_TypeError, "replay_plan: a record's looks are a list");
                goto done;
            }
            looks = PyTuple_GET_ITEM(rec, 7);
            nlooks = PyList_GET_SIZE(looks);
        } else
            nlooks = 1;
        if (!(these = PyList_New(0))) goto done;
        PyList_SET_ITEM(per_group, g, these);
        for (Py_ssize_t q = 0; q < nlooks; q++) {
            PyObject *entry, *eo;
            Py_ssize_t i = 0;
            if (looks) {
                PyObject *look = PyList_GET_ITEM(looks, q);
                if (!PyTuple_Check(look) || PyTuple_GET_SIZE(look) < 2) {
                    PyErr_SetString(PyExc_TypeError, "replay_plan: a look-up is (entry, frame index, ...)");
                    goto group_fail;
                }
                entry = PyTuple_GET_ITEM(look, 0);
                i = PyLong_AsSsize_t(PyTuple_GET_ITEM(look, 1));
                if (i == -1 && PyErr_Occurred()) goto group_fail;
                if (i < 0) i = 0;
            } else {
                entry = PyDict_GetItemWithError(entries, PyTuple_GET_ITEM(gkey, 0));
                if (!entry) {
                    if (PyErr_Occurred()) goto group_fail;
                    continue;
                }
            }
            if (entry == Py_None) continue;
            Py_INCREF(entry);
            eo = PyDict_GetItemWithError(todo, entry);
            Py_DECREF(entry);
            if (!eo) {
                if (PyErr_Occurred()) goto group_fail;
                continue;
            }
            Py_ssize_t e = PyLong_AsSsize_t(eo);
            if (e == -1 && PyErr_Occurred()) goto group_fail;
            if (e < 0 || e >= ne) {
                PyErr_SetString(PyExc_IndexError, "replay_plan: an entry number out of range");
                goto group_fail;
            }
            if (!frames) {
                PyObject *chain = PyList_GET_ITEM(group, 5);
                if (!(frames = PySequence_List(chain))) goto group_fail;
                if (caller && PyList_Reverse(frames) < 0) goto group_fail;
                Py_ssize_t n = PyList_GET_SIZE(frames);
                if (!(keys = PyList_New(n))) goto group_fail;
                for (Py_ssize_t f = 0; f < n; f++) {
                    PyObject *k = PyObject_GetAttr(PyList_GET_ITEM(frames, f), rp_s_key);
                    if (!k) goto group_fail;
                    PyList_SET_ITEM(keys, f, k);
                }
            }
            Py_ssize_t n = PyList_GET_SIZE(frames);
            if (i > n) i = n;
            PyObject *ks, *fs;
            if (i) {
                ks = PyList_GetSlice(keys, i, n);
                fs = ks ? PyList_GetSlice(frames, i, n) : NULL;
                if (!fs) { Py_XDECREF(ks); goto group_fail; }
            } else {
                ks = Py_NewRef(keys);
                fs = Py_NewRef(frames);
            }
            int t = rp_touches(PyList_GET_ITEM(roots, e), &mx[e], ks, 0);
            PyObject *tup = NULL;
            if (t == 1)
                tup = PyTuple_Pack(3, eo, ks, fs);
            else if (t == 0)
                tup = PyTuple_Pack(4, ks, fs, PyList_GET_ITEM(group, 0), PyList_GET_ITEM(group, 1));
            Py_DECREF(ks);
            Py_DECREF(fs);
            if (!tup) goto group_fail;
            if (PyList_Append(t == 1 ? these : PyList_GET_ITEM(fixed, e), tup) < 0) {
                Py_DECREF(tup);
                goto group_fail;
            }
            Py_DECREF(tup);
        }
        Py_XDECREF(frames);
        Py_XDECREF(keys);
        continue;
    group_fail:
        Py_XDECREF(frames);
        Py_XDECREF(keys);
        goto done;
    }
    result = PyTuple_Pack(2, fixed, per_group);
done:
    Py_XDECREF(fixed);
    Py_XDECREF(per_group);
    if (mx)
        for (Py_ssize_t e = 0; e < ne; e++) {
            PyMem_Free(mx[e].keys);
            PyMem_Free(mx[e].vals);
        }
    PyMem_Free(mx);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * builder_adds(bucket, known, to_rframe, chains, chain_of, self_parts, make_part, comm_head, groups,
 *              thread_comm, gkeys) -> None
 *     report/builder.py's per-group loop with Hists.add on its plain path (builder._py_adds is its twin;
 *     tests/test_hist_builder_adds_c.py compares them): for each (thread, location, chain, raw) -> (period,
 *     count) of `bucket`, in order: loc = known.get(location) or to_rframe(location); rchain =
 *     chains.get(chain), else chains[chain] = chain_of(chain), or with chain_of None the tuple of each frame's
 *     known.get(frame) or to_rframe(frame); thread_comm[thread.tid] = thread.comm; the
 *     location's part self_parts.get(loc), else self_parts[loc] = make_part(comm, tid, loc); the identity
 *     that part, or (comm,) + part with comm_head; the group (identity, chain) of `groups` made ([period,
 *     count, tid, comm, loc, rchain, None, False, raw, its number]) or added to; gkeys[group] its number.
 *     comm_head 2 (BA_WHOLE: any keys but tracepoint fields): make_part gives the whole identity, kept per
 *     thread and location (self_parts[thread][loc]; the thread is the group's, one object per (pid, tid,
 *     comm)); 3 (BA_WHOLE_DSO_APART): the same, and the group of a location without a symbol (not
 *     loc.has_sym) is (identity, chain, loc.dso_name) (Hists._dso_apart).
 * ------------------------------------------------------------------------------------------------------ */

#define BA_WHOLE 2
#define BA_WHOLE_DSO_APART 3
static PyObject *ba_s_has_sym, *ba_s_dso_name;

static PyObject *ba_s_comm, *ba_s_tid;

/* a frame not known yet as an RFrame: with `convert` (FrameTable's conversion of a session frame: (its class,
 * RFrame, ranks, rank_of, object_of, file_start_of)) a frame of that class converted here (rframe_convert's
 * work) and kept in `known` (FrameTable.get's _by_frame), *inlined set for an inlined one; else to_rframe(frame) */
static PyObject *rf_convert_one(PyObject *frame, PyTypeObject *type, PyObject *ranks, PyObject *rank_of,
                                PyObject *object_of, PyObject *file_start_of);
static SlotCache ba_c_inlined;
static PyObject *ba_s_inlined;

static PyObject *ba_rframe(PyObject *frame, PyObject *to_rframe, PyObject *convert, PyObject *known, int *inlined)
{
    if (convert == Py_None || (PyObject *)Py_TYPE(frame) != PyTuple_GET_ITEM(convert, 0))
        return PyObject_CallOneArg(to_rframe, frame);
    PyObject *rf = rf_convert_one(frame, (PyTypeObject *)PyTuple_GET_ITEM(convert, 1), PyTuple_GET_ITEM(convert, 2),
                                  PyTuple_GET_ITEM(convert, 3), PyTuple_GET_ITEM(convert, 4), PyTuple_GET_ITEM(convert, 5));
    if (!rf)
        return NULL;
    if (!ba_s_inlined && !(ba_s_inlined = PyUnicode_InternFromString("inlined"))) {
        Py_DECREF(rf);
        return NULL;
    }
    int inl = sa_true(rf, ba_s_inlined, &ba_c_inlined);
    if (inl < 0 || PyDict_SetItem(known, frame, rf) < 0) {
        Py_DECREF(rf);
        return NULL;
    }
    if (inl)
        *inlined = 1;
    return rf;
}

static PyObject *builder_adds(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *bucket, *known, *to_rframe, *chains, *chain_of, *self_parts, *make_part, *groups, *thread_comm, *gkeys;
    int comm_head;
    PyObject *convert = Py_None;
    if (!PyArg_ParseTuple(args, "O!O!OO!OO!OiO!O!O!|O:builder_adds", &PyDict_Type, &bucket, &PyDict_Type, &known,
                          &to_rframe, &PyDict_Type, &chains, &chain_of, &PyDict_Type, &self_parts, &make_part,
                          &comm_head, &PyDict_Type, &groups, &PyDict_Type, &thread_comm, &PyDict_Type, &gkeys, &convert))
        return NULL;
    if (convert != Py_None && (!PyTuple_Check(convert) || PyTuple_GET_SIZE(convert) != 6 ||
                               !PyType_Check(PyTuple_GET_ITEM(convert, 0)) || !PyType_Check(PyTuple_GET_ITEM(convert, 1)) ||
                               !PyDict_Check(PyTuple_GET_ITEM(convert, 2)))) {
        PyErr_SetString(PyExc_TypeError, "builder_adds: convert is (frame class, RFrame, ranks, rank_of, object_of, "
                        "file_start_of) or None");
        return NULL;
    }
    int inlined_seen = 0;
    if (!ba_s_comm && (!(ba_s_comm = PyUnicode_InternFromString("comm")) || !(ba_s_tid = PyUnicode_InternFromString("tid")) ||
                       !(ba_s_has_sym = PyUnicode_InternFromString("has_sym")) ||
                       !(ba_s_dso_name = PyUnicode_InternFromString("dso_name"))))
        return NULL;
    if (comm_head < 0 || comm_head > BA_WHOLE_DSO_APART) {
        PyErr_SetString(PyExc_ValueError, "builder_adds: comm_head is 0, 1, 2 or 3");
        return NULL;
    }
    /* (the bucket's items listed first: the callbacks may not change it under the loop) */
    PyObject *items = PyDict_Items(bucket);
    if (!items) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(items);
    for (Py_ssize_t x = 0; x < n; x++) {
        PyObject *item = PyList_GET_ITEM(items, x), *group = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
        PyObject *period = NULL, *count = NULL, *loc = NULL, *rchain = NULL, *comm = NULL, *tid = NULL, *part = NULL;
        PyObject *ident = NULL, *gkey = NULL, *num = NULL;
        int ok = 0;
        if (!PyTuple_Check(group) || PyTuple_GET_SIZE(group) != 4) {
            PyErr_SetString(PyExc_TypeError, "builder_adds: groups are (thread, location, chain, raw)");
            goto next;
        }
        PyObject *thread = PyTuple_GET_ITEM(group, 0), *location = PyTuple_GET_ITEM(group, 1);
        PyObject *chain = PyTuple_GET_ITEM(group, 2), *raw = PyTuple_GET_ITEM(group, 3);
        if (PySequence_Size(value) != 2) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "builder_adds: values are (period, count)");
            goto next;
        }
        if (!(period = PySequence_GetItem(value, 0)) || !(count = PySequence_GetItem(value, 1))) goto next;
        loc = PyDict_GetItemWithError(known, location);
        if (loc) Py_INCREF(loc);
        else if (PyErr_Occurred() || !(loc = ba_rframe(location, to_rframe, convert, known, &inlined_seen))) goto next;
        rchain = PyDict_GetItemWithError(chains, chain);
        if (rchain) Py_INCREF(rchain);
        else if (PyErr_Occurred())
            goto next;
        else if (chain_of != Py_None) {
            if (!(rchain = PyObject_CallOneArg(chain_of, chain)) || PyDict_SetItem(chains, chain, rchain) < 0) goto next;
        } else {  /* each frame as the location: known, else to_rframe */
            PyObject *seq = PySequence_Fast(chain, "builder_adds: a chain is a sequence");
            if (!seq) goto next;
            Py_ssize_t nf = PySequence_Fast_GET_SIZE(seq);
            if (!(rchain = PyTuple_New(nf))) { Py_DECREF(seq); goto next; }
            for (Py_ssize_t f = 0; f < nf; f++) {
                PyObject *frame = PySequence_Fast_GET_ITEM(seq, f), *rf = PyDict_GetItemWithError(known, frame);
                if (rf) Py_INCREF(rf);
                else if (PyErr_Occurred() || !(rf = ba_rframe(frame, to_rframe, convert, known, &inlined_seen))) {
                    Py_DECREF(seq);
                    goto next;
                }
                PyTuple_SET_ITEM(rchain, f, rf);
            }
            Py_DECREF(seq);
            if (PyDict_SetItem(chains, chain, rchain) < 0) goto next;
        }
        if (!(comm = PyObject_GetAttr(thread, ba_s_comm)) || !(tid = PyObject_GetAttr(thread, ba_s_tid))) goto next;
        if (PyDict_SetItem(thread_comm, tid, comm) < 0) goto next;
        PyObject *parts = self_parts;
        if (comm_head >= BA_WHOLE) {  /* (the thread's identities by location) */
            parts = PyDict_GetItemWithError(self_parts, thread);
            if (!parts) {
                if (PyErr_Occurred() || !(parts = PyDict_New())) goto next;
                int bad = PyDict_SetItem(self_parts, thread, parts);
                Py_DECREF(parts);  /* (self_parts keeps it) */
                if (bad < 0) goto next;
            } else if (!PyDict_Check(parts)) {
                PyErr_SetString(PyExc_TypeError, "builder_adds: a thread's identities are a dict");
                goto next;
            }
        }
        part = PyDict_GetItemWithError(parts, loc);
        if (part) Py_INCREF(part);
        else if (PyErr_Occurred() || !(part = PyObject_CallFunctionObjArgs(make_part, comm, tid, loc, NULL)) ||
                 PyDict_SetItem(parts, loc, part) < 0)
            goto next;
        if (comm_head == 1) {
            if (!PyTuple_Check(part)) {
                PyErr_SetString(PyExc_TypeError, "builder_adds: a location's part is a tuple");
                goto next;
            }
            Py_ssize_t np = PyTuple_GET_SIZE(part);
            if (!(ident = PyTuple_New(np + 1))) goto next;
            PyTuple_SET_ITEM(ident, 0, Py_NewRef(comm));
            for (Py_ssize_t i = 0; i < np; i++) PyTuple_SET_ITEM(ident, i + 1, Py_NewRef(PyTuple_GET_ITEM(part, i)));
        } else
            ident = Py_NewRef(part);
        if (comm_head == BA_WHOLE_DSO_APART) {
            PyObject *has_sym = PyObject_GetAttr(loc, ba_s_has_sym);
            int resolved = has_sym ? PyObject_IsTrue(has_sym) : -1;
            Py_XDECREF(has_sym);
            if (resolved < 0) goto next;
            if (!resolved) {
                PyObject *dso_name = PyObject_GetAttr(loc, ba_s_dso_name);
                if (!dso_name) goto next;
                gkey = PyTuple_Pack(3, ident, chain, dso_name);
                Py_DECREF(dso_name);
                if (!gkey) goto next;
            }
        }
        if (!gkey && !(gkey = PyTuple_Pack(2, ident, chain))) goto next;
        PyObject *got = PyDict_GetItemWithError(groups, gkey);
        if (got) {
            if (!PyList_Check(got) || PyList_GET_SIZE(got) < 10) {
                PyErr_SetString(PyExc_TypeError, "builder_adds: a group is a list of 10");
                goto next;
            }
            PyObject *sum = PyNumber_Add(PyList_GET_ITEM(got, 0), period);
            if (!sum) goto next;
            PyList_SetItem(got, 0, sum);
            if (!(sum = PyNumber_Add(PyList_GET_ITEM(got, 1), count))) goto next;
            PyList_SetItem(got, 1, sum);
            num = Py_NewRef(PyList_GET_ITEM(got, 9));
        } else {
            if (PyErr_Occurred() || !(num = PyLong_FromSsize_t(PyDict_GET_SIZE(groups)))) goto next;
            PyObject *g = PyList_New(10);
            if (!g) goto next;
            PyObject *fields[10] = {period, count, tid, comm, loc, rchain, Py_None, Py_False, raw, num};
            for (int i = 0; i < 10; i++) PyList_SET_ITEM(g, i, Py_NewRef(fields[i]));
            int r = PyDict_SetItem(groups, gkey, g);
            Py_DECREF(g);
            if (r < 0) goto next;
        }
        if (PyDict_SetItem(gkeys, group, num) < 0) goto next;
        ok = 1;
    next:
        Py_XDECREF(period); Py_XDECREF(count); Py_XDECREF(loc); Py_XDECREF(rchain); Py_XDECREF(comm);
        Py_XDECREF(tid); Py_XDECREF(part); Py_XDECREF(ident); Py_XDECREF(gkey); Py_XDECREF(num);
        if (!ok) {
            Py_DECREF(items);
            return NULL;
        }
    }
    Py_DECREF(items);
    return PyBool_FromLong(inlined_seen);
}

/* ---------------------------------------------------------------------------------------------------------
 * rframe_convert(frame, rframe_class, ranks, rank_of, object_of, file_start_of) -> RFrame
 *     report/frames.py's FrameTable._convert of a session frame (session.frames.Frame; its Python code there
 *     is the twin, tests/test_report_rframe_c.py compares them): the frame's dso_obj (None: no dso, rank
 *     (-1, -1)), else its dso short name (frame.dso) and rank (ranks.get(dso_obj), else ranks[dso_obj] =
 *     rank_of(dso_obj, frame.dso)); with a symbol (frame.sym not None) and frame.resolved not None, whether
 *     it is a data object (resolved.object, or object_of(frame, dso_obj) when that is None) and then its
 *     start as perf keeps it (file_start_of(sym_start, dso_obj)); the RFrame made as RFrame._of makes it
 *     (its slots set in place: name, has_sym, inlined, dso_name, dso_rank, sym_start, avma, rip, key,
 *     chain_text, level, mapped, object_sym, object_start).
 * ------------------------------------------------------------------------------------------------------ */

typedef struct {
    PyTypeObject *type;
    Py_ssize_t name, has_sym, inlined, dso_name, dso_rank, sym_start, avma, rip, key, chain_text, level, mapped,
        object_sym, object_start;
} RFrameSlots;

static RFrameSlots rf_slots;
static PyObject *rf_s_dso_obj, *rf_s_dso, *rf_s_sym, *rf_s_inlined, *rf_s_avma, *rf_s_file_offset, *rf_s_sym_start,
    *rf_s_resolved, *rf_s_level, *rf_s_object, *rf_s_i, *rf_s_s, *rf_s_a, *rf_s_inl_suffix, *rf_s_zero, *rf_s_empty,
    *rf_minus_pair;
static SlotCache rf_c_dso_obj, rf_c_dso, rf_c_sym, rf_c_inlined, rf_c_avma, rf_c_file_offset, rf_c_sym_start,
    rf_c_resolved, rf_c_level;

#define RF_SYM_NAME_MAX 1023  /* report/frames.py SYM_NAME_MAX */

static int rf_setup(PyTypeObject *type)
{
    if (!rf_s_dso_obj) {
        if (!(rf_s_dso_obj = PyUnicode_InternFromString("dso_obj")) || !(rf_s_dso = PyUnicode_InternFromString("dso")) ||
            !(rf_s_sym = PyUnicode_InternFromString("sym")) || !(rf_s_inlined = PyUnicode_InternFromString("inlined")) ||
            !(rf_s_avma = PyUnicode_InternFromString("avma")) ||
            !(rf_s_file_offset = PyUnicode_InternFromString("file_offset")) ||
            !(rf_s_sym_start = PyUnicode_InternFromString("sym_start")) ||
            !(rf_s_resolved = PyUnicode_InternFromString("resolved")) ||
            !(rf_s_level = PyUnicode_InternFromString("level")) || !(rf_s_object = PyUnicode_InternFromString("object")) ||
            !(rf_s_i = PyUnicode_InternFromString("i")) || !(rf_s_s = PyUnicode_InternFromString("s")) ||
            !(rf_s_a = PyUnicode_InternFromString("a")) || !(rf_s_inl_suffix = PyUnicode_FromString(" (inlined)")) ||
            !(rf_s_zero = PyUnicode_InternFromString("0")) || !(rf_s_empty = PyUnicode_InternFromString("")) ||
            !(rf_minus_pair = Py_BuildValue("(ii)", -1, -1)))
            return -1;
    }
    if (rf_slots.type == type) return 0;
    RFrameSlots s = {type};
    if (ca_offset(type, "name", &s.name) < 0 || ca_offset(type, "has_sym", &s.has_sym) < 0 ||
        ca_offset(type, "inlined", &s.inlined) < 0 || ca_offset(type, "dso_name", &s.dso_name) < 0 ||
        ca_offset(type, "dso_rank", &s.dso_rank) < 0 || ca_offset(type, "sym_start", &s.sym_start) < 0 ||
        ca_offset(type, "avma", &s.avma) < 0 || ca_offset(type, "rip", &s.rip) < 0 || ca_offset(type, "key", &s.key) < 0 ||
        ca_offset(type, "chain_text", &s.chain_text) < 0 || ca_offset(type, "level", &s.level) < 0 ||
        ca_offset(type, "mapped", &s.mapped) < 0 || ca_offset(type, "object_sym", &s.object_sym) < 0 ||
        ca_offset(type, "object_start", &s.object_start) < 0)
        return -1;
    Py_INCREF(type);
    Py_XDECREF(rf_slots.type);
    rf_slots = s;
    return 0;
}

/* text[:RF_SYM_NAME_MAX] (text stolen) */
static PyObject *rf_cut(PyObject *text)
{
    if (!text || PyUnicode_GET_LENGTH(text) <= RF_SYM_NAME_MAX) return text;
    PyObject *cut = PyUnicode_Substring(text, 0, RF_SYM_NAME_MAX);
    Py_DECREF(text);
    return cut;
}

static PyObject *rf_convert_one(PyObject *frame, PyTypeObject *type, PyObject *ranks, PyObject *rank_of,
                                PyObject *object_of, PyObject *file_start_of);

static PyObject *rframe_convert(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *frame, *ranks, *rank_of, *object_of, *file_start_of;
    PyTypeObject *type;
    if (!PyArg_ParseTuple(args, "OO!O!OOO:rframe_convert", &frame, &PyType_Type, &type, &PyDict_Type, &ranks, &rank_of,
                          &object_of, &file_start_of))
        return NULL;
    return rf_convert_one(frame, type, ranks, rank_of, object_of, file_start_of);
}

/* rframe_convert's work (ranks a dict) */
static PyObject *rf_convert_one(PyObject *frame, PyTypeObject *type, PyObject *ranks, PyObject *rank_of,
                                PyObject *object_of, PyObject *file_start_of)
{
    if (rf_setup(type) < 0) return NULL;
    PyObject *dso_obj = NULL, *dso_name = NULL, *rank = NULL, *name = NULL, *inlined = NULL, *avma = NULL,
        *file_offset = NULL, *sym_start = NULL, *level = NULL, *resolved = NULL, *object_start = NULL, *key = NULL,
        *text = NULL, *node = NULL, *result = NULL;
    int object_sym = 0, inl = 0;
    if (!(dso_obj = sa_get(frame, rf_s_dso_obj, &rf_c_dso_obj))) goto done;
    if (dso_obj == Py_None) {
        dso_name = Py_NewRef(Py_None);
        rank = Py_NewRef(rf_minus_pair);
    } else {
        if (!(dso_name = sa_get(frame, rf_s_dso, &rf_c_dso))) goto done;
        rank = PyDict_GetItemWithError(ranks, dso_obj);
        if (rank) Py_INCREF(rank);
        else if (PyErr_Occurred() || !(rank = PyObject_CallFunctionObjArgs(rank_of, dso_obj, dso_name, NULL)) ||
                 PyDict_SetItem(ranks, dso_obj, rank) < 0)
            goto done;
    }
    if (!(name = sa_get(frame, rf_s_sym, &rf_c_sym)) || !(inlined = sa_get(frame, rf_s_inlined, &rf_c_inlined)) ||
        !(avma = sa_get(frame, rf_s_avma, &rf_c_avma)) || !(file_offset = sa_get(frame, rf_s_file_offset, &rf_c_file_offset)) ||
        !(sym_start = sa_get(frame, rf_s_sym_start, &rf_c_sym_start)) || !(level = sa_get(frame, rf_s_level, &rf_c_level)))
        goto done;
    {   /* frame.sym_start or 0 */
        int t = PyObject_IsTrue(sym_start);
        if (t < 0) goto done;
        if (!t) Py_SETREF(sym_start, PyLong_FromLong(0));
        if (!sym_start) goto done;
    }
    int has_sym = name != Py_None;
    if (has_sym) {
        if ((inl = PyObject_IsTrue(inlined)) < 0) goto done;
        if (!(resolved = sa_get(frame, rf_s_resolved, &rf_c_resolved))) goto done;
        if (resolved != Py_None) {
            PyObject *known = PyObject_GetAttr(resolved, rf_s_object);
            if (!known) {
                if (!PyErr_ExceptionMatches(PyExc_AttributeError)) goto done;
                PyErr_Clear();
                known = Py_NewRef(Py_None);
            }
            if (known == Py_None) {
                Py_DECREF(known);
                if (!(known = PyObject_CallFunctionObjArgs(object_of, frame, dso_obj, NULL))) goto done;
            }
            object_sym = PyObject_IsTrue(known);
            Py_DECREF(known);
            if (object_sym < 0) goto done;
            if (object_sym && !(object_start = PyObject_CallFunctionObjArgs(file_start_of, sym_start, dso_obj, NULL)))
                goto done;
            if (object_start == Py_None) Py_CLEAR(object_start);  /* (no file offset known: the start) */
        }
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "rframe_convert: a symbol name is a str");
            goto done;
        }
        key = inl ? PyTuple_Pack(2, rf_s_i, name) : PyTuple_Pack(3, rf_s_s, rank, sym_start);
        text = rf_cut(inl ? PyUnicode_Concat(name, rf_s_inl_suffix) : Py_NewRef(name));
    } else {
        key = PyTuple_Pack(3, rf_s_a, rank, avma);
        int nz = PyObject_IsTrue(avma);
        if (nz < 0) goto done;
        if (nz) {
            PyObject *hex = PyNumber_ToBase(avma, 16);  /* "%#x" % avma: 0x... (a negative one: -0x...) */
            text = rf_cut(hex);
        } else
            text = Py_NewRef(rf_s_zero);
    }
    if (!key || !text) goto done;
    if (!object_start) object_start = Py_NewRef(sym_start);
    if (!(node = type->tp_alloc(type, 0))) goto done;
    CA_SLOT(node, rf_slots.name) = Py_NewRef(has_sym ? name : rf_s_empty);
    CA_SLOT(node, rf_slots.has_sym) = Py_NewRef(has_sym ? Py_True : Py_False);
    CA_SLOT(node, rf_slots.inlined) = Py_NewRef(inl ? Py_True : Py_False);
    CA_SLOT(node, rf_slots.dso_name) = Py_NewRef(dso_name);
    CA_SLOT(node, rf_slots.dso_rank) = Py_NewRef(rank);
    CA_SLOT(node, rf_slots.sym_start) = Py_NewRef(sym_start);
    CA_SLOT(node, rf_slots.avma) = Py_NewRef(avma);
    CA_SLOT(node, rf_slots.rip) = Py_NewRef(file_offset != Py_None ? file_offset : avma);
    CA_SLOT(node, rf_slots.key) = Py_NewRef(key);
    CA_SLOT(node, rf_slots.chain_text) = Py_NewRef(text);
    CA_SLOT(node, rf_slots.level) = Py_NewRef(level);
    CA_SLOT(node, rf_slots.mapped) = Py_NewRef(dso_name != Py_None ? Py_True : Py_False);
    CA_SLOT(node, rf_slots.object_sym) = Py_NewRef(has_sym && object_sym ? Py_True : Py_False);
    CA_SLOT(node, rf_slots.object_start) = Py_NewRef(object_start);
    result = node;
done:
    Py_XDECREF(dso_obj); Py_XDECREF(dso_name); Py_XDECREF(rank); Py_XDECREF(name); Py_XDECREF(inlined);
    Py_XDECREF(avma); Py_XDECREF(file_offset); Py_XDECREF(sym_start); Py_XDECREF(level); Py_XDECREF(resolved);
    Py_XDECREF(object_start); Py_XDECREF(key); Py_XDECREF(text);
    return result;
}

/* --------------------------------------------------------------------------- end of the report section */

/* ---------------------------------------------------------------------------------------------------------
 * mixed_nodes(node, mix_all) -> set of ints
 *     callchain/rbreplay.py mixed_nodes (its Python twin, from the root's node; tests/test_report_mixed_c.py
 *     compares them): the id() of every node below and including `node` (children: a dict of frame_key ->
 *     node) with two children or more whose keys mix the classes match_chain does not order totally: an
 *     inlined key ('i', name) beside any other, or a plain ('s', rank, start) and an unresolved ('a', rank,
 *     avma) key of one rank; with mix_all, any two tags.
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *mn_s_children;

/* 1 when the children keys mix (rbreplay._mixed, or any two tags with mix_all), 0 not, -1 error */
static int mn_mixed(PyObject *children, int mix_all)
{
    PyObject *key, *value, *plain = NULL, *unres = NULL;
    Py_ssize_t pos = 0;
    int inlined = 0, other = 0, rc = -1;
    Py_UCS4 first = 0;
    while (PyDict_Next(children, &pos, &key, &value)) {
        if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) < 1 || !PyUnicode_Check(PyTuple_GET_ITEM(key, 0)) ||
            PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(key, 0)) != 1) {
            PyErr_SetString(PyExc_TypeError, "mixed_nodes: children keys are (tag, ...) tuples");
            goto done;
        }
        Py_UCS4 tag = PyUnicode_READ_CHAR(PyTuple_GET_ITEM(key, 0), 0);
        if (mix_all) {
            if (first && tag != first) { rc = 1; goto done; }
            first = tag;
            continue;
        }
        if (tag == 'i') {
            inlined = 1;
            continue;
        }
        other = 1;
        if (PyTuple_GET_SIZE(key) < 2) {
            PyErr_SetString(PyExc_TypeError, "mixed_nodes: a plain or unresolved key has a rank");
            goto done;
        }
        PyObject **set = tag == 's' ? &plain : &unres;
        if (!*set && !(*set = PySet_New(NULL))) goto done;
        if (PySet_Add(*set, PyTuple_GET_ITEM(key, 1)) < 0) goto done;
    }
    if (mix_all) { rc = 0; goto done; }
    if (inlined) { rc = other; goto done; }
    rc = 0;
    if (plain && unres) {  /* (not plain.isdisjoint(unres)) */
        PyObject *item;
        Py_ssize_t spos = 0;
        Py_hash_t hash;
        PyObject *small = PySet_GET_SIZE(plain) <= PySet_GET_SIZE(unres) ? plain : unres;
        PyObject *big = small == plain ? unres : plain;
        while (_PySet_NextEntry(small, &spos, &item, &hash)) {
            int in = PySet_Contains(big, item);
            if (in != 0) { rc = in; break; }
        }
    }
done:
    Py_XDECREF(plain);
    Py_XDECREF(unres);
    return rc;
}

static PyObject *mixed_nodes(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *node, *found = NULL, *stack = NULL;
    int mix_all;
    if (!PyArg_ParseTuple(args, "Op:mixed_nodes", &node, &mix_all))
        return NULL;
    if (!mn_s_children && !(mn_s_children = PyUnicode_InternFromString("children")))
        return NULL;
    if (!(found = PySet_New(NULL)) || !(stack = PyList_New(0)) || PyList_Append(stack, node) < 0)
        goto fail;
    while (PyList_GET_SIZE(stack)) {
        Py_ssize_t n = PyList_GET_SIZE(stack);
        PyObject *cur = Py_NewRef(PyList_GET_ITEM(stack, n - 1));
        if (PyList_SetSlice(stack, n - 1, n, NULL) < 0) { Py_DECREF(cur); goto fail; }
        PyObject *children = PyObject_GetAttr(cur, mn_s_children);
        if (!children) { Py_DECREF(cur); goto fail; }
        if (!PyDict_Check(children)) {
            PyErr_SetString(PyExc_TypeError, "mixed_nodes: a node's children are a dict");
            Py_DECREF(children); Py_DECREF(cur);
            goto fail;
        }
        if (PyDict_GET_SIZE(children) > 1) {
            int mixed = mn_mixed(children, mix_all);
            if (mixed > 0) {
                PyObject *id = PyLong_FromVoidPtr(cur);
                int bad = !id || PySet_Add(found, id) < 0;
                Py_XDECREF(id);
                if (bad) mixed = -1;
            }
            if (mixed < 0) { Py_DECREF(children); Py_DECREF(cur); goto fail; }
        }
        PyObject *key, *child;
        Py_ssize_t pos = 0;
        while (PyDict_Next(children, &pos, &key, &child))
            if (PyList_Append(stack, child) < 0) { Py_DECREF(children); Py_DECREF(cur); goto fail; }
        Py_DECREF(children);
        Py_DECREF(cur);
    }
    Py_DECREF(stack);
    return found;
fail:
    Py_XDECREF(found);
    Py_XDECREF(stack);
    return NULL;
}

PyMethodDef speedups_report_methods[] = {
    {"mixed_nodes", (PyCFunction)mixed_nodes, METH_VARARGS,
     "mixed_nodes(node, mix_all) -> set of node ids (callchain.rbreplay.mixed_nodes; see the source)"},
    {"findnew_replay", (PyCFunction)findnew_replay, METH_VARARGS,
     "findnew_replay(block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after, collapse) -> "
     "(moves, ident, order, merged) (see the source)"},
    {"rank_order", (PyCFunction)rank_order, METH_VARARGS,
     "rank_order(group, thread, depth, rest) -> order (see the source)"},
    {"callchain_append", (PyCFunction)(void (*)(void))callchain_append, METH_FASTCALL,
     "callchain_append(root, keys, frames, period, count) (callchain.tree.CallchainRoot.append; see the source)"},
    {"other_dso_looks", (PyCFunction)other_dso_looks, METH_O,
     "other_dso_looks(records) -> [(record, look)] (report.hist._other_dso_looks; see the source)"},
    {"replay_looks", (PyCFunction)replay_looks, METH_VARARGS,
     "replay_looks(records, wraps, variant_of) -> looks (report.hist._replay_looks; see the source)"},
    {"sequence_records", (PyCFunction)sequence_records, METH_VARARGS,
     "sequence_records(order, bucket, gkeys) -> (numbers, periods) (report.builder._Sequence.records; see the source)"},
    {"sequence_fill", (PyCFunction)sequence_fill, METH_VARARGS,
     "sequence_fill(order, bucket, gkeys, numbers, periods) -> k (report.builder._Sequence.arrays; see the source)"},
    {"frame_cmp", (PyCFunction)(void (*)(void))frame_cmp, METH_FASTCALL,
     "frame_cmp(left, right) -> -1, 0 or 1 (callchain.tree.compare_frames; see the source)"},
    {"rb_replay", (PyCFunction)rb_replay, METH_O,
     "rb_replay(chains) -> (max_depth, top_hit, top_count, nodes) (callchain.rbreplay.replay; see the source)"},
    {"rb_replay_groups", (PyCFunction)rb_replay_groups, METH_VARARGS,
     "rb_replay_groups(fixed, per_group, groups, periods[, node_class]) -> [result or None] (report.hist._replay_trees; "
     "see the source)"},
    {"replay_plan", (PyCFunction)replay_plan, METH_VARARGS,
     "replay_plan(kept, entries, records, todo, roots, mixed, caller) -> (fixed, per_group) or None "
     "(callchain.rbreplay.replay_plan; see the source)"},
    {"builder_adds", (PyCFunction)builder_adds, METH_VARARGS,
     "builder_adds(bucket, known, to_rframe, chains, chain_of, self_parts, make_part, comm_head, groups, thread_comm, "
     "gkeys) (report.builder._py_adds; see the source)"},
    {"rframe_convert", (PyCFunction)rframe_convert, METH_VARARGS,
     "rframe_convert(frame, rframe_class, ranks, rank_of, object_of, file_start_of) -> RFrame "
     "(report.frames.FrameTable._convert; see the source)"},
    {"append_pending", (PyCFunction)append_pending, METH_VARARGS,
     "append_pending(items, skip_below, merging) (report.hist.Hists._append_pending; see the source)"},
    {"hist_lookups", (PyCFunction)hist_lookups, METH_VARARGS,
     "hist_lookups(groups, caller_order, graphs, cumulative, every, at, entries, frame_entries, make_self, "
     "make_frame) -> (records, made_after, pending) (see the source)"},
    {NULL, NULL, 0, NULL},
};
