/* pyperf_probe.perfdata._speedups, the reading path's non-sample records: MMAP, MMAP2, COMM, FORK and EXIT
 * decoded in C while the chunk is scanned (KeyScanner's `side`), so that the thousands of records of a
 * system-wide recording (sys.data: 14.5K, 9.4K of them MMAP2) cost no Python call each on the way in.
 *
 * side_record(spec, record) -> (time, rec) | None
 *     records.side_record's twin (tests/test_speedups.py compares them on random records). spec is
 *     (trailer_size, time_at, (MmapRecord, Mmap2Record, CommRecord, ForkRecord, ExitRecord)): the size of the
 *     sample_id trailer every event of the file shares (sample_id_all with TIME) and TIME's offset in it, and
 *     the record classes (tuple subclasses, built here as tuple.__new__(cls, fields) builds them). `record` is
 *     one whole record, header included. Taken: a record of one of those five types whose size is a multiple
 *     of 8 and holds the trailer, whose TIME is neither 0 nor (u64)-1 (those are delivered at once: the
 *     reader's careful path queues them), and whose fields fit before the trailer (else decoding it warns:
 *     the careful path again). Its fields are what perfdata.records' decoders give: ints as the structs
 *     read them (FORK/EXIT's u32, MMAP's i32 pid/tid), strings up to their NUL or the trailer, decoded as
 *     UTF-8 with "replace", MMAP2's build id (PERF_RECORD_MISC_MMAP_BUILD_ID) its first min(size, 20) bytes.
 *
 * nonkey_positions(items, timed) -> list of ints
 *     stream._segments' search (its Python twin _py_nonkey_positions): the indices of the items that are not
 *     sample keys: not exactly bytes, or with `timed`, not exactly a tuple of two (a (key, time) pair).
 */
#include "_speedups.h"

#define NO_TIME_U64 0xFFFFFFFFFFFFFFFFULL
#define MISC_COMM_EXEC 0x2000
#define MISC_MMAP_BUILD_ID 0x4000

enum { T_MMAP = 1, T_EXIT = 4, T_COMM = 3, T_FORK = 7, T_MMAP2 = 10 };

int side_spec_parse(PyObject *obj, SideSpec *spec)
{
    PyObject *classes;
    Py_ssize_t k;

    memset(spec, 0, sizeof(*spec));
    if (obj == NULL || obj == Py_None)
        return 0;
    if (!PyArg_ParseTuple(obj, "nnO!:side spec", &spec->trailer_size, &spec->time_at, &PyTuple_Type, &classes))
        return -1;
    if (spec->trailer_size < 8 || spec->trailer_size % 8 || spec->time_at < 0 || spec->time_at % 8 ||
        spec->time_at + 8 > spec->trailer_size || spec->trailer_size > 64 || PyTuple_GET_SIZE(classes) != 5) {
        PyErr_SetString(PyExc_ValueError, "side spec: bad trailer or classes");
        return -1;
    }
    for (k = 0; k < 5; k++) {
        PyObject *cls = PyTuple_GET_ITEM(classes, k);
        if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type)) {
            PyErr_SetString(PyExc_TypeError, "side spec: the classes must be tuple subclasses");
            return -1;
        }
    }
    for (k = 0; k < 5; k++) {
        spec->classes[k] = PyTuple_GET_ITEM(classes, k);
        Py_INCREF(spec->classes[k]);
    }
    spec->on = 1;
    return 0;
}

void side_spec_clear(SideSpec *spec)
{
    int k;
    for (k = 0; k < 5; k++)
        Py_CLEAR(spec->classes[k]);
    spec->on = 0;
}

