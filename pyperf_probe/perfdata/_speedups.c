/* pyperf_probe.perfdata._speedups: the per-record loops of the report's reading path, in C.
 *
 * Optional: setup.py builds it when a C compiler and Python's headers are there; perfdata.sample_keys and
 * perfdata.ordered fall back to their Python code when it is not, or when PYPERF_PURE_PYTHON is set. Each
 * function here gives exactly what that Python code gives (tests/test_speedups.py compares them on random
 * input; the golden report tests run both).
 *
 * KeyScanner(time_word, head_end, mid_start, mid_end, tail_start, fixed_end, timed=False, walk=())
 *     sample_keys.KeyLayout's scan: scan(buf, words, i, nw, times, keys) -> i. From u64 word i of buf (a
 *     bytes-like object of at least nw u64 words; `words`, the Python loop's u64 view, is not used), for
 *     each PERF_RECORD_SAMPLE (perf_event_header: u32 type, u16 misc, u16 size, read as one little-endian
 *     u64) that is whole in the first nw words, at least fixed_end bytes long and a multiple of 8 bytes:
 *     append its TIME (u64 word i + time_word) to `times` and its key, record[4:head_end] +
 *     record[mid_start:mid_end] + record[tail_start:size], to `keys`; stop at the first record that is
 *     anything else and return its word index (nw at the end of the chunk). With `timed`, what goes to
 *     `keys` is the pair (key, time), the time the same int object as in `times` (script's walk).
 *
 *     With `walk` (a tuple of (kind, param) steps: sample_keys.KeyLayout's, for the variable fields after
 *     fixed_end, in record order), the key ends with the fixed fields and RAW: record[4:head_end] +
 *     record[mid_start:mid_end] + record[tail_start:fixed_end] + RAW's u32 size and data. The other fields
 *     are walked past with the checks of perfdata.sample's decoder: a record one of them overruns is
 *     not taken (the scan stops there and the reader's careful path decodes it). Kinds: 1 CALLCHAIN, 2 RAW,
 *     3 BRANCH_STACK (param: hw_idx present), 4 REGS_USER/REGS_INTR (param: registers in the mask), 5
 *     STACK_USER, 6 param fixed u64 words.
 *
 *     A key seen before comes back as the same bytes object, found in the scanner's own hash table
 *     without building a new one; the table keeps at most INTERN_KEYS keys and INTERN_BYTES bytes of
 *     keys, then starts again, so memory stays flat in the number of samples. collections.Counter then
 *     hashes each distinct key once (bytes cache their hash) and compares equal keys by identity.
 *
 * run_extremes(times) -> (low, high, in_order) | None
 *     For ordered.OrderedQueue.push: the smallest and largest of a list of ints and whether it is
 *     non-decreasing (what sorted(times) told it, without the copy); None when an item is not an int
 *     below 2**64 (the caller's general path handles those).
 *
 * time_order(times, items) -> (times, items)
 *     For ordered.OrderedQueue._flush: both lists reordered by a stable sort of `times` (equal times keep
 *     their order), as sorted(range(n), key=times.__getitem__) and two gathers do. The queued times are a
 *     few non-decreasing runs (one per CPU buffer and round), so this is a natural merge sort: O(n) per
 *     merge level, log2(runs) levels. Raises TypeError (not an int) or OverflowError (an int outside
 *     [0, 2**64)) for a time that is not a u64. *
 * unwind_run(stack, stack_avma, pc, rsp, rbp, plans, left, frames) -> (pc, rsp, rbp, left)
 *     For callchain.unwind.unwind_with_reason: its loop's frames of the common rows, while it can: with
 *     plans[pc] known and of a code > 0 ((1, cfa off, rip off, 0): cfa = rsp + off, rip at cfa + off; 2:
 *     and rbp at cfa + off; 3: cfa = rbp + off, rip and rbp at cfa + off), every read inside `stack`
 *     (the words at stack_avma ...), rbp known where the row needs it, the cfa above rsp and the return
 *     address not 0: append ra - 1 to `frames`, rsp = cfa, rbp as restored, left - 1. It returns at the
 *     first frame it does not take (or left == 0), its state unchanged for that frame, which the Python
 *     loop then takes as it does any frame (plans to make, other rows, reads outside the copy, stops).
 *     rbp is None when unknown; registers and addresses are u64.
 *
 * unwind_sample(values, ip_i, sp_i, bp_i, stack, plans, max_frames) -> (frames, stop) | None
 *     For callchain.dwarf_unwind.DwarfUnwinder: a whole sample's unwind_with_reason (read_word None: nothing
 *     but `stack` is readable) when every frame's plan is known and one of the codes above or 4 (cfa =
 *     rsp + off, rip undefined: stop 1, root) or 5 (no CFI: stop 7). `values` are the REGS_USER values,
 *     ip, rsp and rbp at values[ip_i], [sp_i], [bp_i] (bp_i -1: rbp not sampled); the stack copy starts
 *     at the sampled rsp. frames: the tuple of the sampled ip and each ra - 1, at most max_frames; stop:
 *     1 root, 2 memory (a return address outside the copy), 3 loop, 4 zero, 5 max-frames, 6 unsupported
 *     (rbp unknown where the row needs it), 7 no-cfi. None, with nothing done, at the first frame whose
 *     plan is missing or of another code (and for registers it cannot read): the Python loop then
 *     unwinds the sample from its start (and makes the plans it lacked).
 *
 * kallsyms_columns(data) -> (starts, types, name_starts, name_ends, in_order) | None
 *     For symbols.kallsyms.parse: the columns of a kallsyms file whose every line is 1 to 16 hex digits,
 *     a space, the type character, a space and a name of at most KSYM_NAME_LEN (512) bytes up to the
 *     newline (the last line may lack it): `starts` the addresses as u64 (native order), `types` one byte
 *     a line, `name_starts`/`name_ends` the names' byte offsets in `data` as u32, `in_order` whether the
 *     addresses never decrease. None for anything else (an empty line, a longer name or address, no
 *     space where one goes, a file of 4 GiB or more): the Python parser then reads it with
 *     kallsyms__parse's quirks.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define SAMPLE_WORD_MASK 0x00070000FFFFFFFFULL /* type == PERF_RECORD_SAMPLE (9), size % 8 == 0 */
#define INTERN_KEYS 65536
#define INTERN_BYTES (16 << 20)

