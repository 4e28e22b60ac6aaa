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
 * entry_scan(buf, view, i, nw, pos, time_word, view_min, side, times, items) -> i
 *     stream._py_entry_scan's twin: the ordered (unkeyed) path's scan of a chunk (`buf`, read at file offset
 *     `pos`; nw its whole u64 words) from word i. A PERF_RECORD_SAMPLE whose size is a multiple of 8,
 *     whole in the chunk, with its TIME at word time_word (time_word 0: samples are not taken) neither 0 nor
 *     (u64)-1: TIME to `times` and the entry (time, 9, misc, record, file offset) to `items`, the record
 *     a slice of `view` (a memoryview of buf) when view is not None and the record is at least view_min
 *     bytes, else a bytes copy. With `side` (as side_record's spec), the records side_record takes: TIME
 *     to `times`, the record to `items`. It stops at anything else and returns its word index.
 *
 * SampleCodec(sample_type, evsel, period, regs_user_mask, sample_cls, regs_cls, fallback)
 *     sample.SampleDecoder's decode in C for the sample types without READ, BRANCH_STACK, REGS_INTR or AUX
 *     (their generated Python decoder is the twin, and the fallback): codec(buf, pos, end, misc, file_offset)
 *     -> the same Sample (ints as the structs read them: TID's pid/tid i32, CPU u32; CALLCHAIN a tuple;
 *     RAW bytes; REGS_USER a Regs (abi, mask, values); STACK_USER memoryview(buf)[...] of its dyn_size
 *     bytes, b'' when empty; `period` where there is no PERIOD), from bytes, or from a memoryview when the
 *     type has STACK_USER (the reader's viewed samples: the Python decoder copies RAW out of those). A
 *     field that does not fit, or any other argument, goes to `fallback` (the Python decoder), which
 *     raises what it raises. codec.decode_run(entries, start, out) -> index: stream._decode_batches'
 *     loop from entries[start]: an item that is not exactly a tuple (a record the scan decoded) is
 *     appended to `out` as it is, a sample entry (time, 9, misc, record, file_offset) decoded from
 *     record[8:] and its Sample appended; it returns the index of the first entry it does not take
 *     (another record type, a sample the C loop does not take), len(entries) at the end.
 *
 * nonkey_positions(items, timed) -> list of ints
 *     stream._segments' search (its Python twin _py_nonkey_positions): the indices of the items that are not
 *     sample keys: not exactly bytes, or with `timed`, not exactly a tuple of two (a (key, time) pair).
 *
 * key_segments(items, timed, entries) -> list | None
 *     stream._segments' cut (its Python twin: that method's loop over nonkey_positions): the runs of sample
 *     keys of `items` as lists (slices) and every other item by itself, in order; [items] itself when all
 *     are keys, [] for no item. None, with `entries`, when a non-key item is exactly a tuple (an entry the
 *     reader decodes when it is delivered: _decoding_segments' case).
 */
#include "_speedups.h"
#include "structmember.h"

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
    return side_record_timed(spec, rec, size, 0, time_out, rec_out);
}

int side_record_timed(const SideSpec *spec, const unsigned char *rec, Py_ssize_t size, int untimed,
                      PyObject **time_out, PyObject **rec_out)
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
    if (!untimed && (time == 0 || time == NO_TIME_U64))
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

/* entry_scan(buf, view, i, nw, pos, time_word, view_min, side, times, items) -> i: see the top comment. */
static PyObject *entry_scan(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer chunk;
    PyObject *view, *side_obj, *times, *items, *result = NULL, *nine = NULL;
    Py_ssize_t i, nw, pos, time_word, view_min;
    SideSpec side;

    if (!PyArg_ParseTuple(args, "y*OnnnnnOO!O!:entry_scan", &chunk, &view, &i, &nw, &pos, &time_word, &view_min,
                          &side_obj, &PyList_Type, &times, &PyList_Type, &items))
        return NULL;
    if (side_spec_parse(side_obj, &side) < 0) {
        PyBuffer_Release(&chunk);
        return NULL;
    }
    if (i < 0 || nw < 0 || nw > chunk.len / 8 || time_word < 0 || (view != Py_None && !PyMemoryView_Check(view))) {
        PyErr_SetString(PyExc_ValueError, "entry_scan: bad arguments");
        goto done;
    }
    nine = PyLong_FromLong(9);
    if (nine == NULL)
        goto done;
    while (i < nw) {
        const unsigned char *rec = (const unsigned char *)chunk.buf + 8 * i;
        const uint64_t header = load_u64(rec);
        const Py_ssize_t size_words = (Py_ssize_t)(header >> 51);
        PyObject *time, *item;

        if ((header & SAMPLE_WORD_MASK) == 9) {
            PyObject *raw, *misc, *offset;
            uint64_t t;
            if (!time_word || size_words < time_word + 1 || size_words > nw - i)
                break;
            t = load_u64(rec + 8 * time_word);
            if (t == 0 || t == NO_TIME_U64)
                break;
            if (view != Py_None && 8 * size_words >= view_min)
                raw = PySequence_GetSlice(view, 8 * i, 8 * (i + size_words));
            else
                raw = PyBytes_FromStringAndSize((const char *)rec, 8 * size_words);
            time = PyLong_FromUnsignedLongLong(t);
            misc = PyLong_FromLong((long)((header >> 32) & 0xFFFF));
            offset = PyLong_FromSsize_t(pos + 8 * i);
            if (raw == NULL || time == NULL || misc == NULL || offset == NULL) {
                Py_XDECREF(raw);
                Py_XDECREF(time);
                Py_XDECREF(misc);
                Py_XDECREF(offset);
                goto done;
            }
            item = PyTuple_New(5);
            if (item == NULL) {
                Py_DECREF(raw);
                Py_DECREF(time);
                Py_DECREF(misc);
                Py_DECREF(offset);
                goto done;
            }
            Py_INCREF(time);
            Py_INCREF(nine);
            PyTuple_SET_ITEM(item, 0, time);
            PyTuple_SET_ITEM(item, 1, nine);
            PyTuple_SET_ITEM(item, 2, misc);
            PyTuple_SET_ITEM(item, 3, raw);
            PyTuple_SET_ITEM(item, 4, offset);
        }
        else {
            int got;
            if (!side.on || size_words < 1 || size_words > nw - i || header & (7ULL << 48))
                break;
            got = side_record(&side, rec, 8 * size_words, &time, &item);
            if (got < 0)
                goto done;
            if (got == 0)
                break;
        }
        if (PyList_Append(items, item) < 0 || PyList_Append(times, time) < 0) {
            /* (a failed second append leaves items one longer: the caller gets the exception) */
            Py_DECREF(item);
            Py_DECREF(time);
            goto done;
        }
        Py_DECREF(item);
        Py_DECREF(time);
        i += size_words;
    }
    result = PyLong_FromSsize_t(i);
done:
    Py_XDECREF(nine);
    side_spec_clear(&side);
    PyBuffer_Release(&chunk);
    return result;
}

/* --- SampleCodec ----------------------------------------------------------------------------------- */

#define ST_IP (1u << 0)
#define ST_TID (1u << 1)
#define ST_TIME (1u << 2)
#define ST_ADDR (1u << 3)
#define ST_READ (1u << 4)
#define ST_CALLCHAIN (1u << 5)
#define ST_ID (1u << 6)
#define ST_CPU (1u << 7)
#define ST_PERIOD (1u << 8)
#define ST_STREAM_ID (1u << 9)
#define ST_RAW (1u << 10)
#define ST_BRANCH_STACK (1u << 11)
#define ST_REGS_USER (1u << 12)
#define ST_STACK_USER (1u << 13)
#define ST_WEIGHT (1u << 14)
#define ST_DATA_SRC (1u << 15)
#define ST_IDENTIFIER (1u << 16)
#define ST_TRANSACTION (1u << 17)
#define ST_REGS_INTR (1u << 18)
#define ST_PHYS_ADDR (1u << 19)
#define ST_AUX (1u << 20)
#define ST_CGROUP (1u << 21)
#define ST_DATA_PAGE_SIZE (1u << 22)
#define ST_CODE_PAGE_SIZE (1u << 23)
#define ST_WEIGHT_STRUCT (1u << 24)
#define ST_UNSUPPORTED (ST_READ | ST_BRANCH_STACK | ST_REGS_INTR | ST_AUX | ~((ST_WEIGHT_STRUCT << 1) - 1))

/* Sample's fields (perfdata.sample.Sample._fields) */
enum { F_EVSEL, F_MISC, F_TIME, F_PID, F_TID, F_IP, F_PERIOD, F_CPU, F_CALLCHAIN, F_RAW, F_ID, F_STREAM_ID, F_ADDR,
       F_READ, F_BRANCH_STACK, F_REGS_USER, F_STACK_USER, F_WEIGHT, F_DATA_SRC, F_TRANSACTION, F_REGS_INTR,
       F_PHYS_ADDR, F_CGROUP, F_DATA_PAGE_SIZE, F_CODE_PAGE_SIZE, F_AUX, F_FILE_OFFSET, N_FIELDS };

typedef struct {
    PyObject_HEAD
    uint32_t sample_type;
    Py_ssize_t nregs;
    PyObject *evsel, *period, *mask, *sample_cls, *regs_cls, *fallback;
} SampleCodec;

/* The Sample of one record body [pos, end) of `data` (`owner`: the object data belongs to, bytes or a
 * memoryview, for STACK_USER's view), or NULL with no exception when the C loop does not take it
 * (a field that does not fit: the Python decoder then raises what it raises). -1 in *err on error. */
static PyObject *codec_decode(SampleCodec *self, PyObject *owner, const unsigned char *data, Py_ssize_t pos,
                              Py_ssize_t end, PyObject *misc, PyObject *file_offset, int *err)
{
    const uint32_t st = self->sample_type;
    PyObject *f[N_FIELDS] = {NULL};
    PyObject *rec;
    int k;

#define NEED(n)                                                                                               \
    do {                                                                                                      \
        if ((n) > end - pos)                                                                                  \
            goto not_taken;                                                                                   \
    } while (0)
#define TAKE_U64(field)                                                                                       \
    do {                                                                                                      \
        NEED(8);                                                                                              \
        Py_XDECREF(f[field]);                                                                                 \
        if ((f[field] = PyLong_FromUnsignedLongLong(load_u64(data + pos))) == NULL)                           \
            goto error;                                                                                       \
        pos += 8;                                                                                             \
    } while (0)

    *err = 0;
    if (st & ST_IDENTIFIER)
        TAKE_U64(F_ID);
    if (st & ST_IP)
        TAKE_U64(F_IP);
    if (st & ST_TID) {
        NEED(8);
        if ((f[F_PID] = PyLong_FromLong((long)load_i32(data + pos))) == NULL ||
            (f[F_TID] = PyLong_FromLong((long)load_i32(data + pos + 4))) == NULL)
            goto error;
        pos += 8;
    }
    if (st & ST_TIME)
        TAKE_U64(F_TIME);
    if (st & ST_ADDR)
        TAKE_U64(F_ADDR);
    if (st & ST_ID)
        TAKE_U64(F_ID);
    if (st & ST_STREAM_ID)
        TAKE_U64(F_STREAM_ID);
    if (st & ST_CPU) {
        NEED(8);
        if ((f[F_CPU] = PyLong_FromUnsignedLong((unsigned long)load_u32(data + pos))) == NULL)
            goto error;
        pos += 8;
    }
    if (st & ST_PERIOD)
        TAKE_U64(F_PERIOD);
    if (st & ST_CALLCHAIN) {
        uint64_t nr;
        Py_ssize_t j;
        NEED(8);
        nr = load_u64(data + pos);
        pos += 8;
        if (nr > (uint64_t)((end - pos) >> 3))
            goto not_taken;
        if ((f[F_CALLCHAIN] = PyTuple_New((Py_ssize_t)nr)) == NULL)
            goto error;
        for (j = 0; j < (Py_ssize_t)nr; j++) {
            PyObject *ip = PyLong_FromUnsignedLongLong(load_u64(data + pos + 8 * j));
            if (ip == NULL)
                goto error;
            PyTuple_SET_ITEM(f[F_CALLCHAIN], j, ip);
        }
        pos += 8 * (Py_ssize_t)nr;
    }
    if (st & ST_RAW) {
        uint32_t size;
        NEED(4);
        size = load_u32(data + pos);
        if ((Py_ssize_t)size > end - pos - 4)
            goto not_taken;
        if ((f[F_RAW] = PyBytes_FromStringAndSize((const char *)data + pos + 4, (Py_ssize_t)size)) == NULL)
            goto error;
        pos += ((Py_ssize_t)size + 11) & ~(Py_ssize_t)7;
    }
    if (st & ST_REGS_USER) {
        uint64_t abi;
        PyObject *values, *regs;
        Py_ssize_t j;
        NEED(8);
        abi = load_u64(data + pos);
        if (abi) {
            if (self->nregs > (end - pos - 8) >> 3)
                goto not_taken;
            values = PyTuple_New(self->nregs);
            if (values == NULL)
                goto error;
            for (j = 0; j < self->nregs; j++) {
                PyObject *v = PyLong_FromUnsignedLongLong(load_u64(data + pos + 8 + 8 * j));
                if (v == NULL) {
                    Py_DECREF(values);
                    goto error;
                }
                PyTuple_SET_ITEM(values, j, v);
            }
            pos += 8 + 8 * self->nregs;
        }
        else {
            values = PyTuple_New(0);
            if (values == NULL)
                goto error;
            pos += 8;
        }
        regs = ((PyTypeObject *)self->regs_cls)->tp_alloc((PyTypeObject *)self->regs_cls, 3);
        if (regs == NULL) {
            Py_DECREF(values);
            goto error;
        }
        PyTuple_SET_ITEM(regs, 0, PyLong_FromUnsignedLongLong(abi));
        Py_INCREF(self->mask);
        PyTuple_SET_ITEM(regs, 1, self->mask);
        PyTuple_SET_ITEM(regs, 2, values);
        f[F_REGS_USER] = regs;
        if (PyTuple_GET_ITEM(regs, 0) == NULL)
            goto error;
    }
    if (st & ST_STACK_USER) {
        uint64_t size, dyn;
        NEED(8);
        size = load_u64(data + pos);
        if (size) {
            PyObject *view;
            if (end - pos - 16 < 0 || size > (uint64_t)(end - pos - 16))
                goto not_taken;
            dyn = load_u64(data + pos + 8 + (Py_ssize_t)size);
            if (dyn > size)
                goto not_taken;
            view = PyMemoryView_FromObject(owner);
            if (view == NULL)
                goto error;
            f[F_STACK_USER] = PySequence_GetSlice(view, pos + 8, pos + 8 + (Py_ssize_t)dyn);
            Py_DECREF(view);
            if (f[F_STACK_USER] == NULL)
                goto error;
            pos += 16 + (Py_ssize_t)size;
        }
        else {
            if ((f[F_STACK_USER] = PyBytes_FromStringAndSize(NULL, 0)) == NULL)
                goto error;
            pos += 8;
        }
    }
    if (st & (ST_WEIGHT | ST_WEIGHT_STRUCT))
        TAKE_U64(F_WEIGHT);
    if (st & ST_DATA_SRC)
        TAKE_U64(F_DATA_SRC);
    if (st & ST_TRANSACTION)
        TAKE_U64(F_TRANSACTION);
    if (st & ST_PHYS_ADDR)
        TAKE_U64(F_PHYS_ADDR);
    if (st & ST_CGROUP)
        TAKE_U64(F_CGROUP);
    if (st & ST_DATA_PAGE_SIZE)
        TAKE_U64(F_DATA_PAGE_SIZE);
    if (st & ST_CODE_PAGE_SIZE)
        TAKE_U64(F_CODE_PAGE_SIZE);
#undef TAKE_U64
#undef NEED
    if (!(st & ST_PERIOD)) {
        Py_INCREF(self->period);
        f[F_PERIOD] = self->period;
    }
    Py_INCREF(self->evsel);
    f[F_EVSEL] = self->evsel;
    Py_INCREF(misc);
    f[F_MISC] = misc;
    Py_INCREF(file_offset);
    f[F_FILE_OFFSET] = file_offset;
    rec = ((PyTypeObject *)self->sample_cls)->tp_alloc((PyTypeObject *)self->sample_cls, N_FIELDS);
    if (rec == NULL)
        goto error;
    for (k = 0; k < N_FIELDS; k++) {
        if (f[k] == NULL) {
            Py_INCREF(Py_None);
            f[k] = Py_None;
        }
        PyTuple_SET_ITEM(rec, k, f[k]);
    }
    return rec;
error:
    *err = -1;
not_taken:
    for (k = 0; k < N_FIELDS; k++)
        Py_XDECREF(f[k]);
    return NULL;
}

/* May the C loop read `buf` as the Python decoder would? bytes, or a memoryview when the decoder makes RAW
 * bytes (STACK_USER files: stream._view_samples); a C-contiguous byte buffer either way. */
static int codec_buffer(SampleCodec *self, PyObject *buf, Py_buffer *view)
{
    if (!PyBytes_CheckExact(buf) && !(PyMemoryView_Check(buf) && self->sample_type & ST_STACK_USER))
        return 0;
    if (PyObject_GetBuffer(buf, view, PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        return 0;
    }
    if (view->itemsize != 1) {
        PyBuffer_Release(view);
        return 0;
    }
    return 1;
}

static PyObject *codec_call(SampleCodec *self, PyObject *args, PyObject *kwargs)
{
    PyObject *buf, *misc, *file_offset, *rec = NULL;
    Py_ssize_t pos, end;
    Py_buffer view;
    int err = 0;

    if (kwargs == NULL && PyTuple_GET_SIZE(args) == 5 &&
        PyArg_ParseTuple(args, "OnnOO", &buf, &pos, &end, &misc, &file_offset) && PyLong_CheckExact(misc) &&
        codec_buffer(self, buf, &view)) {
        if (pos >= 0 && pos <= end && end <= view.len)
            rec = codec_decode(self, buf, view.buf, pos, end, misc, file_offset, &err);
        PyBuffer_Release(&view);
        if (rec != NULL || err)
            return rec;
    }
    PyErr_Clear();
    return PyObject_Call(self->fallback, args, kwargs);
}

/* decode_run(entries, start, out) -> index: see the top comment. */
static PyObject *codec_decode_run(SampleCodec *self, PyObject *args)
{
    PyObject *entries, *out;
    Py_ssize_t i, n;

    if (!PyArg_ParseTuple(args, "O!nO!:decode_run", &PyList_Type, &entries, &i, &PyList_Type, &out))
        return NULL;
    n = PyList_GET_SIZE(entries);
    if (i < 0)
        i = 0;
    for (; i < n; i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i), *raw, *rec = NULL;
        Py_buffer view;
        int err = 0;

        if (!PyTuple_CheckExact(entry)) { /* a record the scan decoded */
            if (PyList_Append(out, entry) < 0)
                return NULL;
            continue;
        }
        if (PyTuple_GET_SIZE(entry) != 5 || !PyLong_CheckExact(PyTuple_GET_ITEM(entry, 1)) ||
            PyLong_AsLong(PyTuple_GET_ITEM(entry, 1)) != 9 || !PyLong_CheckExact(PyTuple_GET_ITEM(entry, 2)))
            break;
        raw = PyTuple_GET_ITEM(entry, 3);
        if (!codec_buffer(self, raw, &view))
            break;
        if (view.len >= 8)
            rec = codec_decode(self, raw, view.buf, 8, view.len, PyTuple_GET_ITEM(entry, 2),
                               PyTuple_GET_ITEM(entry, 4), &err);
        PyBuffer_Release(&view);
        if (err)
            return NULL;
        if (rec == NULL)
            break;
        if (PyList_Append(out, rec) < 0) {
            Py_DECREF(rec);
            return NULL;
        }
        Py_DECREF(rec);
    }
    return PyLong_FromSsize_t(i);
}

static PyObject *codec_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"sample_type", "evsel", "period", "regs_user_mask", "sample_cls", "regs_cls", "fallback",
                            NULL};
    unsigned long long sample_type, mask;
    PyObject *evsel, *period, *sample_cls, *regs_cls, *fallback;
    SampleCodec *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "KOOKOOO:SampleCodec", names, &sample_type, &evsel, &period, &mask,
                                     &sample_cls, &regs_cls, &fallback))
        return NULL;
    if (sample_type & ST_UNSUPPORTED || sample_type >> 32) {
        PyErr_SetString(PyExc_ValueError, "SampleCodec: sample_type with fields it does not read");
        return NULL;
    }
    if (!PyType_Check(sample_cls) || !PyType_IsSubtype((PyTypeObject *)sample_cls, &PyTuple_Type) ||
        !PyType_Check(regs_cls) || !PyType_IsSubtype((PyTypeObject *)regs_cls, &PyTuple_Type) ||
        !PyCallable_Check(fallback)) {
        PyErr_SetString(PyExc_TypeError, "SampleCodec: bad classes or fallback");
        return NULL;
    }
    self = (SampleCodec *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->sample_type = (uint32_t)sample_type;
    self->nregs = __builtin_popcountll(mask);
    self->mask = PyLong_FromUnsignedLongLong(mask);
    if (self->mask == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    Py_INCREF(evsel);
    self->evsel = evsel;
    Py_INCREF(period);
    self->period = period;
    Py_INCREF(sample_cls);
    self->sample_cls = sample_cls;
    Py_INCREF(regs_cls);
    self->regs_cls = regs_cls;
    Py_INCREF(fallback);
    self->fallback = fallback;
    return (PyObject *)self;
}

static void codec_dealloc(SampleCodec *self)
{
    Py_XDECREF(self->evsel);
    Py_XDECREF(self->period);
    Py_XDECREF(self->mask);
    Py_XDECREF(self->sample_cls);
    Py_XDECREF(self->regs_cls);
    Py_XDECREF(self->fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef codec_methods[] = {
    {"decode_run", (PyCFunction)codec_decode_run, METH_VARARGS,
     "decode_run(entries, start, out) -> index (see _speedups_records.c)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SampleCodecType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyperf_probe.perfdata._speedups.SampleCodec",
    .tp_basicsize = sizeof(SampleCodec),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "SampleCodec(sample_type, evsel, period, regs_user_mask, sample_cls, regs_cls, fallback): "
              "decode(buf, pos, end, misc, file_offset) -> Sample; decode_run(entries, start, out) -> index",
    .tp_new = codec_new,
    .tp_dealloc = (destructor)codec_dealloc,
    .tp_call = (ternaryfunc)codec_call,
    .tp_methods = codec_methods,
};

int speedups_records_init(PyObject *module)
{
    if (PyType_Ready(&SampleCodecType) < 0)
        return -1;
    Py_INCREF(&SampleCodecType);
    if (PyModule_AddObject(module, "SampleCodec", (PyObject *)&SampleCodecType) < 0) {
        Py_DECREF(&SampleCodecType);
        return -1;
    }
    return 0;
}

/* mmap_handle(fallback, file_dsos, threads, map_cls, mmap2_cls, rec)
 *
 * session.machine.Machine's MMAP/MMAP2 handler (its Machine.process_mmap, bound by functools.partial to
 * the machine's fallback, _file_dsos, threads and the Map and Mmap2Record classes). The common case is
 * done here, the whole of it or nothing: an Mmap2Record (exactly) of user space whose file name is in
 * `file_dsos` with its dso found ([identity, dso], dso not None, and not identity memory mapped
 * executable), whose thread is in `threads` (and is not one of unknown pid that the record names), and
 * whose range overlaps no map of the thread's Maps: a Map(start, start + length, pgoff, dso, prot,
 * flags, identity) is inserted at its place in the Maps' _starts and _maps (bisect_right on the starts)
 * and the Maps' generation goes up by one, as Maps.insert does; a range with end <= start changes nothing.
 * Anything else is `fallback(rec)` (Machine._process_mmap, the Python twin, which makes the same change:
 * tests/test_machine_mmap.py compares the two on random records). The Thread, Maps and Map fields are
 * their __slots__, found once per class. */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t off[7];
} MmSlots;

static MmSlots mm_thread, mm_maps, mm_map;

#define MM_SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* 1: the offsets of `names` in `type` (each a __slots__ member) are in *c; 0: the type lacks one */
static int mm_slots(PyTypeObject *type, MmSlots *c, const char *const *names, int n)
{
    if (c->type == type)
        return 1;
    Py_ssize_t off[7];
    for (int k = 0; k < n; k++) {
        PyObject *name = PyUnicode_InternFromString(names[k]);
        if (name == NULL) {
            PyErr_Clear();
            return 0;
        }
        PyObject *d = _PyType_Lookup(type, name);
        Py_DECREF(name);
        if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type))
            return 0;
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY))
            return 0;
        off[k] = m->offset;
    }
    Py_INCREF(type);
    Py_XDECREF(c->type);
    c->type = type;
    memcpy(c->off, off, sizeof(off));
    return 1;
}

