/* pyperf_probe.perfdata._speedups: the per-record loops of the report's reading path, in C.
 *
 * Its functions are in several files, one per area (_speedups.h says which); this comment is the contract
 * of all of them.
 *
 * Optional: setup.py builds it when a C compiler and Python's headers are there; perfdata.sample_keys and
 * perfdata.ordered fall back to their Python code when it is not, or when PYPERF_PURE_PYTHON is set. Each
 * function here gives exactly what that Python code gives (tests/test_speedups.py compares them on random
 * input; the golden report tests run both).
 *
 * KeyScanner(time_word, head_end, mid_start, mid_end, tail_start, fixed_end, timed=False, walk=(), side=None)
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
 *     record[mid_start:mid_end] + record[tail_start:fixed_end] + RAW's u32 size and data (the call chain's
 *     u64 nr and ips too, before RAW, when its step's param is 1; RAW left out when its param is 1). The other fields
 *     are walked past with the checks of perfdata.sample's decoder: a record one of them overruns is
 *     not taken (the scan stops there and the reader's careful path decodes it). Kinds: 1 CALLCHAIN, 2 RAW,
 *     3 BRANCH_STACK (param: hw_idx present), 4 REGS_USER/REGS_INTR (param: registers in the mask), 5
 *     STACK_USER, 6 param fixed u64 words.
 *
 *     With `side` (records.side_spec: the sample_id trailer every event shares and the record classes), the
 *     scan also takes the MMAP, MMAP2, COMM, FORK and EXIT records that _speedups_records.c's side_record
 *     takes (a record in u64 words, whole in the first nw, with a TIME neither 0 nor (u64)-1, its fields
 *     fitting): their TIME to `times` and the decoded record itself to `keys`, in file order among the
 *     keys; anything else still stops the scan (FINISHED_ROUND, untimed or corrupt records: the reader's
 *     careful path).
 *
 *     A key seen before comes back as the same bytes object, found in the scanner's own hash table
 *     without building a new one; the table keeps at most INTERN_KEYS keys and INTERN_BYTES bytes of
 *     keys, then starts again, so memory stays flat in the number of samples. collections.Counter then
 *     hashes each distinct key once (bytes cache their hash) and compares equal keys by identity.
 *
 *     scan.queue_scan(buf, i, nw, queue, out) -> (i, records): the same scan, each record handed to a
 *     TimeQueue as it is read (no times or keys lists), FINISHED_ROUND flushed there, untimed side records
 *     taken too (delivered at once); see the function.
 *
 * TimeQueue(max_queued=1 << 20)
 *     ordered.OrderedQueue's list interface (push(times, items, out), finish_round(out), finish(out),
 *     out_of_order) with the times kept as u64 in C: OrderedQueue's rules applied record by record, which
 *     is what they are (ordered._append's per-run extremes give the same queue_max, sorted flag and
 *     out_of_order counts). stream's keyed path uses it with queue_scan; OrderedQueue is the twin
 *     (tests/test_reader_time_queue.py).
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
 *     [0, 2**64)) for a time that is not a u64.
 *
 * time_cut(times, items, limit) -> (delivered, rest_times, rest_items, last)
 *     For ordered.OrderedQueue._flush of an unsorted queue: time_order's sort, then the cut at
 *     bisect_right(sorted times, limit) (all with limit None): the items up to the cut, the times and
 *     items after it, and the last delivered time (None when nothing is). ordered._py_time_cut is the
 *     twin (tests/test_speedups.py); the sorted lists are not made whole only to be sliced. *
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
 * count_dwarf_run(batch, start, sample_type, threads, ctx, cache, order) -> (index, counted, key)
 *     For session.counts._count_records: from batch[start], the DWARF samples of the process last unwound
 *     that unwind_sample's loop finishes, keyed by (fields, unwound chain, RAW) and counted into the cached
 *     group of their key, up to the first record that is not such a hit (its index, the samples counted,
 *     its key or None). _speedups_unwind.c gives the conditions and the key's bytes;
 *     session.counts._py_count_dwarf_run is the twin (tests/test_session_count_dwarf.py).
 *
 * kallsyms_columns(data) -> (starts, types, name_starts, name_ends, in_order, trampoline) | None
 *     For symbols.kallsyms.parse: the columns of a kallsyms file whose every line is 1 to 16 hex digits,
 *     a space, the type character, a space and a name of at most KSYM_NAME_LEN (512) bytes up to the
 *     newline (the last line may lack it): `starts` the addresses as u64 (native order), `types` one byte
 *     a line, `name_starts`/`name_ends` the names' byte offsets in `data` as u32, `in_order` whether the
 *     addresses never decrease, `trampoline` whether a line's whole name is __entry_SYSCALL_64_trampoline.
 *     None for anything else (an empty line, a longer name or address, no
 *     space where one goes, a file of 4 GiB or more): the Python parser then reads it with
 *     kallsyms__parse's quirks.
 *
 * inflate_zlib(data, offset, size) -> bytes | None
 *     For symbols.dwarf.info's SHF_COMPRESSED sections: zlib.decompress(data[offset:]) by libdeflate
 *     (dlopen'ed on first use, not linked), when that is a whole zlib stream (checksum checked) of exactly
 *     `size` bytes. None, with nothing done, without libdeflate, for bad arguments, a damaged stream or
 *     another size: the caller then inflates with zlib, which gives the same bytes or its error.
 */