static inline uint64_t load_u64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8); /* perf.data is little-endian: KeyLayout.of keys little-endian hosts only */
    return v;
}

/* --- KeyScanner --------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    PyObject *key; /* NULL: empty slot */
} Slot;

#define MAX_STEPS 16
enum { STEP_CALLCHAIN = 1, STEP_RAW, STEP_BRANCH, STEP_REGS, STEP_STACK, STEP_WORDS };

typedef struct {
    int kind;
    Py_ssize_t param;
} Step;

typedef struct {
    Py_ssize_t off, len;
} Piece;

typedef struct {
    PyObject_HEAD
    Py_ssize_t time_word, head_end, mid_start, mid_end, tail_start, fixed_words;
    int timed; /* append (key, time) pairs to `keys` (script's walk), not bare keys */
    int nsteps; /* > 0: keys of the fixed fields and RAW (walk) */
    Step steps[MAX_STEPS];
    Slot *slots;
    size_t mask; /* capacity - 1 (a power of two) */
    size_t used;
    size_t bytes;
} KeyScanner;

static void table_clear(KeyScanner *self)
{
    size_t i;
    for (i = 0; i <= self->mask; i++) {
        Py_CLEAR(self->slots[i].key);
    }
    self->used = 0;
    self->bytes = 0;
}

static int table_grow(KeyScanner *self)
{
    size_t old_cap = self->mask + 1, cap = old_cap * 2, i;
    Slot *slots = PyMem_Calloc(cap, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < old_cap; i++) {
        Slot *s = &self->slots[i];
        if (s->key != NULL) {
            size_t j = (size_t)s->hash & (cap - 1);
            while (slots[j].key != NULL)
                j = (j + 1) & (cap - 1);
            slots[j] = *s;
        }
    }
    PyMem_Free(self->slots);
    self->slots = slots;
    self->mask = cap - 1;
    return 0;
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

static inline uint64_t hash_bytes(uint64_t h, const unsigned char *p, Py_ssize_t len)
{
    Py_ssize_t w;
    for (w = 0; w + 8 <= len; w += 8)
        h = mix(h, load_u64(p + w));
    if (w < len) {
        uint64_t last = 0;
        memcpy(&last, p + w, (size_t)(len - w));
        h = mix(h, last ^ ((uint64_t)(len - w) << 56));
    }
    return h;
}

/* The key made of the pieces of the record at `rec`: the same object as before, or a new one. */
static PyObject *intern_key(KeyScanner *self, const unsigned char *rec, const Piece *pieces, int npieces)
{
    Py_ssize_t len = 0;
    uint64_t h = 0;
    size_t j;
    int k;
    PyObject *key;
    char *out;

    for (k = 0; k < npieces; k++) {
        h = hash_bytes(h, rec + pieces[k].off, pieces[k].len);
        len += pieces[k].len;
    }
    for (j = (size_t)h & self->mask; self->slots[j].key != NULL; j = (j + 1) & self->mask) {
        if (self->slots[j].hash == h && PyBytes_GET_SIZE(self->slots[j].key) == len) {
            const char *known = PyBytes_AS_STRING(self->slots[j].key);
            Py_ssize_t at = 0;
            for (k = 0; k < npieces; k++) {
                if (memcmp(known + at, rec + pieces[k].off, (size_t)pieces[k].len) != 0)
                    break;
                at += pieces[k].len;
            }
            if (k == npieces) {
                Py_INCREF(self->slots[j].key);
                return self->slots[j].key;
            }
        }
    }
    key = PyBytes_FromStringAndSize(NULL, len);
    if (key == NULL)
        return NULL;
    out = PyBytes_AS_STRING(key);
    for (k = 0; k < npieces; k++) {
        memcpy(out, rec + pieces[k].off, (size_t)pieces[k].len);
        out += pieces[k].len;
    }
    if (self->used >= INTERN_KEYS || self->bytes + (size_t)len > INTERN_BYTES) {
        table_clear(self); /* start again: the slot j found above is still empty */
        j = (size_t)h & self->mask;
    }
    else if (2 * (self->used + 1) > self->mask + 1) {
        if (table_grow(self) < 0) {
            Py_DECREF(key);
            return NULL;
        }
        for (j = (size_t)h & self->mask; self->slots[j].key != NULL; j = (j + 1) & self->mask)
            ;
    }
    Py_INCREF(key);
    self->slots[j].hash = h;
    self->slots[j].key = key;
    self->used++;
    self->bytes += (size_t)len;
    return key;
}

/* The variable fields of a record of `size` bytes walked as perfdata.sample's decoder reads them: 0 and
 * where RAW's u32 size and data are (len 0 without RAW), or -1 when a field overruns the record. */
static int walk_record(const KeyScanner *self, const unsigned char *rec, int64_t size, Piece *raw)
{
    int64_t pos = 8 * (int64_t)self->fixed_words, end = size;
    int k;

    raw->off = raw->len = 0;
    for (k = 0; k < self->nsteps; k++) {
        const Step *step = &self->steps[k];
        uint64_t n;
        int64_t rem;
        switch (step->kind) {
        case STEP_CALLCHAIN: /* u64 nr; u64 ips[nr] */
            if (pos + 8 > end)
                return -1;
            n = load_u64(rec + pos);
            pos += 8;
            if (n > (uint64_t)((end - pos) >> 3))
                return -1;
            pos += 8 * (int64_t)n;
            break;
        case STEP_RAW: { /* u32 size; char data[size], the two u64-aligned */
            uint32_t sz;
            if (pos + 4 > end)
                return -1;
            memcpy(&sz, rec + pos, 4);
            if ((int64_t)sz > end - pos - 4)
                return -1;
            if (!step->param) { /* param 1: walked past, left out of the key */
                raw->off = (Py_ssize_t)pos;
                raw->len = 4 + (Py_ssize_t)sz;
            }
            pos += ((int64_t)sz + 11) & ~(int64_t)7;
            break;
        }
        case STEP_BRANCH: /* u64 nr; [u64 hw_idx;] {from, to, flags}[nr] */
            if (pos + 8 > end)
                return -1;
            n = load_u64(rec + pos);
            pos += step->param ? 16 : 8;
            rem = end - pos;
            if (rem < 0 || n > (uint64_t)(rem >> 3) / 3)
                return -1;
            pos += 24 * (int64_t)n;
            break;
        case STEP_REGS: /* u64 abi; u64 regs[weight(mask)] when abi != 0 */
            if (pos + 8 > end)
                return -1;
            if (load_u64(rec + pos) == 0) {
                pos += 8;
                break;
            }
            rem = end - pos - 8;
            if (rem < 0 || (uint64_t)step->param > (uint64_t)(rem >> 3))
                return -1;
            pos += 8 + 8 * (int64_t)step->param;
            break;
        case STEP_STACK: /* u64 size; char data[size]; u64 dyn_size (when size != 0), dyn_size <= size */
            if (pos + 8 > end)
                return -1;
            n = load_u64(rec + pos);
            if (n == 0) {
                pos += 8;
                break;
            }
            rem = end - pos - 16;
            if (rem < 0 || n > (uint64_t)rem)
                return -1;
            if (load_u64(rec + pos + 8 + (int64_t)n) > n)
                return -1;
            pos += 16 + (int64_t)n;
            break;
        default: /* STEP_WORDS */
            if (pos + 8 * step->param > end)
                return -1;
            pos += 8 * step->param;
        }
    }
    return 0;
}

static int append_new(PyObject *list, PyObject *item)
{
    int rc;
    if (item == NULL)
        return -1;
    rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static PyObject *scanner_call(KeyScanner *self, PyObject *args, PyObject *kwargs)
{
    Py_buffer view;
    PyObject *words, *times, *keys, *result = NULL;
    Py_ssize_t i, nw;

    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "scan() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*OnnO!O!:scan", &view, &words, &i, &nw, &PyList_Type, &times, &PyList_Type,
                          &keys))
        return NULL;
    if (i < 0 || nw < 0 || nw > view.len / 8) {
        PyErr_SetString(PyExc_ValueError, "scan: word range outside the buffer");
        goto done;
    }
    while (i < nw) {
        const unsigned char *rec = (const unsigned char *)view.buf + 8 * i;
        const uint64_t header = load_u64(rec);
        const Py_ssize_t size_words = (Py_ssize_t)(header >> 51);

        Piece pieces[4] = {{4, self->head_end - 4}, {self->mid_start, self->mid_end - self->mid_start},
                           {self->tail_start, 8 * size_words - self->tail_start}, {0, 0}};
        int npieces = 3;

        if ((header & SAMPLE_WORD_MASK) != 9 || size_words < self->fixed_words || size_words > nw - i)
            break;
        if (self->nsteps) {
            if (walk_record(self, rec, 8 * (int64_t)size_words, &pieces[3]) < 0)
                break;
            pieces[2].len = 8 * self->fixed_words - self->tail_start;
            npieces = 4;
        }
        PyObject *key = intern_key(self, rec, pieces, npieces), *time;
        if (key == NULL)
            goto done;
        time = PyLong_FromUnsignedLongLong(load_u64(rec + 8 * self->time_word));
        if (time == NULL) {
            Py_DECREF(key);
            goto done;
        }
        if (self->timed) {
            PyObject *pair = PyTuple_New(2);
            if (pair == NULL) {
                Py_DECREF(key);
                Py_DECREF(time);
                goto done;
            }
            Py_INCREF(time);
            PyTuple_SET_ITEM(pair, 0, key);
            PyTuple_SET_ITEM(pair, 1, time);
            key = pair;
        }
        if (append_new(keys, key) < 0) {
            Py_DECREF(time);
            goto done;
        }
        if (append_new(times, time) < 0)
            goto done;
        i += size_words;
    }
    result = PyLong_FromSsize_t(i);
done:
    PyBuffer_Release(&view);
    return result;
}

