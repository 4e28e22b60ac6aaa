/* pyperf_probe.perfdata._speedups, the session's per-key loops (session/fixed_keys.py has their Python twins,
 * which PYPERF_PURE_PYTHON selects; tests/test_speedups_session.py compares the two on random keys).
 */
#include "_speedups.h"

#define CONTEXT_USER 0xFFFFFFFFFFFFFE00ULL /* PERF_CONTEXT_USER */
#define CONTEXT_MAX 0xFFFFFFFFFFFFF001ULL  /* entries at or above it are context markers */

/* user_chain(key, at, memo, max_stack, caller_order) -> tuple | list | None
 *
 * The call chain of a sample key whose CALLCHAIN (u64 nr; u64 ips[nr]) starts at byte `at`, if it is a
 * user-only chain (no marker, or only a leading PERF_CONTEXT_USER): its kept end (`max_stack` entries,
 * the leaf's, or with `caller_order` the root's), each address looked up in `memo` (avma -> frame). All
 * found: the tuple of frames, leaf first. Some not: a list where each missing frame is its address (an
 * int). None: the chain overruns the key, holds another marker, or max_stack < 1 (the caller's
 * generic path decides). fixed_keys.user_chain is the Python twin. */
static PyObject *session_user_chain(PyObject *self, PyObject *args)
{
    Py_buffer key;
    Py_ssize_t at, max_stack;
    PyObject *memo, *out = NULL;
    int caller_order;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nO!np", &key, &at, &PyDict_Type, &memo, &max_stack, &caller_order))
        return NULL;
    const unsigned char *buf = key.buf;
    Py_ssize_t len = key.len;
    if (at < 0 || at > len - 8 || max_stack < 1)
        goto none;
    uint64_t nr = load_u64(buf + at);
    if (nr > (uint64_t)(len - at - 8) >> 3)
        goto none;
    const unsigned char *ips = buf + at + 8;
    Py_ssize_t start = nr && load_u64(ips) == CONTEXT_USER ? 1 : 0;
    Py_ssize_t n = (Py_ssize_t)nr - start;
    for (Py_ssize_t i = start; i < (Py_ssize_t)nr; i++)
        if (load_u64(ips + 8 * i) >= CONTEXT_MAX)
            goto none;
    if (n > max_stack) {
        if (caller_order)
            start += n - max_stack;
        n = max_stack;
    }
    out = PyTuple_New(n);
    if (out == NULL)
        goto done;
    int missing = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *avma = PyLong_FromUnsignedLongLong(load_u64(ips + 8 * (start + i)));
        if (avma == NULL)
            goto fail;
        PyObject *frame = PyDict_GetItemWithError(memo, avma);
        if (frame != NULL) {
            Py_INCREF(frame);
            Py_DECREF(avma);
            PyTuple_SET_ITEM(out, i, frame);
        } else if (PyErr_Occurred()) {
            Py_DECREF(avma);
            goto fail;
        } else {
            PyTuple_SET_ITEM(out, i, avma);
            missing = 1;
        }
    }
    if (missing) {
        PyObject *list = PyList_New(n);
        if (list == NULL)
            goto fail;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PyTuple_GET_ITEM(out, i);
            Py_INCREF(item);
            PyList_SET_ITEM(list, i, item);
        }
        Py_DECREF(out);
        out = list;
    }
    goto done;
fail:
    Py_CLEAR(out);
    goto done;
none:
    out = Py_None;
    Py_INCREF(out);
done:
    PyBuffer_Release(&key);
    return out;
}

typedef struct {
    uint64_t svma;
    Py_ssize_t index;
} SymStart;

static int symstart_cmp(const void *a, const void *b)
{
    const SymStart *x = a, *y = b;
    if (x->svma != y->svma)
        return x->svma < y->svma ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index; /* stable: table order among equal starts */
}

static int u64_column(PyObject *list, uint64_t *out, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, i);
        if (!PyLong_Check(item))
            return 0;
        out[i] = PyLong_AsUnsignedLongLong(item);
        if (out[i] == (uint64_t)-1 && PyErr_Occurred()) {
            PyErr_Clear(); /* negative or past u64: the Python path keeps such columns as lists */
            return 0;
        }
    }
    return 1;
}

/* symtab_sort(svmas, sizes, types, bindings, page_size) -> (order, svmas, sizes, types, bindings, ends) | None
 *
 * symbols.symtab._sorted_columns for a table of n >= 2 symbols (svmas, sizes: lists of int; types,
 * bindings: bytes, all in table order): a stable sort by svma; `order` the table-order index of each
 * sorted symbol (bytes of u32: array('I') contents), or None when the table was in order; the columns in
 * svma order as bytes (u64 values for svmas, sizes and ends: array('Q') contents); ends as
 * symbols__fixup_end makes them (svma + size; a zero-size symbol ends where the next starts, the last one
 * at the page after its own). None when a value or an end does not fit in a u64 (the Python path, whose
 * columns then stay lists).
 * symbols.symtab._py_sorted_columns is the Python twin. */