static const char *const mm_thread_names[] = {"pid", "maps"};
static const char *const mm_maps_names[] = {"_starts", "_maps", "generation"};
static const char *const mm_map_names[] = {"start", "end", "pgoff", "dso", "prot", "flags", "identity"};

/* 1: done; 0: the fallback's case; -1: error */
static int mmap_fast(PyObject *file_dsos, PyObject *threads, PyTypeObject *map_cls, PyObject *rec)
{
    PyObject *pid = PyTuple_GET_ITEM(rec, 0), *tid = PyTuple_GET_ITEM(rec, 1);
    PyObject *start = PyTuple_GET_ITEM(rec, 2), *length = PyTuple_GET_ITEM(rec, 3);
    PyObject *pgoff = PyTuple_GET_ITEM(rec, 4), *prot = PyTuple_GET_ITEM(rec, 9);
    PyObject *flags = PyTuple_GET_ITEM(rec, 10), *filename = PyTuple_GET_ITEM(rec, 11);
    PyObject *misc = PyTuple_GET_ITEM(rec, 12);
    if (!PyLong_CheckExact(misc) || !PyLong_CheckExact(prot) || !PyLong_CheckExact(pid) ||
        !PyLong_CheckExact(start) || !PyLong_CheckExact(length) || !PyUnicode_CheckExact(filename))
        return 0;
    long misc_v = PyLong_AsLong(misc);
    if (misc_v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if ((misc_v & 7) == 1) /* PERF_RECORD_MISC_KERNEL */
        return 0;
    PyObject *got = PyDict_GetItemWithError(file_dsos, filename);
    if (got == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyList_CheckExact(got) || PyList_GET_SIZE(got) != 2)
        return 0;
    PyObject *identity = PyList_GET_ITEM(got, 0), *dso = PyList_GET_ITEM(got, 1);
    if (dso == Py_None || !PyBool_Check(identity))
        return 0;
    if (identity == Py_True) {
        long prot_v = PyLong_AsLong(prot);
        if (prot_v == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        if (prot_v & 4) /* PROT_EXEC: the JIT's /tmp/perf-PID.map */
            return 0;
    }
    PyObject *thread = PyDict_GetItemWithError(threads, tid);
    if (thread == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!mm_slots(Py_TYPE(thread), &mm_thread, mm_thread_names, 2))
        return 0;
    PyObject *thread_pid = MM_SLOT(thread, mm_thread.off[0]), *maps = MM_SLOT(thread, mm_thread.off[1]);
    if (thread_pid == NULL || maps == NULL || !PyLong_CheckExact(thread_pid))
        return 0;
    long tp = PyLong_AsLong(thread_pid), pv = PyLong_AsLong(pid);
    if ((tp == -1 || pv == -1) && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (tp == -1 && pv != -1)
        return 0;
    if (!mm_slots(Py_TYPE(maps), &mm_maps, mm_maps_names, 3) ||
        !mm_slots(map_cls, &mm_map, mm_map_names, 7))
        return 0;
    PyObject *starts = MM_SLOT(maps, mm_maps.off[0]), *list = MM_SLOT(maps, mm_maps.off[1]);
    PyObject *generation = MM_SLOT(maps, mm_maps.off[2]);
    if (!starts || !list || !generation || !PyList_CheckExact(starts) || !PyList_CheckExact(list) ||
        PyList_GET_SIZE(starts) != PyList_GET_SIZE(list))
        return 0;
    PyObject *end = PyNumber_Add(start, length);
    if (end == NULL)
        return -1;
    int r = PyObject_RichCompareBool(end, start, Py_LE);
    if (r != 0) {
        Py_DECREF(end);
        return r < 0 ? -1 : 1; /* an empty range: Maps.insert ignores it */
    }
    /* bisect_right(starts, start) */
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(starts);
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        r = PyObject_RichCompareBool(start, PyList_GET_ITEM(starts, mid), Py_LT);
        if (r < 0)
            goto fail;
        if (r)
            hi = mid;
        else
            lo = mid + 1;
    }
    Py_ssize_t i = lo, n = PyList_GET_SIZE(starts);
    if (i > 0) { /* the map before must end at or before start */
        PyObject *prev = PyList_GET_ITEM(list, i - 1);
        if (Py_TYPE(prev) != map_cls || MM_SLOT(prev, mm_map.off[1]) == NULL)
            goto general;
        r = PyObject_RichCompareBool(MM_SLOT(prev, mm_map.off[1]), start, Py_LE);
        if (r < 0)
            goto fail;
        if (!r)
            goto general;
    }
    if (i < n) { /* the map after must start at or after end */
        r = PyObject_RichCompareBool(PyList_GET_ITEM(starts, i), end, Py_GE);
        if (r < 0)
            goto fail;
        if (!r)
            goto general;
    }
    PyObject *one = PyLong_FromLong(1);
    PyObject *next_gen = one ? PyNumber_Add(generation, one) : NULL;
    Py_XDECREF(one);
    if (next_gen == NULL)
        goto fail;
    PyObject *map = map_cls->tp_alloc(map_cls, 0);
    if (map == NULL) {
        Py_DECREF(next_gen);
        goto fail;
    }
    PyObject *fields[7] = {start, end, pgoff, dso, prot, flags, identity};
    for (int k = 0; k < 7; k++) {
        Py_INCREF(fields[k]);
        MM_SLOT(map, mm_map.off[k]) = fields[k];
    }
    Py_DECREF(end);
    if (PyList_Insert(starts, i, start) < 0) {
        Py_DECREF(map);
        Py_DECREF(next_gen);
        return -1;
    }
    r = PyList_Insert(list, i, map);
    Py_DECREF(map);
    if (r < 0) {
        Py_DECREF(next_gen);
        return -1;
    }
    PyObject *old_gen = MM_SLOT(maps, mm_maps.off[2]);
    MM_SLOT(maps, mm_maps.off[2]) = next_gen;
    Py_XDECREF(old_gen);
    return 1;
general: /* it overlaps a map: Maps._insert_overlapping's case */
    Py_DECREF(end);
    return 0;
fail:
    Py_DECREF(end);
    return -1;
}

static PyObject *mmap_handle(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyDict_CheckExact(args[1]) || !PyDict_CheckExact(args[2]) || !PyType_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "mmap_handle(fallback, file_dsos, threads, map_cls, mmap2_cls, rec)");
        return NULL;
    }
    PyObject *rec = args[5];
    if ((PyObject *)Py_TYPE(rec) == args[4] && PyTuple_GET_SIZE(rec) == 15) {
        int r = mmap_fast(args[1], args[2], (PyTypeObject *)args[3], rec);
        if (r < 0)
            return NULL;
        if (r)
            Py_RETURN_NONE;
    }
    return PyObject_CallOneArg(args[0], rec);
}