#include "_speedups.h"
#include <dlfcn.h>
#include <structmember.h>
#include <malloc.h>
#ifdef PYPERF_LIBIBERTY
#include <libiberty/demangle.h>
#endif

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
    SideSpec side; /* on: MMAP, MMAP2, COMM, FORK and EXIT records are taken too (_speedups_records.c) */
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
    if (w < len) { /* the last 1..7 bytes, as a little-endian u64 (what memcpy into a zeroed u64 gives) read
                      by fixed-size loads: a memcpy of variable size here stalled the scan (a walked key's
                      first piece, from offset 4, always ends with 4 bytes) */
        const unsigned char *q = p + w;
        Py_ssize_t rem = len - w, at = 0;
        uint64_t last = 0;
        if (rem >= 4) {
            uint32_t x;
            memcpy(&x, q, 4);
            last = x;
            at = 4;
        }
        for (; at < rem; at++)
            last |= (uint64_t)q[at] << (8 * at);
        h = mix(h, last ^ ((uint64_t)rem << 56));
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

/* The variable fields of a record of `size` bytes walked as perfdata.sample's decoder reads them: 0, where
 * RAW's u32 size and data are (len 0 without RAW) and in *kept the end of the key's fixed part (the fixed
 * fields, then the call chain when its step's param is 1: it follows them in the record), or -1 when a field
 * overruns the record. */
static int walk_record(const KeyScanner *self, const unsigned char *rec, int64_t size, Piece *raw,
                       Py_ssize_t *kept)
{
    int64_t pos = 8 * (int64_t)self->fixed_words, end = size;
    int k;

    raw->off = raw->len = 0;
    *kept = (Py_ssize_t)pos;
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
            if (step->param) /* param 1: kept in the key (it directly follows the fixed fields) */
                *kept = (Py_ssize_t)pos;
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

        if ((header & SAMPLE_WORD_MASK) != 9) {
            PyObject *side_time, *side_rec;
            int got;
            if (!self->side.on || size_words < 1 || size_words > nw - i || header & (7ULL << 48))
                break;
            got = side_record(&self->side, rec, 8 * size_words, &side_time, &side_rec);
            if (got < 0)
                goto done;
            if (got == 0)
                break;
            if (append_new(keys, side_rec) < 0) {
                Py_DECREF(side_time);
                goto done;
            }
            if (append_new(times, side_time) < 0)
                goto done;
            i += size_words;
            continue;
        }
        if (size_words < self->fixed_words || size_words > nw - i)
            break;
        if (self->nsteps) {
            Py_ssize_t kept;
            if (walk_record(self, rec, 8 * (int64_t)size_words, &pieces[3], &kept) < 0)
                break;
            pieces[2].len = kept - self->tail_start;
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

/* The ordered queue in C (TimeQueue, below): what queue_scan hands each record to. */
typedef struct TimeQueue TimeQueue;
static PyTypeObject TimeQueueType;
static int tq_add(TimeQueue *q, uint64_t time, PyObject *item, PyObject *out); /* steals item */
static int tq_finish_round(TimeQueue *q, PyObject *out);

/* scan.queue_scan(buf, i, nw, queue, out) -> (i, records): scan()'s loop with each record's (time, item)
 * given to a TimeQueue (queue.push of one record: OrderedQueue's rules, which hold record by record), no
 * times or keys lists made; a FINISHED_ROUND record (u64-aligned, whole) is queue.finish_round(out) here.
 * The side records are taken untimed too (TIME 0 or (u64)-1: perf's synthesized ones), which the queue
 * delivers at once, where the reader's careful path would put them (decoded here, as the timed ones are).
 * What the queue delivers meanwhile is appended to `out`. Returns where it stopped and how many records it
 * took (the reader's count). */
static PyObject *scanner_queue_scan(KeyScanner *self, PyObject *args)
{
    Py_buffer view;
    PyObject *queue_obj, *out, *result = NULL;
    Py_ssize_t i, nw, taken = 0;

    if (!PyArg_ParseTuple(args, "y*nnO!O!:queue_scan", &view, &i, &nw, &TimeQueueType, &queue_obj, &PyList_Type,
                          &out))
        return NULL;
    TimeQueue *queue = (TimeQueue *)queue_obj;
    if (i < 0 || nw < 0 || nw > view.len / 8) {
        PyErr_SetString(PyExc_ValueError, "queue_scan: word range outside the buffer");
        goto done;
    }
    while (i < nw) {
        const unsigned char *rec = (const unsigned char *)view.buf + 8 * i;
        const uint64_t header = load_u64(rec);
        const Py_ssize_t size_words = (Py_ssize_t)(header >> 51);

        Piece pieces[4] = {{4, self->head_end - 4}, {self->mid_start, self->mid_end - self->mid_start},
                           {self->tail_start, 8 * size_words - self->tail_start}, {0, 0}};
        int npieces = 3;

        if ((header & SAMPLE_WORD_MASK) != 9) {
            PyObject *side_time, *side_rec;
            uint64_t t;
            int got;
            if (size_words < 1 || size_words > nw - i || header & (7ULL << 48))
                break;
            if ((header & 0xFFFFFFFFULL) == 68) { /* PERF_RECORD_FINISHED_ROUND */
                if (tq_finish_round(queue, out) < 0)
                    goto done;
                taken++;
                i += size_words;
                continue;
            }
            if (!self->side.on)
                break;
            got = side_record_timed(&self->side, rec, 8 * size_words, 1, &side_time, &side_rec);
            if (got < 0)
                goto done;
            if (got == 0)
                break;
            t = PyLong_AsUnsignedLongLong(side_time);
            Py_DECREF(side_time);
            if (t == (uint64_t)-1 && PyErr_Occurred()) {
                Py_DECREF(side_rec);
                goto done;
            }
            if (tq_add(queue, t, side_rec, out) < 0)
                goto done;
            taken++;
            i += size_words;
            continue;
        }
        if (size_words < self->fixed_words || size_words > nw - i)
            break;
        if (self->nsteps) {
            Py_ssize_t kept;
            if (walk_record(self, rec, 8 * (int64_t)size_words, &pieces[3], &kept) < 0)
                break;
            pieces[2].len = kept - self->tail_start;
            npieces = 4;
        }
        PyObject *key = intern_key(self, rec, pieces, npieces);
        if (key == NULL)
            goto done;
        uint64_t t = load_u64(rec + 8 * self->time_word);
        if (self->timed) {
            PyObject *pair = PyTuple_New(2), *time = PyLong_FromUnsignedLongLong(t);
            if (pair == NULL || time == NULL) {
                Py_XDECREF(pair);
                Py_XDECREF(time);
                Py_DECREF(key);
                goto done;
            }
            PyTuple_SET_ITEM(pair, 0, key);
            PyTuple_SET_ITEM(pair, 1, time);
            key = pair;
        }
        if (tq_add(queue, t, key, out) < 0)
            goto done;
        taken++;
        i += size_words;
    }
    result = Py_BuildValue("(nn)", i, taken);
done:
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef scanner_methods[] = {
    {"queue_scan", (PyCFunction)scanner_queue_scan, METH_VARARGS,
     "queue_scan(buf, i, nw, queue, out) -> (i, records): the scan into a TimeQueue (see the module's source)"},
    {NULL, NULL, 0, NULL},
};

static PyObject *scanner_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"time_word", "head_end", "mid_start", "mid_end", "tail_start", "fixed_end", "timed",
                            "walk", "side", NULL};
    Py_ssize_t time_word, head_end, mid_start, mid_end, tail_start, fixed_end, nsteps = 0, k;
    int timed = 0;
    PyObject *walk = NULL, *side = NULL;
    Step steps[MAX_STEPS];
    KeyScanner *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nnnnnn|pO!O:KeyScanner", names, &time_word, &head_end, &mid_start,
                                     &mid_end, &tail_start, &fixed_end, &timed, &PyTuple_Type, &walk, &side))
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
    if (side_spec_parse(side, &self->side) < 0) {
        Py_DECREF(self);
        return NULL;
    }
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
    side_spec_clear(&self->side);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject KeyScannerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyperf_probe.perfdata._speedups.KeyScanner",
    .tp_basicsize = sizeof(KeyScanner),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "KeyScanner(time_word, head_end, mid_start, mid_end, tail_start, fixed_end, timed=False, walk=(), "
              "side=None): "
              "scan(buf, words, i, nw, times, keys) -> i (see the module's source).",
    .tp_new = scanner_new,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_call = (ternaryfunc)scanner_call,
    .tp_methods = scanner_methods,
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



/* The stable order of `times` (n u64s) in *v_out (v_out and tmp freed by the caller), or -1 with the error set. */
static Timed *sort_times(PyObject *times, Py_ssize_t n, Timed **v_out, Timed **tmp_out, const char *what)
{
    Timed *v = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Timed));
    Timed *tmp = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Timed));
    Py_ssize_t *starts = PyMem_Malloc((size_t)(n + 1) * sizeof(Py_ssize_t)), i;
    Timed *order = NULL;
    *v_out = v;
    *tmp_out = tmp;
    if (v == NULL || tmp == NULL || starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(times, i);
        if (as_u64(item, &v[i].time) < 0) {
            PyErr_Format(PyLong_Check(item) ? PyExc_OverflowError : PyExc_TypeError,
                         "%s: a time that is not a u64 int", what);
            goto done;
        }
        v[i].index = i;
    }
    order = n ? natural_sort(v, tmp, n, starts) : v;