static PyObject *session_symtab_sort(PyObject *self, PyObject *args)
{
    PyObject *svmas, *sizes, *out = NULL, *order = NULL;
    Py_buffer types, bindings;
    unsigned long long page;
    (void)self;
    if (!PyArg_ParseTuple(args, "O!O!y*y*K", &PyList_Type, &svmas, &PyList_Type, &sizes, &types, &bindings, &page))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(svmas);
    uint64_t *sv = NULL, *sz = NULL, *osv = NULL, *osz = NULL, *oend = NULL;
    SymStart *starts = NULL;
    unsigned char *oty = NULL, *obi = NULL;
    if (n < 2 || PyList_GET_SIZE(sizes) != n || types.len != n || bindings.len != n || page == 0) {
        PyErr_SetString(PyExc_ValueError, "symtab_sort: columns of unequal lengths, fewer than 2, or no page");
        goto done;
    }
    sv = PyMem_Malloc(n * sizeof(uint64_t));
    sz = PyMem_Malloc(n * sizeof(uint64_t));
    osv = PyMem_Malloc(n * sizeof(uint64_t));
    osz = PyMem_Malloc(n * sizeof(uint64_t));
    oend = PyMem_Malloc(n * sizeof(uint64_t));
    starts = PyMem_Malloc(n * sizeof(SymStart));
    oty = PyMem_Malloc(n);
    obi = PyMem_Malloc(n);
    if (!sv || !sz || !osv || !osz || !oend || !starts || !oty || !obi) {
        PyErr_NoMemory();
        goto done;
    }
    if (!u64_column(svmas, sv, n) || !u64_column(sizes, sz, n))
        goto none;
    int sorted = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        starts[i].svma = sv[i];
        starts[i].index = i;
        if (i && sv[i] < sv[i - 1])
            sorted = 0;
    }
    if (!sorted)
        qsort(starts, n, sizeof(SymStart), symstart_cmp);
    const unsigned char *ty = types.buf, *bi = bindings.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t k = starts[i].index;
        osv[i] = sv[k];
        osz[i] = sz[k];
        oty[i] = ty[k];
        obi[i] = bi[k];
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t end;
        if (osz[i]) {
            end = osv[i] + osz[i];
            if (end < osv[i])
                goto none;
        } else if (i < n - 1) {
            end = osv[i + 1];
        } else {
            uint64_t rounded = (osv[i] + page - 1) / page * page; /* (overflow checked below) */
            if (osv[i] > UINT64_MAX - (page - 1) || rounded > UINT64_MAX - page)
                goto none;
            end = rounded + page;
        }
        oend[i] = end;
    }
    if (!sorted) {
        if ((uint64_t)n > UINT32_MAX)
            goto none;
        order = PyBytes_FromStringAndSize(NULL, n * 4);
        if (order == NULL)
            goto done;
        uint32_t *indexes = (uint32_t *)PyBytes_AS_STRING(order);
        for (Py_ssize_t i = 0; i < n; i++)
            indexes[i] = (uint32_t)starts[i].index;
    } else {
        order = Py_None;
        Py_INCREF(order);
    }
    out = Py_BuildValue("(Oy#y#y#y#y#)", order, (const char *)osv, n * 8, (const char *)osz, n * 8, (const char *)oty,
                        n, (const char *)obi, n, (const char *)oend, n * 8);
    goto done;
none:
    out = Py_None;
    Py_INCREF(out);
done:
    Py_XDECREF(order);
    PyMem_Free(sv);
    PyMem_Free(sz);
    PyMem_Free(osv);
    PyMem_Free(osz);
    PyMem_Free(oend);
    PyMem_Free(starts);
    PyMem_Free(oty);
    PyMem_Free(obi);
    PyBuffer_Release(&types);
    PyBuffer_Release(&bindings);
    return out;
}

/* ---------------------------------------------------------------------------- end of the session section */

PyMethodDef speedups_session_methods[] = {
    {"user_chain", (PyCFunction)session_user_chain, METH_VARARGS,
     "user_chain(key, at, memo, max_stack, caller_order) -> tuple | list | None (see the source)"},
    {"symtab_sort", (PyCFunction)session_symtab_sort, METH_VARARGS,
     "symtab_sort(svmas, sizes, types, bindings, page_size) -> (order, svmas, sizes, types, bindings, ends) | None "
     "(see the source)"},
    {NULL, NULL, 0, NULL},
};