static PyObject *key_segments(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *items, *out, *run;
    int timed, entries;
    Py_ssize_t i, n, start = 0;

    if (!PyArg_ParseTuple(args, "O!pp:key_segments", &PyList_Type, &items, &timed, &entries))
        return NULL;
    n = PyList_GET_SIZE(items);
    if (entries) {
        for (i = 0; i < n; i++) {
            PyObject *item = PyList_GET_ITEM(items, i);
            int key = timed ? (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) : PyBytes_CheckExact(item);
            if (!key && PyTuple_CheckExact(item))
                Py_RETURN_NONE;
        }
    }
    out = PyList_New(0);
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        int key = timed ? (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) : PyBytes_CheckExact(item);
        if (key)
            continue;
        if (i > start) {
            run = PyList_GetSlice(items, start, i);
            if (run == NULL || PyList_Append(out, run) < 0) {
                Py_XDECREF(run);
                goto fail;
            }
            Py_DECREF(run);
        }
        if (PyList_Append(out, item) < 0)
            goto fail;
        start = i + 1;
    }
    if (start == 0 && n) { /* all keys: the list itself */
        if (PyList_Append(out, items) < 0)
            goto fail;
    } else if (start < n) {
        run = PyList_GetSlice(items, start, n);
        if (run == NULL || PyList_Append(out, run) < 0) {
            Py_XDECREF(run);
            goto fail;
        }
        Py_DECREF(run);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* fork_handle(fallback, threads, thread_cls, maps_cls, fork_cls, rec)
 *
 * session.machine.Machine's FORK handler (Machine.process_fork, bound by functools.partial to the machine's
 * fallback, threads and the Thread, Maps and ForkRecord classes). The common case is done here, the whole of
 * it or nothing: a ForkRecord (exactly) whose parent (ptid) is a known Thread (exactly) of pid ppid, and
 * whose child is a new process (pid == tid, pid != ppid): the tid's old thread, if any, is dropped, and the
 * child is Thread(pid, tid, a copy of the parent's Maps (Maps.copy: the same Map objects, generation 0)),
 * with the parent's comm when the parent's was set, and ppid the parent's tid. Anything else is
 * `fallback(rec)` (Machine._process_fork, the Python twin: tests/test_machine_mmap.py compares the two). */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t off[8];
} ThreadSlots;