static inline uint32_t load_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline int32_t load_i32(const unsigned char *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* records._cstring: up to the first NUL in [p, end), decoded as UTF-8 with "replace". */
static PyObject *cstring(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *nul = memchr(p, 0, (size_t)(end - p));
    return PyUnicode_DecodeUTF8((const char *)p, (nul != NULL ? nul : end) - p, "replace");
}

/* A record instance of `cls` (a tuple subclass) holding the n new references of `fields` (stolen, also on
 * failure); NULL when one of them is NULL or on error. */
static PyObject *build(PyObject *cls, PyObject **fields, Py_ssize_t n)
{
    PyObject *rec = NULL;
    Py_ssize_t k;
    for (k = 0; k < n; k++)
        if (fields[k] == NULL)
            goto fail;
    rec = ((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, n);
    if (rec == NULL)
        goto fail;
    for (k = 0; k < n; k++)
        PyTuple_SET_ITEM(rec, k, fields[k]);
    return rec;
fail:
    for (k = 0; k < n; k++)
        Py_XDECREF(fields[k]);
    return NULL;
}

#define I32(p) PyLong_FromLong((long)load_i32(p))
#define U32(p) PyLong_FromUnsignedLong((unsigned long)load_u32(p))
#define U64(p) PyLong_FromUnsignedLongLong(load_u64(p))

int side_record(const SideSpec *spec, const unsigned char *rec, Py_ssize_t size, PyObject **time_out,
                PyObject **rec_out)
{
    const uint64_t header = load_u64(rec);
    const unsigned type = (unsigned)(header & 0xFFFFFFFFu), misc = (unsigned)((header >> 32) & 0xFFFF);
    const unsigned char *body = rec + 8, *end;
    uint64_t time;
    PyObject *t, *r = NULL;

    if (!spec->on || (type != T_MMAP && type != T_MMAP2 && type != T_COMM && type != T_FORK && type != T_EXIT))
        return 0;
    if (size % 8 || size - 8 < spec->trailer_size)
        return 0;
    end = rec + size - spec->trailer_size;
    time = load_u64(end + spec->time_at);
    if (time == 0 || time == NO_TIME_U64)
        return 0;
    switch (type) {
    case T_MMAP:
        if (end - body < 32)
            return 0;
        break;
    case T_MMAP2:
        if (end - body < 64)
            return 0;
        break;
    case T_COMM:
        if (end - body < 8)
            return 0;
        break;
    default:
        if (end - body < 24)
            return 0;
    }
    t = PyLong_FromUnsignedLongLong(time);
    if (t == NULL)
        return -1;
    switch (type) {
    case T_MMAP: {
        PyObject *f[8] = {I32(body), I32(body + 4), U64(body + 8), U64(body + 16), U64(body + 24),
                          cstring(body + 32, end), PyLong_FromLong((long)misc), t};
        Py_INCREF(t);
        r = build(spec->classes[0], f, 8);
        break;
    }
    case T_MMAP2: {
        PyObject *f[15];
        f[0] = I32(body);
        f[1] = I32(body + 4);
        f[2] = U64(body + 8);
        f[3] = U64(body + 16);
        f[4] = U64(body + 24);
        if (misc & MISC_MMAP_BUILD_ID) { /* u8 build_id_size; u8 pad[3]; u8 build_id[20] */
            unsigned bid_size = body[32] < 20 ? body[32] : 20;
            f[5] = PyLong_FromLong(0);
            f[6] = PyLong_FromLong(0);
            f[7] = PyLong_FromLong(0);
            f[8] = PyLong_FromLong(0);
            f[14] = PyBytes_FromStringAndSize((const char *)body + 36, bid_size);
        }
        else {
            f[5] = U32(body + 32);
            f[6] = U32(body + 36);
            f[7] = U64(body + 40);
            f[8] = U64(body + 48);
            f[14] = Py_None;
            Py_INCREF(Py_None);
        }
        f[9] = U32(body + 56);
        f[10] = U32(body + 60);
        f[11] = cstring(body + 64, end);
        f[12] = PyLong_FromLong((long)misc);
        f[13] = t;
        Py_INCREF(t);
        r = build(spec->classes[1], f, 15);
        break;
    }
    case T_COMM: {
        PyObject *exec = (misc & MISC_COMM_EXEC) ? Py_True : Py_False;
        PyObject *f[5] = {I32(body), I32(body + 4), cstring(body + 8, end), exec, t};
        Py_INCREF(exec);
        Py_INCREF(t);
        r = build(spec->classes[2], f, 5);
        break;
    }
    default: { /* FORK, EXIT: u32 pid, ppid, tid, ptid; u64 time */
        PyObject *f[7] = {U32(body), U32(body + 4), U32(body + 8), U32(body + 12), U64(body + 16),
                          PyLong_FromLong((long)misc), t};
        Py_INCREF(t);
        r = build(spec->classes[type == T_FORK ? 3 : 4], f, 7);
    }
    }
    if (r == NULL) {
        Py_DECREF(t);
        return -1;
    }
    *time_out = t;
    *rec_out = r;
    return 1;
}

static PyObject *py_side_record(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *spec_obj, *time = NULL, *rec = NULL, *result = NULL;
    Py_buffer view;
    SideSpec spec;
    int got;

    if (!PyArg_ParseTuple(args, "O!y*:side_record", &PyTuple_Type, &spec_obj, &view))
        return NULL;
    if (side_spec_parse(spec_obj, &spec) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if (view.len < 8 || (Py_ssize_t)(load_u64(view.buf) >> 48) != view.len) {
        PyErr_SetString(PyExc_ValueError, "side_record: not one whole record");
        goto done;
    }
    got = side_record(&spec, view.buf, view.len, &time, &rec);
    if (got < 0)
        goto done;
    if (got == 0) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    result = PyTuple_Pack(2, time, rec);
    Py_DECREF(time);
    Py_DECREF(rec);
done:
    side_spec_clear(&spec);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *nonkey_positions(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *items, *out;
    int timed;
    Py_ssize_t i, n;

    if (!PyArg_ParseTuple(args, "O!p:nonkey_positions", &PyList_Type, &items, &timed))
        return NULL;
    out = PyList_New(0);
    if (out == NULL)
        return NULL;
    n = PyList_GET_SIZE(items);
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        int key = timed ? (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) : PyBytes_CheckExact(item);
        if (!key) {
            PyObject *pos = PyLong_FromSsize_t(i);
            if (pos == NULL || PyList_Append(out, pos) < 0) {
                Py_XDECREF(pos);
                Py_DECREF(out);
                return NULL;
            }
            Py_DECREF(pos);
        }
    }
    return out;
}

PyMethodDef speedups_records_methods[] = {
    {"side_record", (PyCFunction)py_side_record, METH_VARARGS,
     "side_record(spec, record) -> (time, rec) or None (see _speedups_records.c)"},
    {"nonkey_positions", (PyCFunction)nonkey_positions, METH_VARARGS,
     "nonkey_positions(items, timed) -> the indices of the items that are not sample keys"},
    {NULL, NULL, 0, NULL},
};
