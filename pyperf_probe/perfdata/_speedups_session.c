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

/* ---------------------------------------------------------------------------- end of the session section */

PyMethodDef speedups_session_methods[] = {
    {"user_chain", (PyCFunction)session_user_chain, METH_VARARGS,
     "user_chain(key, at, memo, max_stack, caller_order) -> tuple | list | None (see the source)"},
    {NULL, NULL, 0, NULL},
};