static ThreadSlots fk_thread;
static MmSlots fk_maps;
static const char *const fk_thread_names[] = {"pid", "tid", "ppid", "maps", "comm", "comm_set", "exited", "state"};

static int fk_thread_slots(PyTypeObject *type)
{
    if (fk_thread.type == type)
        return 1;
    Py_ssize_t off[8];
    for (int k = 0; k < 8; k++) {
        PyObject *name = PyUnicode_InternFromString(fk_thread_names[k]);
        if (name == NULL) {
            PyErr_Clear();
            return 0;
        }
        PyObject *d = _PyType_Lookup(type, name);
        Py_DECREF(name);
        if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type))
            return 0;
        PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY))
            return 0;
        off[k] = m->offset;
    }
    Py_INCREF(type);
    Py_XDECREF(fk_thread.type);
    fk_thread.type = type;
    memcpy(fk_thread.off, off, sizeof(off));
    return 1;
}

/* 1: done; 0: the fallback's case; -1: error */
static int fork_fast(PyObject *threads, PyTypeObject *thread_cls, PyTypeObject *maps_cls, PyObject *rec)
{
    PyObject *pid = PyTuple_GET_ITEM(rec, 0), *ppid = PyTuple_GET_ITEM(rec, 1);
    PyObject *tid = PyTuple_GET_ITEM(rec, 2), *ptid = PyTuple_GET_ITEM(rec, 3);
    if (!PyLong_CheckExact(pid) || !PyLong_CheckExact(ppid) || !PyLong_CheckExact(tid) || !PyLong_CheckExact(ptid))
        return 0;
    if (!fk_thread_slots(thread_cls) || !mm_slots(maps_cls, &fk_maps, mm_maps_names, 3))
        return 0;
    PyObject *parent = PyDict_GetItemWithError(threads, ptid);
    if (parent == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (Py_TYPE(parent) != thread_cls)
        return 0;
    PyObject *parent_pid = MM_SLOT(parent, fk_thread.off[0]), *parent_tid = MM_SLOT(parent, fk_thread.off[1]);
    PyObject *maps = MM_SLOT(parent, fk_thread.off[3]), *comm_set = MM_SLOT(parent, fk_thread.off[5]);
    PyObject *comm = MM_SLOT(parent, fk_thread.off[4]);
    if (!parent_pid || !parent_tid || !maps || !comm_set || !comm || !PyLong_CheckExact(parent_pid) ||
        Py_TYPE(maps) != maps_cls || !PyBool_Check(comm_set))
        return 0;
    int r = PyObject_RichCompareBool(parent_pid, ppid, Py_EQ);
    if (r <= 0)
        return r;
    r = PyObject_RichCompareBool(pid, tid, Py_EQ); /* a new process */
    if (r <= 0)
        return r;
    r = PyObject_RichCompareBool(pid, parent_pid, Py_EQ);
    if (r != 0)
        return r < 0 ? -1 : 0;
    PyObject *starts = MM_SLOT(maps, fk_maps.off[0]), *list = MM_SLOT(maps, fk_maps.off[1]);
    if (!starts || !list || !PyList_CheckExact(starts) || !PyList_CheckExact(list))
        return 0;
    /* the child's Maps: Maps.copy */
    PyObject *copy = maps_cls->tp_alloc(maps_cls, 0);
    if (copy == NULL)
        return -1;
    PyObject *fields[3] = {PyList_GetSlice(starts, 0, PyList_GET_SIZE(starts)),
                           PyList_GetSlice(list, 0, PyList_GET_SIZE(list)), PyLong_FromLong(0)};
    for (int k = 0; k < 3; k++)
        MM_SLOT(copy, fk_maps.off[k]) = fields[k];
    if (!fields[0] || !fields[1] || !fields[2]) {
        Py_DECREF(copy);
        return -1;
    }
    /* the child: Thread(pid, tid, copy), then the parent's comm if it was set, then ppid */
    PyObject *child = thread_cls->tp_alloc(thread_cls, 0);
    if (child == NULL) {
        Py_DECREF(copy);
        return -1;
    }
    int set = comm_set == Py_True;
    PyObject *child_comm = set ? (Py_INCREF(comm), comm) : PyUnicode_FromFormat(":%S", tid);
    if (child_comm == NULL) {
        Py_DECREF(copy);
        Py_DECREF(child);
        return -1;
    }
    PyObject *values[8] = {pid, tid, parent_tid, copy, child_comm, set ? Py_True : Py_False, Py_False, Py_None};
    for (int k = 0; k < 8; k++) {
        if (k != 3 && k != 4)
            Py_INCREF(values[k]);
        MM_SLOT(child, fk_thread.off[k]) = values[k];
    }
    if (PyDict_DelItem(threads, tid) < 0) { /* threads.pop(tid, None) */
        if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
            Py_DECREF(child);
            return -1;
        }
        PyErr_Clear();
    }
    r = PyDict_SetItem(threads, tid, child);
    Py_DECREF(child);
    return r < 0 ? -1 : 1;
}