done:
    PyMem_Free(starts);
    return order;
}

static PyObject *gather_range(PyObject *list, const Timed *order, Py_ssize_t lo, Py_ssize_t hi)
{
    PyObject *out = PyList_New(hi - lo);
    Py_ssize_t i;
    if (out == NULL)
        return NULL;
    for (i = lo; i < hi; i++) {
        PyObject *item = PyList_GET_ITEM(list, order[i].index);
        Py_INCREF(item);
        PyList_SET_ITEM(out, i - lo, item);
    }
    return out;
}

static PyObject *time_cut(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *times, *items, *limit_obj, *delivered = NULL, *rest_times = NULL, *rest_items = NULL;
    PyObject *result = NULL, *last = NULL;
    Timed *v = NULL, *tmp = NULL, *order;
    Py_ssize_t n, cut;

    if (!PyArg_ParseTuple(args, "O!O!O:time_cut", &PyList_Type, &times, &PyList_Type, &items, &limit_obj))
        return NULL;
    n = PyList_GET_SIZE(times);
    if (PyList_GET_SIZE(items) != n) {
        PyErr_SetString(PyExc_ValueError, "time_cut: lists of different lengths");
        return NULL;
    }
    order = sort_times(times, n, &v, &tmp, "time_cut");
    if (order == NULL)
        goto done;
    if (limit_obj == Py_None) {
        cut = n;
    } else { /* bisect_right on the sorted times, compared as Python compares the ints */
        Py_ssize_t lo = 0, hi = n;
        while (lo < hi) {
            Py_ssize_t mid = (lo + hi) / 2;
            int r = PyObject_RichCompareBool(limit_obj, PyList_GET_ITEM(times, order[mid].index), Py_LT);
            if (r < 0)
                goto done;
            if (r)
                hi = mid;
            else
                lo = mid + 1;
        }
        cut = lo;
    }
    delivered = gather_range(items, order, 0, cut);
    rest_times = delivered ? gather_range(times, order, cut, n) : NULL;
    rest_items = rest_times ? gather_range(items, order, cut, n) : NULL;
    if (rest_items == NULL)
        goto done;
    last = cut ? PyList_GET_ITEM(times, order[cut - 1].index) : Py_None;
    result = PyTuple_Pack(4, delivered, rest_times, rest_items, last);
done:
    Py_XDECREF(delivered);
    Py_XDECREF(rest_times);
    Py_XDECREF(rest_items);
    PyMem_Free(v);
    PyMem_Free(tmp);
    return result;
}