static PyObject *scanner_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"time_word", "head_end", "mid_start", "mid_end", "tail_start", "fixed_end", "timed",
                            "walk", NULL};
    Py_ssize_t time_word, head_end, mid_start, mid_end, tail_start, fixed_end, nsteps = 0, k;
    int timed = 0;
    PyObject *walk = NULL;
    Step steps[MAX_STEPS];
    KeyScanner *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nnnnnn|pO!:KeyScanner", names, &time_word, &head_end, &mid_start,
                                     &mid_end, &tail_start, &fixed_end, &timed, &PyTuple_Type, &walk))
        return NULL;
    if (walk != NULL) {
        nsteps = PyTuple_GET_SIZE(walk);
        if (nsteps > MAX_STEPS) {
            PyErr_SetString(PyExc_ValueError, "KeyScanner: too many walk steps");
            return NULL;
        }
        for (k = 0; k < nsteps; k++) {
            int kind;
            Py_ssize_t param;
            if (!PyArg_ParseTuple(PyTuple_GET_ITEM(walk, k), "in:walk step", &kind, &param))
                return NULL;
            if (kind < STEP_CALLCHAIN || kind > STEP_WORDS || param < 0 || param > 4096) {
                PyErr_SetString(PyExc_ValueError, "KeyScanner: bad walk step");
                return NULL;
            }
            steps[k].kind = kind;
            steps[k].param = param;
        }
    }
    /* The fixed fields hold every slice, all u64-aligned but the header's second half. */
    if (time_word < 1 || head_end < 8 || head_end % 8 || mid_start % 8 || mid_end % 8 || tail_start % 8 ||
        fixed_end % 8 || mid_start > mid_end || tail_start < mid_end || head_end > mid_start ||
        8 * (time_word + 1) > fixed_end || tail_start > fixed_end) {
        PyErr_SetString(PyExc_ValueError, "KeyScanner: inconsistent key layout");
        return NULL;
    }
    self = (KeyScanner *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->slots = PyMem_Calloc(1024, sizeof(Slot));
    if (self->slots == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    self->mask = 1023;
    self->time_word = time_word;
    self->head_end = head_end;
    self->mid_start = mid_start;
    self->mid_end = mid_end;
    self->tail_start = tail_start;
    self->fixed_words = fixed_end / 8;
    self->timed = timed;
    self->nsteps = (int)nsteps;
    memcpy(self->steps, steps, sizeof(Step) * (size_t)nsteps);
    return (PyObject *)self;
}

static void scanner_dealloc(KeyScanner *self)
{
    if (self->slots != NULL) {
        table_clear(self);
        PyMem_Free(self->slots);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject KeyScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyperf_probe.perfdata._speedups.KeyScanner",
    .tp_basicsize = sizeof(KeyScanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "KeyScanner(time_word, head_end, mid_start, mid_end, tail_start, fixed_end, timed=False, walk=()): "
              "scan(buf, words, i, nw, times, keys) -> i (see the module's source).",
    .tp_new = scanner_new,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_call = (ternaryfunc)scanner_call,
};

/* --- the ordered queue's helpers --------------------------------------------------------------------- */

/* An int in [0, 2**64) as a u64: 0 on success, -1 (no exception set) otherwise. PyLong_AsLongLongAndOverflow
 * reads the digits directly; PyLong_AsUnsignedLongLong (3.11) goes through a byte array, 3x slower, so it
 * is left for the times at or above 2**63, which perf's clocks do not reach. */
static inline int as_u64(PyObject *item, uint64_t *out)
{
    int overflow;
    long long v;
    if (!PyLong_Check(item))
        return -1;
    v = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (!overflow && v >= 0) {
        *out = (uint64_t)v;
        return 0;
    }
    if (overflow <= 0) /* negative */
        return -1;
    *out = PyLong_AsUnsignedLongLong(item);
    if (*out == (uint64_t)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

static PyObject *run_extremes(PyObject *Py_UNUSED(module), PyObject *times)
{
    Py_ssize_t n, i;
    uint64_t low = UINT64_MAX, high = 0, prev = 0;
    int in_order = 1;

    if (!PyList_Check(times)) {
        PyErr_SetString(PyExc_TypeError, "run_extremes() needs a list");
        return NULL;
    }
    n = PyList_GET_SIZE(times);
    if (n == 0)
        Py_RETURN_NONE;
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(times, i);
        uint64_t t;
        if (!PyLong_CheckExact(item) || as_u64(item, &t) < 0)
            Py_RETURN_NONE; /* None, or not a u64 */
        if (t < prev)
            in_order = 0;
        prev = t;
        if (t < low)
            low = t;
        if (t > high)
            high = t;
    }
    return Py_BuildValue("(KKO)", (unsigned long long)low, (unsigned long long)high, in_order ? Py_True : Py_False);
}

typedef struct {
    uint64_t time;
    Py_ssize_t index;
} Timed;

/* Merge the sorted runs src[lo:mid] and src[mid:hi] into dst[lo:hi], left first on ties (stable). */
static void merge(const Timed *src, Timed *dst, Py_ssize_t lo, Py_ssize_t mid, Py_ssize_t hi)
{
    Py_ssize_t a = lo, b = mid, k = lo;
    while (a < mid && b < hi)
        dst[k++] = src[b].time < src[a].time ? src[b++] : src[a++];
    while (a < mid)
        dst[k++] = src[a++];
    while (b < hi)
        dst[k++] = src[b++];
}

/* Stable natural merge sort of v[0:n] (tmp: n more slots); returns the array holding the result. */
static Timed *natural_sort(Timed *v, Timed *tmp, Py_ssize_t n, Py_ssize_t *starts)
{
    Py_ssize_t runs = 0, i;
    starts[runs++] = 0;
    for (i = 1; i < n; i++) {
        if (v[i].time < v[i - 1].time)
            starts[runs++] = i;
    }
    starts[runs] = n;
    while (runs > 1) {
        Py_ssize_t r, merged = 0;
        for (r = 0; r + 1 < runs; r += 2) {
            merge(v, tmp, starts[r], starts[r + 1], starts[r + 2]);
            starts[merged++] = starts[r];
        }
        if (r < runs) { /* an odd run out: copied as it is */
            memcpy(tmp + starts[r], v + starts[r], (size_t)(starts[r + 1] - starts[r]) * sizeof(Timed));
            starts[merged++] = starts[r];
        }
        starts[merged] = n;
        runs = merged;
        {
            Timed *swap = v;
            v = tmp;
            tmp = swap;
        }
    }
    return v;
}

static PyObject *gather(PyObject *list, const Timed *order, Py_ssize_t n)
{
    PyObject *out = PyList_New(n);
    Py_ssize_t i;
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(list, order[i].index);
        Py_INCREF(item);
        PyList_SET_ITEM(out, i, item);
    }
    return out;
}

static PyObject *time_order(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *times, *items, *sorted_times = NULL, *sorted_items = NULL, *result = NULL;
    Timed *v = NULL, *tmp = NULL, *order;
    Py_ssize_t *starts = NULL, n, i;

    if (!PyArg_ParseTuple(args, "O!O!:time_order", &PyList_Type, &times, &PyList_Type, &items))
        return NULL;
    n = PyList_GET_SIZE(times);
    if (PyList_GET_SIZE(items) != n) {
        PyErr_SetString(PyExc_ValueError, "time_order: lists of different lengths");
        return NULL;
    }
    v = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Timed));
    tmp = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Timed));
    starts = PyMem_Malloc((size_t)(n + 1) * sizeof(Py_ssize_t));
    if (v == NULL || tmp == NULL || starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(times, i);
        if (as_u64(item, &v[i].time) < 0) {
            PyErr_SetString(PyLong_Check(item) ? PyExc_OverflowError : PyExc_TypeError,
                            "time_order: a time that is not a u64 int");
            goto done;
        }
        v[i].index = i;
    }
    order = n ? natural_sort(v, tmp, n, starts) : v;
    sorted_times = gather(times, order, n);
    sorted_items = sorted_times ? gather(items, order, n) : NULL;
    if (sorted_items != NULL)
        result = PyTuple_Pack(2, sorted_times, sorted_items);