static PyObject *fork_handle(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyDict_CheckExact(args[1]) || !PyType_Check(args[2]) || !PyType_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "fork_handle(fallback, threads, thread_cls, maps_cls, fork_cls, rec)");
        return NULL;
    }
    PyObject *rec = args[5];
    if ((PyObject *)Py_TYPE(rec) == args[4] && PyTuple_GET_SIZE(rec) >= 4) {
        int r = fork_fast(args[1], (PyTypeObject *)args[2], (PyTypeObject *)args[3], rec);
        if (r < 0)
            return NULL;
        if (r)
            Py_RETURN_NONE;
    }
    return PyObject_CallOneArg(args[0], rec);
}

/* mmap_follow(dependents, machine, threads, by_maps, drop, fallback, mmap2_cls, rec)
 *
 * session.kept.Dependents' follower of an MMAP2 (Dependents._after_mmap, bound by functools.partial): for an
 * Mmap2Record (exactly) of user space, when the machine's pid_updates equals the dependents' (no thread's pid
 * learnt since their last look) and the record's tid finds a thread: the keys kept for that thread's Maps
 * are popped from `by_maps` and, if any, given to `drop`. Anything else is `fallback(rec)` (_after_mmap, the
 * Python twin: tests/test_kept_mmap.py compares the two). */