/* --- TimeQueue --------------------------------------------------------------------------------------- */

#define NO_TIME UINT64_MAX

struct TimeQueue {
    PyObject_HEAD
    Timed *v; /* the queued records, v[head:head + len]: (time, item), the item a strong reference */
    Py_ssize_t head, len, cap, max_queued, out_of_order;
    uint64_t queue_max, max_timestamp, next_flush, last_flush;
    int sorted;
};

#define TQ_ITEM(e) ((PyObject *)(e).index)

/* Move v[head:head + n] to the end of `out` (the queue's references become the list's). */
static int tq_deliver(TimeQueue *q, Py_ssize_t n, PyObject *out)
{
    Py_ssize_t k;
    for (k = 0; k < n; k++) {
        PyObject *item = TQ_ITEM(q->v[q->head]);
        int rc = PyList_Append(out, item);
        if (rc < 0)
            return -1;
        Py_DECREF(item);
        q->head++;
        q->len--;
    }
    return 0;
}

/* bisect_right of `limit` on the (sorted) queued times */
static Py_ssize_t tq_bisect(const TimeQueue *q, uint64_t limit)
{
    Py_ssize_t lo = 0, hi = q->len;
    const Timed *v = q->v + q->head;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (limit < v[mid].time)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* OrderedQueue._flush: deliver the records with time <= limit (all without has_limit), in time order. */
static int tq_flush(TimeQueue *q, int has_limit, uint64_t limit, PyObject *out)
{
    Py_ssize_t cut;
    if (q->len == 0 || (has_limit && limit == 0))
        return 0;
    if (!q->sorted) { /* sorted (stably), then cut */
        Timed *tmp, *order;
        Py_ssize_t *starts;
        if (q->head) {
            memmove(q->v, q->v + q->head, (size_t)q->len * sizeof(Timed));
            q->head = 0;
        }
        tmp = PyMem_Malloc((size_t)q->len * sizeof(Timed));
        starts = PyMem_Malloc((size_t)(q->len + 1) * sizeof(Py_ssize_t));
        if (tmp == NULL || starts == NULL) {
            PyMem_Free(tmp);
            PyMem_Free(starts);
            PyErr_NoMemory();
            return -1;
        }
        order = natural_sort(q->v, tmp, q->len, starts);
        if (order != q->v)
            memcpy(q->v, order, (size_t)q->len * sizeof(Timed));
        PyMem_Free(tmp);
        PyMem_Free(starts);
        q->sorted = 1;
        cut = has_limit ? tq_bisect(q, limit) : q->len;
        if (cut) {
            q->last_flush = q->v[q->head + cut - 1].time;
            if (tq_deliver(q, cut, out) < 0)
                return -1;
            q->queue_max = q->len ? q->v[q->head + q->len - 1].time : 0;
        }
        return 0;
    }
    cut = has_limit ? tq_bisect(q, limit) : q->len;
    if (!cut)
        return 0;
    q->last_flush = q->v[q->head + cut - 1].time;
    if (tq_deliver(q, cut, out) < 0)
        return -1;
    q->queue_max = q->len ? q->v[q->head + q->len - 1].time : 0;
    return 0;
}

static int tq_flush_half(TimeQueue *q, PyObject *out)
{
    uint64_t first = UINT64_MAX, last = 0;
    Py_ssize_t k;
    for (k = q->head; k < q->head + q->len; k++) {
        if (q->v[k].time < first)
            first = q->v[k].time;
        if (q->v[k].time > last)
            last = q->v[k].time;
    }
    return tq_flush(q, 1, first + (last - first) / 2, out);
}

/* OrderedQueue.push of one record (its rules hold record by record: ordered.py's _append): steals `item`. */
static int tq_add(TimeQueue *q, uint64_t time, PyObject *item, PyObject *out)
{
    if (time == 0 || time == NO_TIME) { /* delivered at once */
        int rc = PyList_Append(out, item);
        Py_DECREF(item);
        return rc;
    }
    if (q->last_flush && time < q->last_flush)
        q->out_of_order++;
    if (q->len && q->sorted && time < q->queue_max)
        q->sorted = 0;
    if (!q->len || time >= q->queue_max)
        q->queue_max = q->max_timestamp = time;
    if (q->head + q->len == q->cap) {
        if (q->head && q->head >= q->cap / 2) {
            memmove(q->v, q->v + q->head, (size_t)q->len * sizeof(Timed));
            q->head = 0;
        } else {
            Py_ssize_t cap = q->cap ? 2 * q->cap : 1024;
            Timed *v = PyMem_Realloc(q->v, (size_t)cap * sizeof(Timed));
            if (v == NULL) {
                Py_DECREF(item);
                PyErr_NoMemory();
                return -1;
            }
            q->v = v;
            q->cap = cap;
        }
    }
    q->v[q->head + q->len].time = time;
    q->v[q->head + q->len].index = (Py_ssize_t)item;
    q->len++;
    if (q->len > q->max_queued)
        return tq_flush_half(q, out);
    return 0;
}

static int tq_finish_round(TimeQueue *q, PyObject *out)
{
    if (tq_flush(q, 1, q->next_flush, out) < 0)
        return -1;
    q->next_flush = q->max_timestamp;
    return 0;
}

static PyObject *tq_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"max_queued", NULL};
    Py_ssize_t max_queued = 1 << 20; /* ordered.DEFAULT_MAX_QUEUED */
    TimeQueue *q;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|n:TimeQueue", names, &max_queued))
        return NULL;
    if (max_queued < 1) {
        PyErr_SetString(PyExc_ValueError, "TimeQueue: max_queued < 1");
        return NULL;
    }
    q = (TimeQueue *)type->tp_alloc(type, 0);
    if (q == NULL)
        return NULL;
    q->max_queued = max_queued;
    q->sorted = 1;
    return (PyObject *)q;
}