done:
    Py_XDECREF(sorted_times);
    Py_XDECREF(sorted_items);
    PyMem_Free(v);
    PyMem_Free(tmp);
    PyMem_Free(starts);
    return result;
}


/* --- unwind_run -------------------------------------------------------------------------------------- */

#define PLAN_RSP 1
#define PLAN_RSP_BP 2
#define PLAN_RBP 3

static int as_i64(PyObject *item, int64_t *out)
{
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(item, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        PyErr_SetString(PyExc_OverflowError, "unwind_run: a plan offset outside int64");
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static PyObject *unwind_run(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    PyObject *pc_obj, *rsp_obj, *rbp_obj, *plans, *frames, *result = NULL;
    unsigned long long stack_avma;
    Py_ssize_t left;
    uint64_t pc, rsp, rbp = 0;
    int rbp_known;

    if (!PyArg_ParseTuple(args, "y*KO!O!OO!nO!:unwind_run", &view, &stack_avma, &PyLong_Type, &pc_obj, &PyLong_Type,
                          &rsp_obj, &rbp_obj, &PyDict_Type, &plans, &left, &PyList_Type, &frames))
        return NULL;
    pc = PyLong_AsUnsignedLongLong(pc_obj);
    rsp = PyLong_AsUnsignedLongLong(rsp_obj);
    rbp_known = rbp_obj != Py_None;
    if (rbp_known)
        rbp = PyLong_AsUnsignedLongLong(rbp_obj);
    if (PyErr_Occurred())
        goto done;
    {
        const unsigned char *stack = view.buf;
        const int64_t limit = (int64_t)view.len - 8;
        Py_INCREF(pc_obj);
        while (left > 0) {
            PyObject *plan = PyDict_GetItemWithError(plans, pc_obj), *next;
            int64_t code, coff, roff, boff;
            uint64_t cfa, addr, ra, new_rbp = rbp;
            if (plan == NULL) {
                if (PyErr_Occurred()) {
                    Py_DECREF(pc_obj);
                    goto done;
                }
                break;
            }
            if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 4 || !PyLong_Check(PyTuple_GET_ITEM(plan, 0)))
                break;
            if (as_i64(PyTuple_GET_ITEM(plan, 0), &code) < 0) {
                Py_DECREF(pc_obj);
                goto done;
            }
            if (code < PLAN_RSP || code > PLAN_RBP)
                break;
            if (as_i64(PyTuple_GET_ITEM(plan, 1), &coff) < 0 || as_i64(PyTuple_GET_ITEM(plan, 2), &roff) < 0 ||
                as_i64(PyTuple_GET_ITEM(plan, 3), &boff) < 0) {
                Py_DECREF(pc_obj);
                goto done;
            }
            if (code == PLAN_RBP) {
                if (!rbp_known)
                    break;
                cfa = rbp + (uint64_t)coff;
            }
            else
                cfa = rsp + (uint64_t)coff;
            addr = cfa + (uint64_t)roff;
            if (addr < stack_avma || (int64_t)(addr - stack_avma) < 0 || (int64_t)(addr - stack_avma) > limit)
                break;
            ra = load_u64(stack + (addr - stack_avma));
            if (code != PLAN_RSP) {
                addr = cfa + (uint64_t)boff;
                if (addr < stack_avma || (int64_t)(addr - stack_avma) < 0 || (int64_t)(addr - stack_avma) > limit)
                    break;
                new_rbp = load_u64(stack + (addr - stack_avma));
            }
            if (cfa <= rsp || ra == 0)
                break;
            next = PyLong_FromUnsignedLongLong(ra - 1);
            if (next == NULL || PyList_Append(frames, next) < 0) {
                Py_XDECREF(next);
                Py_DECREF(pc_obj);
                goto done;
            }
            Py_DECREF(pc_obj);
            pc_obj = next; /* the list holds a reference; this one is the loop's */
            pc = ra - 1;
            rsp = cfa;
            if (code != PLAN_RSP) {
                rbp = new_rbp;
                rbp_known = 1;
            }
            left--;
        }
        (void)pc;
        result = Py_BuildValue("(NKNn)", pc_obj, (unsigned long long)rsp,
                               rbp_known ? PyLong_FromUnsignedLongLong(rbp) : Py_NewRef(Py_None), left);
    }
done:
    PyBuffer_Release(&view);
    return result;
}

/* --- unwind_sample ----------------------------------------------------------------------------------- */

#define PLAN_ROOT 4   /* cfa = rsp + off, rip undefined: the outermost frame (STOP_ROOT) */
#define PLAN_NO_CFI 5 /* no FDE covers the pc (STOP_NO_CFI) */
#define UNWIND_STACK_FRAMES 256

/* The stop reasons unwind_sample returns (callchain.dwarf_unwind._C_STOPS names them). */
enum { US_ROOT = 1, US_MEMORY, US_LOOP, US_ZERO, US_MAX, US_UNSUPPORTED, US_NO_CFI };

/* Whether the u64 at avma `addr` lies in the copy of `limit` + 8 bytes at `stack_avma` (u64 arithmetic). */
static inline int in_copy(uint64_t addr, uint64_t stack_avma, int64_t limit)
{
    return limit >= 0 && addr >= stack_avma && addr - stack_avma <= (uint64_t)limit;
}

static int reg_at(PyObject *values, Py_ssize_t i, uint64_t *out)
{
    PyObject *item = PyTuple_GET_ITEM(values, i);
    if (!PyLong_Check(item))
        return -1;
    *out = PyLong_AsUnsignedLongLong(item);
    if (*out == (uint64_t)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

static PyObject *unwind_sample(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    PyObject *values, *plans, *result = NULL;
    PyObject *local[UNWIND_STACK_FRAMES], **pcs = local;
    Py_ssize_t ip_i, sp_i, bp_i, max_frames, n = 0, i;
    uint64_t pc, rsp, rbp = 0, stack_avma;
    int rbp_known = 0, stop = 0;

    if (!PyArg_ParseTuple(args, "O!nnny*O!n:unwind_sample", &PyTuple_Type, &values, &ip_i, &sp_i, &bp_i, &view,
                          &PyDict_Type, &plans, &max_frames))
        return NULL;
    if (ip_i < 0 || sp_i < 0 || ip_i >= PyTuple_GET_SIZE(values) || sp_i >= PyTuple_GET_SIZE(values) ||
        bp_i >= PyTuple_GET_SIZE(values) || max_frames < 1 || reg_at(values, ip_i, &pc) < 0 ||
        reg_at(values, sp_i, &rsp) < 0) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE; /* the Python path decides (missing registers, odd values) */
    }
    if (bp_i >= 0) {
        if (reg_at(values, bp_i, &rbp) < 0) {
            PyBuffer_Release(&view);
            Py_RETURN_NONE;
        }
        rbp_known = 1;
    }
    if (max_frames > UNWIND_STACK_FRAMES) {
        pcs = PyMem_Malloc(sizeof(PyObject *) * (size_t)max_frames);
        if (pcs == NULL) {
            PyBuffer_Release(&view);
            return PyErr_NoMemory();
        }
    }
    stack_avma = rsp;
    pcs[n] = PyLong_FromUnsignedLongLong(pc);
    if (pcs[n] == NULL)
        goto done;
    n++;
    {
        const unsigned char *stack = view.buf;
        const int64_t limit = (int64_t)view.len - 8;
        Py_ssize_t left = max_frames - 1;
        while (left > 0) {
            PyObject *plan = PyDict_GetItemWithError(plans, pcs[n - 1]);
            int64_t code, coff, roff, boff;
            uint64_t cfa, addr, ra;
            left--;
            if (plan == NULL) {
                if (PyErr_Occurred())
                    goto done;
                goto python; /* a pc without its plan yet: the Python loop makes it */
            }
            if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 4 || !PyLong_Check(PyTuple_GET_ITEM(plan, 0)))
                goto python;
            if (as_i64(PyTuple_GET_ITEM(plan, 0), &code) < 0)
                goto done;
            if (code == PLAN_ROOT) {
                stop = US_ROOT;
                break;
            }
            if (code == PLAN_NO_CFI) {
                stop = US_NO_CFI;
                break;
            }
            if (code < PLAN_RSP || code > PLAN_RBP)
                goto python; /* any other row */
            if (as_i64(PyTuple_GET_ITEM(plan, 1), &coff) < 0 || as_i64(PyTuple_GET_ITEM(plan, 2), &roff) < 0 ||
                as_i64(PyTuple_GET_ITEM(plan, 3), &boff) < 0)
                goto done;
            if (code == PLAN_RBP) {
                if (!rbp_known) {
                    stop = US_UNSUPPORTED;
                    break;
                }
                cfa = rbp + (uint64_t)coff;
            }
            else
                cfa = rsp + (uint64_t)coff;
            addr = cfa + (uint64_t)roff;
            if (!in_copy(addr, stack_avma, limit)) {
                stop = US_MEMORY; /* nothing but the copy is readable */
                break;
            }
            ra = load_u64(stack + (addr - stack_avma));
            if (code != PLAN_RSP) {
                addr = cfa + (uint64_t)boff;
                rbp_known = in_copy(addr, stack_avma, limit);
                if (rbp_known)
                    rbp = load_u64(stack + (addr - stack_avma));
            }
            if (cfa <= rsp) {
                stop = US_LOOP;
                break;
            }
            if (ra == 0) {
                stop = US_ZERO;
                break;
            }
            pc = ra - 1;
            pcs[n] = PyLong_FromUnsignedLongLong(pc);
            if (pcs[n] == NULL)
                goto done;
            n++;
            rsp = cfa;
        }
        if (!stop)
            stop = US_MAX;
    }
    {
        PyObject *frames = PyTuple_New(n);
        if (frames == NULL)
            goto done;
        for (i = 0; i < n; i++)
            PyTuple_SET_ITEM(frames, i, pcs[i]);
        n = 0; /* the tuple holds them now */
        result = Py_BuildValue("(Ni)", frames, stop);
    }
    goto done;
python:
    result = Py_NewRef(Py_None);
done:
    for (i = 0; i < n; i++)
        Py_DECREF(pcs[i]);
    if (pcs != local)
        PyMem_Free(pcs);
    PyBuffer_Release(&view);
    return result;
}

/* --- kallsyms_columns -------------------------------------------------------------------------------- */

#define KSYM_NAME_LEN 512

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static PyObject *kallsyms_columns(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    PyObject *result = NULL, *starts = NULL, *types = NULL, *nstarts = NULL, *nends = NULL;
    const unsigned char *p, *end;
    Py_ssize_t lines = 0, i = 0;
    int in_order = 1;
    uint64_t last = 0;

    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    p = view.buf;
    end = p + view.len;
    if (view.len >= (Py_ssize_t)UINT32_MAX) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    for (const unsigned char *q = p; q < end; q++) /* lines: the newlines, and a last line without one */
        lines += *q == '\n';
    if (view.len && end[-1] != '\n')
        lines++;
    starts = PyBytes_FromStringAndSize(NULL, lines * 8);
    types = PyBytes_FromStringAndSize(NULL, lines);
    nstarts = PyBytes_FromStringAndSize(NULL, lines * 4);
    nends = PyBytes_FromStringAndSize(NULL, lines * 4);
    if (!starts || !types || !nstarts || !nends)
        goto done;
    {
        uint64_t *st = (uint64_t *)PyBytes_AS_STRING(starts);
        unsigned char *ty = (unsigned char *)PyBytes_AS_STRING(types);
        uint32_t *ns = (uint32_t *)PyBytes_AS_STRING(nstarts), *ne = (uint32_t *)PyBytes_AS_STRING(nends);
        const unsigned char *base = p;
        while (p < end) {
            uint64_t value = 0;
            int digits = 0, d;
            const unsigned char *name, *nl;
            while (p < end && (d = hex_digit(*p)) >= 0) {
                value = (value << 4) | (uint64_t)d;
                digits++;
                p++;
            }
            if (digits == 0 || digits > 16 || end - p < 3 || p[0] != ' ' || p[1] == '\n' || p[2] != ' ')
                goto refuse;
            ty[i] = p[1];
            name = p + 3;
            nl = memchr(name, '\n', (size_t)(end - name));
            if (nl == NULL)
                nl = end;
            if (nl - name > KSYM_NAME_LEN)
                goto refuse;
            st[i] = value;
            ns[i] = (uint32_t)(name - base);
            ne[i] = (uint32_t)(nl - base);
            if (value < last)
                in_order = 0;
            last = value;
            i++;
            p = nl < end ? nl + 1 : end;
        }
    }
    if (i != lines)
        goto refuse;
    result = Py_BuildValue("(OOOOO)", starts, types, nstarts, nends, in_order ? Py_True : Py_False);
    goto done;
refuse:
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(starts);
    Py_XDECREF(types);
    Py_XDECREF(nstarts);
    Py_XDECREF(nends);
    PyBuffer_Release(&view);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * report: perf's entries_in rb-tree replayed (report/findnew.py's replay; that module's docstring says what
 * it computes, and its Python code is this loop's twin: tests/test_report_findnew.py compares them).
 *
 * findnew_replay(block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after, collapse
 *                [, entries]) -> (moves, ident, order, merged)
 *     Per identity its block (int64), ip (u64: a resolved symbol's name rank in the high 32 bits, its
 *     (start, name) rank in the low ones), sub (int64), wraps, unres and inl (bool), dso (int64); per sample its group and period
 *     (u64) and count (None: 1 each); per group its replayed look-ups, None or a list of (look, identity,
 *     entries made before it at the group's first sample, -1 if it made the identity's first entry then),
 *     and the entries made once its first sample is done. Nodes are entries; an insertion is lib/rbtree.c's
 *     (report.rbtree's _fixup: the CLRS rebalancing). `entries` (default: all identities): the first ones
 *     are made as entries, the others are only searched with (and make an entry where nothing is found).
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
static void *fn_array(PyObject *list, Py_ssize_t n, int kind)
{
    void *out;
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

static PyObject *findnew_replay(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *lblock, *lip, *lsub, *lwraps, *lunres, *ldso, *linl, *lrs, *lperiods, *lcounts, *llooks, *lmade;
    PyObject *result = NULL, *moves = NULL, *ident = NULL, *order = NULL, *merged = NULL;
    int collapse;
    Py_ssize_t nentries = -1;
    long long *block = NULL, *sub = NULL, *dso = NULL, *rs = NULL, *counts = NULL, *made_after = NULL;
    unsigned long long *ip = NULL, *periods = NULL;
    char *wraps = NULL, *unres = NULL, *inl = NULL, *done = NULL;
    FnTree t = {0}, c = {0};
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!O!O!O!OO!O!p|n:findnew_replay", &PyList_Type, &lblock, &PyList_Type, &lip,
                          &PyList_Type, &lsub, &PyList_Type, &lwraps, &PyList_Type, &lunres, &PyList_Type, &ldso,
                          &PyList_Type, &linl,
                          &PyList_Type, &lrs, &PyList_Type, &lperiods, &lcounts, &PyList_Type, &llooks,
                          &PyList_Type, &lmade, &collapse, &nentries))
        return NULL;
    Py_ssize_t nr = PyList_GET_SIZE(lblock), ns = PyList_GET_SIZE(lrs), ng = PyList_GET_SIZE(llooks);
    if (nentries < 0) nentries = nr;
    if (nentries > nr) {
        PyErr_SetString(PyExc_ValueError, "findnew_replay: more entries than identities");
        return NULL;
    }
    Py_ssize_t n = nentries;  /* identities made as entries; nr ranked */
    if (!(block = fn_array(lblock, nr, 0)) || !(ip = fn_array(lip, nr, 1)) || !(sub = fn_array(lsub, nr, 0)) ||
        !(wraps = fn_array(lwraps, nr, 2)) || !(unres = fn_array(lunres, nr, 2)) || !(dso = fn_array(ldso, nr, 0)) ||
        !(inl = fn_array(linl, nr, 2)) ||
        !(rs = fn_array(lrs, ns, 0)) || !(periods = fn_array(lperiods, ns, 1)) || !(made_after = fn_array(lmade, ng, 0)))
        goto done;
    if (lcounts != Py_None && !(counts = fn_array(lcounts, ns, 0)))
        goto done;
    if (!(done = PyMem_Calloc(ng ? ng : 1, 1))) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < ns; i++)
        if (rs[i] < 0 || rs[i] >= ng) {
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
        Py_ssize_t r = (Py_ssize_t)rs[i];
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
            if (got >= n) {
                PyObject *move = Py_BuildValue("(nOnKL)", r, jo, got, periods[i], counts ? counts[i] : 1LL);
                if (!move || PyList_Append(moves, move) < 0) { Py_XDECREF(move); goto done; }
                Py_DECREF(move);
            }
        }
    }
    for (; k < n; k++) fn_lookup(&t, k, k);
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
    PyMem_Free(rs);
    PyMem_Free(periods);
    PyMem_Free(counts);
    PyMem_Free(made_after);
    PyMem_Free(done);
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

/* --------------------------------------------------------------------------- end of the report section */

/* --- script_raw_run (script section: report.script_keys' loop of tracepoint samples) -------------------- */

/* script_raw_run(items, start, memo, heads, at, divisor, kernel, out, memo_limit) -> (i, status, template)
 *     report.script_keys._Walk.run_raw's loop over items[start:] (pairs (key, time): key bytes cut at its RAW
 *     record, whose u32 size is at byte `at`), for the samples whose text it can make as that loop does: a
 *     key kept in `memo` (dict key -> template), or a key whose part before RAW is in `heads` (dict
 *     key[:at] -> [before, after, info, cpu, made]) and whose RAW fits in it: its template is "" (before
 *     None), before + after (info None) or before + info(raw, cpu).replace("%", "%%") + after, kept in
 *     `memo` and appended to `made`. Each sample's text, template % (time // 10**9, time % 10**9 // divisor),
 *     is appended to `out` (none for ""). Returns at the first sample it leaves to Python, with its index:
 *     status 0 at the end (i == len(items)); 1 for a sample Python makes the text of (a key whose head is
 *     not kept or whose RAW overruns it, `memo` holding memo_limit keys, a time that is not a u64); 2 when
 *     the info call changed kernel.epoch (a %pS name loaded the kernel's symbols): `template` is the
 *     sample's template, neither kept nor printed. */
static PyObject *script_raw_run(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *items, *memo, *heads, *kernel, *out, *pct = NULL, *pctpct = NULL, *epoch_name = NULL;
    Py_ssize_t i, n, at, memo_limit;
    unsigned long long divisor;
    int status = 0;
    PyObject *changed_template = NULL, *result = NULL;

    if (!PyArg_ParseTuple(args, "O!nO!O!nKOO!n:script_raw_run", &PyList_Type, &items, &i, &PyDict_Type, &memo,
                          &PyDict_Type, &heads, &at, &divisor, &kernel, &PyList_Type, &out, &memo_limit))
        return NULL;
    if (at < 0 || divisor == 0) {
        PyErr_SetString(PyExc_ValueError, "script_raw_run: bad offset or divisor");
        return NULL;
    }
    pct = PyUnicode_FromString("%");
    pctpct = PyUnicode_FromString("%%");
    epoch_name = PyUnicode_FromString("epoch");
    if (pct == NULL || pctpct == NULL || epoch_name == NULL)
        goto done;
    n = PyList_GET_SIZE(items);
    for (; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(items, i), *key, *template, *line, *numbers;
        unsigned long long time;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(pair, 0)) ||
            !PyLong_Check(PyTuple_GET_ITEM(pair, 1))) {
            status = 1;
            break;
        }
        key = PyTuple_GET_ITEM(pair, 0);
        time = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(pair, 1));
        if (time == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            status = 1;
            break;
        }
        template = PyDict_GetItemWithError(memo, key); /* borrowed */
        if (template == NULL) {
            PyObject *head_key, *got, *before, *after, *info, *cpu, *made;
            const char *kb = PyBytes_AS_STRING(key);
            Py_ssize_t klen = PyBytes_GET_SIZE(key), end;
            uint32_t raw_size;
            if (PyErr_Occurred())
                goto done;
            if (PyDict_GET_SIZE(memo) >= memo_limit || klen < at + 4) {
                status = 1;
                break;
            }
            memcpy(&raw_size, kb + at, 4);
            end = at + 4 + (Py_ssize_t)raw_size;
            head_key = PyBytes_FromStringAndSize(kb, at);
            if (head_key == NULL)
                goto done;
            got = PyDict_GetItemWithError(heads, head_key); /* borrowed */
            Py_DECREF(head_key);
            if (got == NULL && PyErr_Occurred())
                goto done;
            if (got == NULL || end > klen || !PyList_Check(got) || PyList_GET_SIZE(got) != 5) {
                status = 1;
                break;
            }
            before = PyList_GET_ITEM(got, 0);
            after = PyList_GET_ITEM(got, 1);
            info = PyList_GET_ITEM(got, 2);
            cpu = PyList_GET_ITEM(got, 3);
            made = PyList_GET_ITEM(got, 4);
            if (!PyList_Check(made)) {
                status = 1;
                break;
            }
            if (before == Py_None) {
                template = PyUnicode_FromString("");
            } else if (info == Py_None) {
                template = PyUnicode_Concat(before, after);
            } else {
                PyObject *epoch, *raw, *text, *escaped, *left, *epoch_after;
                int same;
                epoch = PyObject_GetAttr(kernel, epoch_name);
                if (epoch == NULL)
                    goto done;
                raw = PyBytes_FromStringAndSize(kb + at + 4, (Py_ssize_t)raw_size);
                if (raw == NULL) {
                    Py_DECREF(epoch);
                    goto done;
                }
                text = PyObject_CallFunctionObjArgs(info, raw, cpu, NULL);
                Py_DECREF(raw);
                if (text == NULL) {
                    Py_DECREF(epoch);
                    goto done;
                }
                escaped = PyUnicode_Replace(text, pct, pctpct, -1);
                Py_DECREF(text);
                left = escaped == NULL ? NULL : PyUnicode_Concat(before, escaped);
                Py_XDECREF(escaped);
                template = left == NULL ? NULL : PyUnicode_Concat(left, after);
                Py_XDECREF(left);
                if (template == NULL) {
                    Py_DECREF(epoch);
                    goto done;
                }
                epoch_after = PyObject_GetAttr(kernel, epoch_name);
                same = epoch_after == NULL ? -1 : PyObject_RichCompareBool(epoch, epoch_after, Py_EQ);
                Py_DECREF(epoch);
                Py_XDECREF(epoch_after);
                if (same < 0) {
                    Py_DECREF(template);
                    goto done;
                }
                if (!same) { /* not kept: Python forgets what was kept, then prints it */
                    changed_template = template;
                    status = 2;
                    break;
                }
            }
            if (template == NULL)
                goto done;
            if (PyDict_SetItem(memo, key, template) < 0 || PyList_Append(made, key) < 0) {
                Py_DECREF(template);
                goto done;
            }
            Py_DECREF(template); /* memo holds it */
        }
        if (PyUnicode_Check(template) && PyUnicode_GET_LENGTH(template) == 0)
            continue;
        numbers = Py_BuildValue("(KK)", time / 1000000000ULL, time % 1000000000ULL / divisor);
        if (numbers == NULL)
            goto done;
        line = PyUnicode_Format(template, numbers);
        Py_DECREF(numbers);
        if (line == NULL)
            goto done;
        if (PyList_Append(out, line) < 0) {
            Py_DECREF(line);
            goto done;
        }
        Py_DECREF(line);
    }
    result = Py_BuildValue("(niO)", i, status, changed_template != NULL ? changed_template : Py_None);