static PyObject *str_pid_updates;

static PyObject *mmap_follow(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8 || !PyDict_CheckExact(args[2]) || !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "mmap_follow(dependents, machine, threads, by_maps, drop, fallback, "
                                         "mmap2_cls, rec)");
        return NULL;
    }
    PyObject *deps = args[0], *machine = args[1], *threads = args[2], *by_maps = args[3], *drop = args[4];
    PyObject *fallback = args[5], *rec = args[7];
    if ((PyObject *)Py_TYPE(rec) != args[6] || PyTuple_GET_SIZE(rec) != 15)
        return PyObject_CallOneArg(fallback, rec);
    if (str_pid_updates == NULL && (str_pid_updates = PyUnicode_InternFromString("pid_updates")) == NULL)
        return NULL;
    PyObject *seen = PyObject_GetAttr(machine, str_pid_updates);
    if (seen == NULL)
        return NULL;
    PyObject *known = PyObject_GetAttr(deps, str_pid_updates);
    if (known == NULL) {
        Py_DECREF(seen);
        return NULL;
    }
    int same = PyObject_RichCompareBool(seen, known, Py_EQ);
    Py_DECREF(seen);
    Py_DECREF(known);
    if (same < 0)
        return NULL;
    PyObject *misc = PyTuple_GET_ITEM(rec, 12);
    if (!same || !PyLong_CheckExact(misc))
        return PyObject_CallOneArg(fallback, rec);
    long misc_v = PyLong_AsLong(misc);
    if (misc_v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return PyObject_CallOneArg(fallback, rec);
    }
    if ((misc_v & 7) == 1) /* PERF_RECORD_MISC_KERNEL: everything goes (the fallback's forget) */
        return PyObject_CallOneArg(fallback, rec);
    PyObject *thread = PyDict_GetItemWithError(threads, PyTuple_GET_ITEM(rec, 1));
    if (thread == NULL) {
        if (PyErr_Occurred())
            return NULL;
        return PyObject_CallOneArg(fallback, rec);
    }
    if (!mm_slots(Py_TYPE(thread), &mm_thread, mm_thread_names, 2))
        return PyObject_CallOneArg(fallback, rec);
    PyObject *maps = MM_SLOT(thread, mm_thread.off[1]);
    if (maps == NULL)
        return PyObject_CallOneArg(fallback, rec);
    PyObject *keys = PyDict_GetItemWithError(by_maps, maps);
    if (keys == NULL) {
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    Py_INCREF(keys);
    if (PyDict_DelItem(by_maps, maps) < 0) {
        Py_DECREF(keys);
        return NULL;
    }
    int truth = PyObject_IsTrue(keys);
    PyObject *got = NULL;
    if (truth > 0)
        got = PyObject_CallOneArg(drop, keys);
    Py_DECREF(keys);
    if (truth < 0)
        return NULL;
    if (truth > 0) {
        if (got == NULL)
            return NULL;
        Py_DECREF(got);
    }
    Py_RETURN_NONE;
}