static void tq_dealloc(TimeQueue *q)
{
    Py_ssize_t k;
    for (k = q->head; k < q->head + q->len; k++)
        Py_DECREF(TQ_ITEM(q->v[k]));
    PyMem_Free(q->v);
    Py_TYPE(q)->tp_free((PyObject *)q);
}

static PyObject *tq_push(TimeQueue *q, PyObject *args)
{
    PyObject *times, *items, *out;
    Py_ssize_t n, k;
    if (!PyArg_ParseTuple(args, "O!O!O!:push", &PyList_Type, &times, &PyList_Type, &items, &PyList_Type, &out))
        return NULL;
    n = PyList_GET_SIZE(times);
    if (PyList_GET_SIZE(items) != n) {
        PyErr_SetString(PyExc_ValueError, "push: lists of different lengths");
        return NULL;
    }
    for (k = 0; k < n; k++) {
        PyObject *t = PyList_GET_ITEM(times, k), *item = PyList_GET_ITEM(items, k);
        uint64_t time = 0; /* None: delivered at once, as a time of 0 */
        if (t != Py_None && as_u64(t, &time) < 0) {
            PyErr_SetString(PyLong_Check(t) ? PyExc_OverflowError : PyExc_TypeError,
                            "push: a time that is not None or a u64 int");
            return NULL;
        }
        Py_INCREF(item);
        if (tq_add(q, time, item, out) < 0)
            return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *tq_py_finish_round(TimeQueue *q, PyObject *out)
{
    if (!PyList_Check(out)) {
        PyErr_SetString(PyExc_TypeError, "finish_round(out): a list");
        return NULL;
    }
    if (tq_finish_round(q, out) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *tq_finish(TimeQueue *q, PyObject *out)
{
    if (!PyList_Check(out)) {
        PyErr_SetString(PyExc_TypeError, "finish(out): a list");
        return NULL;
    }
    if (tq_flush(q, 0, 0, out) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *tq_len(TimeQueue *q, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(q->len);
}

static PyMethodDef tq_methods[] = {
    {"push", (PyCFunction)tq_push, METH_VARARGS, "push(times, items, out): OrderedQueue.push"},
    {"finish_round", (PyCFunction)tq_py_finish_round, METH_O, "finish_round(out): OrderedQueue.finish_round"},
    {"finish", (PyCFunction)tq_finish, METH_O, "finish(out): OrderedQueue.finish"},
    {"queued", (PyCFunction)tq_len, METH_NOARGS, "queued() -> the number of records queued"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef tq_members[] = {
    {"out_of_order", T_PYSSIZET, offsetof(TimeQueue, out_of_order), READONLY,
     "records older than what was delivered already (perf's nr_unordered_events)"},
    {"max_queued", T_PYSSIZET, offsetof(TimeQueue, max_queued), READONLY, "the half flush's threshold"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject TimeQueueType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyperf_probe.perfdata._speedups.TimeQueue",
    .tp_basicsize = sizeof(TimeQueue),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TimeQueue(max_queued=1 << 20): ordered.OrderedQueue's list interface in C (see the module's source).",
    .tp_new = tq_new,
    .tp_dealloc = (destructor)tq_dealloc,
    .tp_methods = tq_methods,
    .tp_members = tq_members,
};

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

#define TRAMPOLINE "__entry_SYSCALL_64_trampoline" /* symbols.kallsyms.ENTRY_TRAMPOLINE_NAME */

static signed char hex_value[256]; /* hex_digit of every byte, filled on first use */

static PyObject *kallsyms_columns(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    PyObject *result = NULL, *starts = NULL, *types = NULL, *nstarts = NULL, *nends = NULL;
    const unsigned char *p, *end;
    Py_ssize_t lines = 0, i = 0;
    int in_order = 1, trampoline = 0;
    uint64_t last = 0;

    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (hex_value['f'] == 0) {
        for (int c = 0; c < 256; c++)
            hex_value[c] = (signed char)hex_digit((unsigned char)c);
    }
    p = view.buf;
    end = p + view.len;
    if (view.len >= (Py_ssize_t)UINT32_MAX) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    for (const unsigned char *q = p; q < end; q++) { /* lines: the newlines, and a last line without one */
        q = memchr(q, '\n', (size_t)(end - q));
        if (q == NULL)
            break;
        lines++;
    }
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
            if (end - p > 16 && p[16] == ' ') { /* the usual 16 digits: no test of p < end a digit */
                for (; digits < 16 && (d = hex_value[p[digits]]) >= 0; digits++)
                    value = (value << 4) | (uint64_t)d;
                p += digits;
            }
            if (digits == 0 || p[0] != ' ') {
                while (p < end && (d = hex_value[*p]) >= 0) {
                    value = (value << 4) | (uint64_t)d;
                    digits++;
                    p++;
                }
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
            if (nl - name == (Py_ssize_t)sizeof(TRAMPOLINE) - 1 && memcmp(name, TRAMPOLINE, sizeof(TRAMPOLINE) - 1) == 0)
                trampoline = 1;
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
    result = Py_BuildValue("(OOOOOO)", starts, types, nstarts, nends, in_order ? Py_True : Py_False,
                           trampoline ? Py_True : Py_False);
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

/* --- inflate_zlib ------------------------------------------------------------------------------------- */

/* libdeflate (libdeflate.so.0), loaded on first use: its whole-buffer zlib inflate is 2-3x zlib's
 * (libc6-dbg's .debug_info: 2.3 MB -> 5.8 MB in 17 ms, zlib.decompress 41 ms). Not linked: where it is
 * not installed, inflate_zlib gives None and the caller uses zlib. */
typedef void *(*deflate_alloc_fn)(void);
typedef int (*deflate_zlib_fn)(void *, const void *, size_t, void *, size_t, size_t *);

static int deflate_state; /* 0: not tried, 1: loaded, -1: not there */
static void *deflate_decompressor;
static deflate_zlib_fn deflate_zlib;

static int deflate_load(void)
{
    if (deflate_state == 0) {
        void *lib = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL);
        deflate_alloc_fn alloc = lib != NULL ? (deflate_alloc_fn)dlsym(lib, "libdeflate_alloc_decompressor") : NULL;
        deflate_zlib = lib != NULL ? (deflate_zlib_fn)dlsym(lib, "libdeflate_zlib_decompress") : NULL;
        deflate_decompressor = alloc != NULL && deflate_zlib != NULL ? alloc() : NULL;
        deflate_state = deflate_decompressor != NULL ? 1 : -1;
    }
    return deflate_state > 0;
}

static PyObject *inflate_zlib(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t offset, size;
    PyObject *out = NULL;
    size_t got = 0;
    int rc;

    if (!PyArg_ParseTuple(args, "y*nn:inflate_zlib", &view, &offset, &size))
        return NULL;
    if (offset < 0 || offset > view.len || size < 0 || !deflate_load()) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    rc = deflate_zlib(deflate_decompressor, (const char *)view.buf + offset, (size_t)(view.len - offset),
                      PyBytes_AS_STRING(out), (size_t)size, &got);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (rc != 0 || got != (size_t)size) { /* LIBDEFLATE_SUCCESS is 0; anything else: zlib says what is wrong */
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
}

/* --- cplus_demangle ----------------------------------------------------------------------------------- */

/* libiberty's cplus_demangle, as perf 6.1 calls it (symbols/demangle.py). Linked in from libiberty's static
 * archive when setup.py finds it (Debian's libiberty-dev; PYPERF_LIBIBERTY): perf 6.1 links the same archive
 * (HAVE_CPLUS_DEMANGLE_SUPPORT), and its symbols are not exported from this module (--exclude-libs). Else
 * the copy exported by binutils' shared libbfd, dlopen'ed here by the path the caller found: ~0.6 ms and
 * ~1 MiB of mapped library for the first cold report of a C++ program (make.data's cc1), which the linked
 * copy saves. The same call through ctypes costs that report its import of ctypes (~4 ms of ~90) and a ctypes
 * call a name; demangle.py keeps the ctypes path for a build without this accelerator. */
typedef char *(*cplus_demangle_fn)(const char *, int);

static char *demangle_path;             /* the library dlopen'ed (strdup), NULL before */
static cplus_demangle_fn demangle_fn;

static PyObject *py_cplus_demangle(PyObject *Py_UNUSED(module), PyObject *args)
{
    const char *path;
    PyObject *names, *out;
    int flags;
    Py_ssize_t i, n;

    if (!PyArg_ParseTuple(args, "sO!i:cplus_demangle", &path, &PyList_Type, &names, &flags))
        return NULL;
    if (path[0] == '\0') {             /* the linked copy */
#ifdef PYPERF_LIBIBERTY
        demangle_fn = cplus_demangle;
        free(demangle_path);
        demangle_path = strdup("");
#else
        PyErr_SetString(PyExc_OSError, "cplus_demangle: libiberty is not linked in");
        return NULL;
#endif
    } else if (demangle_path == NULL || strcmp(demangle_path, path) != 0) {
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        cplus_demangle_fn fn = lib != NULL ? (cplus_demangle_fn)dlsym(lib, "cplus_demangle") : NULL;
        if (fn == NULL) {
            PyErr_Format(PyExc_OSError, "%s: no cplus_demangle", path);
            return NULL;
        }
        free(demangle_path);
        demangle_path = strdup(path);
        demangle_fn = fn;
    }
    n = PyList_GET_SIZE(names);
    out = PyList_New(n);
    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *name = PyList_GET_ITEM(names, i), *got;
        char *text;
        if (!PyBytes_Check(name)) {
            Py_DECREF(out);
            PyErr_SetString(PyExc_TypeError, "cplus_demangle: names must be bytes");
            return NULL;
        }
        text = demangle_fn(PyBytes_AS_STRING(name), flags);
        if (text == NULL) {
            got = Py_None;
            Py_INCREF(got);
        } else {
            got = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
            free(text);
            if (got == NULL) {
                Py_DECREF(out);
                return NULL;
            }
        }
        PyList_SET_ITEM(out, i, got);
    }
    return out;
}


/* --- malloc_mmap_threshold ----------------------------------------------------------------------------- */

/* malloc_mmap_threshold(nbytes) -> bool: glibc's mallopt(M_MMAP_THRESHOLD, nbytes), which also turns off its
 * dynamic threshold. glibc serves blocks of 128 KiB and more with their own mmap and unmaps them when freed,
 * but the first such free raises the threshold to that block's size, and later blocks below it come from the
 * brk heap, where freed pages stay resident when anything lives above them. A report's large blocks are
 * short-lived (a symbol table's sections, columns and sort scratch; key arrays; dict tables while they grow):
 * a cold report of make.data ended with 6.0 MiB of heap resident against 3.3 warm, and its peak RSS was
 * 0.4-0.7 MiB higher for it (perfdata/speedups.py large_blocks_unmapped sets it while a symbol table is read,
 * and a threshold above the reader's chunks after). False where mallopt is not glibc's. */
static PyObject *malloc_mmap_threshold(PyObject *Py_UNUSED(module), PyObject *arg)
{
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
#ifdef M_MMAP_THRESHOLD
    return PyBool_FromLong(n > 0 && n <= INT_MAX && mallopt(M_MMAP_THRESHOLD, (int)n) == 1);
#else
    return PyBool_FromLong(0);
#endif
}

static PyMethodDef speedups_methods[] = {
    {"run_extremes", (PyCFunction)run_extremes, METH_O,
     "run_extremes(times) -> (low, high, in_order) or None (see the module's source)"},
    {"time_cut", (PyCFunction)time_cut, METH_VARARGS,
     "time_cut(times, items, limit) -> (delivered, rest_times, rest_items, last) (see the module's source)"},
    {"time_order", (PyCFunction)time_order, METH_VARARGS,
     "time_order(times, items) -> (times, items), stably sorted by time (see the module's source)"},
    {"kallsyms_columns", (PyCFunction)kallsyms_columns, METH_O,
     "kallsyms_columns(data) -> (starts, types, name_starts, name_ends, in_order) or None (see the source)"},
    {"inflate_zlib", (PyCFunction)inflate_zlib, METH_VARARGS,
     "inflate_zlib(data, offset, size) -> bytes or None: zlib.decompress(data[offset:]) when it is `size` bytes "
     "(see the source)"},
    {"cplus_demangle", (PyCFunction)py_cplus_demangle, METH_VARARGS,
     "cplus_demangle(library_path, names, flags) -> [str or None]: libiberty's cplus_demangle(name, flags) of "
     "each bytes name, from the library (libbfd) at library_path, or the copy linked in for \"\" "
     "(demangle_linked); OSError when there is none (see the source)"},
    {"malloc_mmap_threshold", (PyCFunction)malloc_mmap_threshold, METH_O,
     "malloc_mmap_threshold(nbytes) -> bool: mallopt(M_MMAP_THRESHOLD, nbytes), glibc's fixed threshold (see the "
     "source)"},
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
    if (PyType_Ready(&KeyScannerType) < 0 || PyType_Ready(&TimeQueueType) < 0)
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
    Py_INCREF(&TimeQueueType);
    if (PyModule_AddObject(module, "TimeQueue", (PyObject *)&TimeQueueType) < 0) {
        Py_DECREF(&TimeQueueType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddFunctions(module, speedups_unwind_methods) < 0 ||
        PyModule_AddFunctions(module, speedups_report_methods) < 0 ||
        PyModule_AddFunctions(module, speedups_script_methods) < 0 ||
        PyModule_AddFunctions(module, speedups_records_methods) < 0 || speedups_records_init(module) < 0 ||
        PyModule_AddFunctions(module, speedups_session_methods) < 0 ||
#ifdef PYPERF_LIBIBERTY
        PyModule_AddIntConstant(module, "demangle_linked", 1) < 0) {
#else
        PyModule_AddIntConstant(module, "demangle_linked", 0) < 0) {
#endif
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