done:
    Py_XDECREF(changed_template);
    Py_XDECREF(pct);
    Py_XDECREF(pctpct);
    Py_XDECREF(epoch_name);
    return result;
}

/* ----------------------------------------------------------------------------- end of the script section */

static PyMethodDef speedups_methods[] = {
    {"run_extremes", (PyCFunction)run_extremes, METH_O,
     "run_extremes(times) -> (low, high, in_order) or None (see the module's source)"},
    {"time_order", (PyCFunction)time_order, METH_VARARGS,
     "time_order(times, items) -> (times, items), stably sorted by time (see the module's source)"},
    {"unwind_run", (PyCFunction)unwind_run, METH_VARARGS,
     "unwind_run(stack, stack_avma, pc, rsp, rbp, plans, left, frames) -> (pc, rsp, rbp, left) (see the source)"},
    {"unwind_sample", (PyCFunction)unwind_sample, METH_VARARGS,
     "unwind_sample(values, ip_i, sp_i, bp_i, stack, plans, max_frames) -> (frames, stop) or None (see the source)"},
    {"kallsyms_columns", (PyCFunction)kallsyms_columns, METH_O,
     "kallsyms_columns(data) -> (starts, types, name_starts, name_ends, in_order) or None (see the source)"},
    {"findnew_replay", (PyCFunction)findnew_replay, METH_VARARGS,
     "findnew_replay(block, ip, sub, wraps, unres, dso, inl, groups, periods, counts, looks, made_after, collapse) -> "
     "(moves, ident, order, merged) (see the source)"},
    {"rank_order", (PyCFunction)rank_order, METH_VARARGS,
     "rank_order(group, thread, depth, rest) -> order (see the source)"},
    {"script_raw_run", (PyCFunction)script_raw_run, METH_VARARGS,
     "script_raw_run(items, start, memo, heads, at, divisor, kernel, out, memo_limit) -> (i, status, template) "
     "(see the source)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyperf_probe.perfdata._speedups",
    .m_doc = "The per-record loops of the report's reading path, in C (optional: see the source).",
    .m_size = -1,
    .m_methods = speedups_methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    PyObject *module;
    if (PyType_Ready(&KeyScannerType) < 0)
        return NULL;
    module = PyModule_Create(&speedups_module);
    if (module == NULL)
        return NULL;
    Py_INCREF(&KeyScannerType);
    if (PyModule_AddObject(module, "KeyScanner", (PyObject *)&KeyScannerType) < 0) {
        Py_DECREF(&KeyScannerType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