PyMethodDef speedups_records_methods[] = {
    {"fork_handle", (PyCFunction)(void (*)(void))fork_handle, METH_FASTCALL,
     "fork_handle(fallback, threads, thread_cls, maps_cls, fork_cls, rec): Machine.process_fork (see "
     "_speedups_records.c)"},
    {"mmap_follow", (PyCFunction)(void (*)(void))mmap_follow, METH_FASTCALL,
     "mmap_follow(dependents, machine, threads, by_maps, drop, fallback, mmap2_cls, rec): Dependents._after_mmap "
     "(see _speedups_records.c)"},
    {"key_segments", (PyCFunction)key_segments, METH_VARARGS,
     "key_segments(items, timed, entries) -> the runs of keys and the other items, or None (see the source)"},
    {"mmap_handle", (PyCFunction)(void (*)(void))mmap_handle, METH_FASTCALL,
     "mmap_handle(fallback, file_dsos, threads, map_cls, mmap2_cls, rec): Machine.process_mmap (see _speedups_records.c)"},
    {"entry_scan", (PyCFunction)entry_scan, METH_VARARGS,
     "entry_scan(buf, view, i, nw, pos, time_word, view_min, side, times, items) -> i (see _speedups_records.c)"},
    {"side_record", (PyCFunction)py_side_record, METH_VARARGS,
     "side_record(spec, record) -> (time, rec) or None (see _speedups_records.c)"},
    {"nonkey_positions", (PyCFunction)nonkey_positions, METH_VARARGS,
     "nonkey_positions(items, timed) -> the indices of the items that are not sample keys"},
    {NULL, NULL, 0, NULL},
};
