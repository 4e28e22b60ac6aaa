/* pyperf_probe.perfdata._speedups, the DWARF unwinder's loops and the DIE walk of report's inline frames (the
 * contract of each function: its comment here, and _speedups.c's module comment for the whole module). */
#include "_speedups.h"

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

/* An int as u64 (0 on success; -1, the error cleared, for anything else). */
static int u64_of(PyObject *obj, uint64_t *out)
{
    if (!PyLong_Check(obj))
        return -1;
    *out = PyLong_AsUnsignedLongLong(obj);
    if (*out == (uint64_t)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

static int reg_at(PyObject *values, Py_ssize_t i, uint64_t *out)
{
    return u64_of(PyTuple_GET_ITEM(values, i), out);
}

/* The loop of unwind_sample over a copy of `len` bytes at `stack` (the copy starts at the sampled rsp): up to
 * `max_frames` pcs into `pcs` (the ip first, then ra - 1 per caller), their number in *n and the stop reason
 * in *stop (US_*). 1: done; 0: a frame the Python loop must take (a pc without its plan yet, a row other than
 * the common codes, or registers the values lack); -1: an error (set). */
/* A plan of `plans` decoded (code 0: an empty slot): count_dwarf_run's memo of the plans dict it was given
 * last (plan_memo_owner, held), so that a frame whose pc was seen costs no int object, dict look-up or
 * tuple decoding (a plans dict only gains entries: pc -> plan never changes once made). */
typedef struct {
    uint64_t pc;
    int64_t code, coff, roff, boff;
} PlanSlot;
#define PLAN_MEMO_BITS 12
static PlanSlot plan_memo[1 << PLAN_MEMO_BITS];
static PyObject *plan_memo_owner;

/* plan_memo, emptied unless it holds `plans`' plans. */
static PlanSlot *plan_memo_for(PyObject *plans)
{
    if (plan_memo_owner != plans) {
        memset(plan_memo, 0, sizeof(plan_memo));
        Py_XSETREF(plan_memo_owner, Py_NewRef(plans));
    }
    return plan_memo;
}

static int unwind_core(PyObject *values, Py_ssize_t ip_i, Py_ssize_t sp_i, Py_ssize_t bp_i, const unsigned char *stack,
                       Py_ssize_t len, PyObject *plans, Py_ssize_t max_frames, uint64_t *pcs, Py_ssize_t *n,
                       int *stop, PlanSlot *memo)
{
    uint64_t pc, rsp, rbp = 0, stack_avma;
    int rbp_known = 0;
    const int64_t limit = (int64_t)len - 8;
    Py_ssize_t left = max_frames - 1;

    *n = 0;
    *stop = 0;
    if (ip_i < 0 || sp_i < 0 || ip_i >= PyTuple_GET_SIZE(values) || sp_i >= PyTuple_GET_SIZE(values) ||
        bp_i >= PyTuple_GET_SIZE(values) || max_frames < 1 || reg_at(values, ip_i, &pc) < 0 ||
        reg_at(values, sp_i, &rsp) < 0)
        return 0; /* the Python path decides (missing registers, odd values) */
    if (bp_i >= 0) {
        if (reg_at(values, bp_i, &rbp) < 0)
            return 0;
        rbp_known = 1;
    }
    stack_avma = rsp;
    pcs[(*n)++] = pc;
    while (left > 0) {
        PyObject *key, *plan;
        PlanSlot *slot = memo != NULL ? &memo[(pc * 0x9E3779B97F4A7C15ULL) >> (64 - PLAN_MEMO_BITS)] : NULL;
        int64_t code, coff = 0, roff = 0, boff = 0;
        uint64_t cfa, addr, ra;
        left--;
        if (slot != NULL && slot->code != 0 && slot->pc == pc) {
            code = slot->code;
            coff = slot->coff;
            roff = slot->roff;
            boff = slot->boff;
        }
        else {
            key = PyLong_FromUnsignedLongLong(pc);
            if (key == NULL)
                return -1;
            plan = PyDict_GetItemWithError(plans, key); /* (borrowed: the dict keeps it) */
            Py_DECREF(key);
            if (plan == NULL)
                return PyErr_Occurred() ? -1 : 0; /* a pc without its plan yet: the Python loop makes it */
            if (!PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 4 || !PyLong_Check(PyTuple_GET_ITEM(plan, 0)))
                return 0;
            if (as_i64(PyTuple_GET_ITEM(plan, 0), &code) < 0)
                return -1;
            if (code >= PLAN_RSP && code <= PLAN_RBP &&
                (as_i64(PyTuple_GET_ITEM(plan, 1), &coff) < 0 || as_i64(PyTuple_GET_ITEM(plan, 2), &roff) < 0 ||
                 as_i64(PyTuple_GET_ITEM(plan, 3), &boff) < 0))
                return -1;
            if (slot != NULL && code >= PLAN_RSP && code <= PLAN_NO_CFI) {
                slot->pc = pc;
                slot->code = code;
                slot->coff = coff;
                slot->roff = roff;
                slot->boff = boff;
            }
        }
        if (code == PLAN_ROOT) {
            *stop = US_ROOT;
            return 1;
        }
        if (code == PLAN_NO_CFI) {
            *stop = US_NO_CFI;
            return 1;
        }
        if (code < PLAN_RSP || code > PLAN_RBP)
            return 0; /* any other row */
        if (code == PLAN_RBP) {
            if (!rbp_known) {
                *stop = US_UNSUPPORTED;
                return 1;
            }
            cfa = rbp + (uint64_t)coff;
        }
        else
            cfa = rsp + (uint64_t)coff;
        addr = cfa + (uint64_t)roff;
        if (!in_copy(addr, stack_avma, limit)) {
            *stop = US_MEMORY; /* nothing but the copy is readable */
            return 1;
        }
        ra = load_u64(stack + (addr - stack_avma));
        if (code != PLAN_RSP) {
            addr = cfa + (uint64_t)boff;
            rbp_known = in_copy(addr, stack_avma, limit);
            if (rbp_known)
                rbp = load_u64(stack + (addr - stack_avma));
        }
        if (cfa <= rsp) {
            *stop = US_LOOP;
            return 1;
        }
        if (ra == 0) {
            *stop = US_ZERO;
            return 1;
        }
        pc = ra - 1;
        pcs[(*n)++] = pc;
        rsp = cfa;
    }
    *stop = US_MAX;
    return 1;
}

static PyObject *unwind_sample(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    PyObject *values, *plans, *result = NULL;
    uint64_t local[UNWIND_STACK_FRAMES], *pcs = local;
    Py_ssize_t ip_i, sp_i, bp_i, max_frames, n = 0, i;
    int stop = 0, got;

    if (!PyArg_ParseTuple(args, "O!nnny*O!n:unwind_sample", &PyTuple_Type, &values, &ip_i, &sp_i, &bp_i, &view,
                          &PyDict_Type, &plans, &max_frames))
        return NULL;
    if (max_frames > UNWIND_STACK_FRAMES) {
        pcs = PyMem_Malloc(sizeof(uint64_t) * (size_t)max_frames);
        if (pcs == NULL) {
            PyBuffer_Release(&view);
            return PyErr_NoMemory();
        }
    }
    got = unwind_core(values, ip_i, sp_i, bp_i, view.buf, view.len, plans, max_frames, pcs, &n, &stop, NULL);
    if (got == 0)
        result = Py_NewRef(Py_None);
    else if (got > 0) {
        PyObject *frames = PyTuple_New(n);
        for (i = 0; frames != NULL && i < n; i++) {
            PyObject *item = PyLong_FromUnsignedLongLong(pcs[i]);
            if (item == NULL)
                Py_CLEAR(frames);
            else
                PyTuple_SET_ITEM(frames, i, item);
        }
        if (frames != NULL)
            result = Py_BuildValue("(Ni)", frames, stop);
    }
    if (pcs != local)
        PyMem_Free(pcs);
    PyBuffer_Release(&view);
    return result;
}

/* --- count_dwarf_run (session.counts._count_samples's loop over DWARF samples) ------------------------ */

/* count_dwarf_run(batch, start, sample_type, threads, ctx, cache, order) -> (index, counted, key)
 *     Counts the samples of the list `batch` from `start` whose resolution is cached: a sample of type
 *     `sample_type` (perfdata.sample.Sample: a tuple, fields at the SF_* indices) is keyed when it is
 *     user-mode (misc & 7 == PERF_RECORD_MISC_USER) with pid, tid, ip and period, RAW None or bytes, a chain of
 *     user addresses only (PERF_CONTEXT_USER the only marker), REGS_USER of the 64-bit ABI with the mask
 *     ctx[3] and at least ctx[7] values, a non-empty STACK_USER, a thread `threads[tid]` whose pid is not -1
 *     and whose maps are ctx[0] at generation ctx[1], and unwind_sample's loop (registers at ctx[4..6],
 *     plans ctx[2], at most ctx[8] frames, over the copy less its last byte: dwarf_unwind.perf_copy) ends
 *     its chain without the Python loop (any stop but MEMORY and UNSUPPORTED; ZERO gets perf's 0 - 1
 *     frame, as DwarfUnwinder.__call__). Its key is the bytes of the u64s evsel, misc, tid, ip, period,
 *     the chain's length and entries, the unwound chain's length and pcs, RAW's length + 1 (0: None), then
 *     RAW's bytes. A key in `cache` holds
 *     (group value, order item): the value (a list [period sum, count, ...]) gets the sample's period
 *     and count, `order` (unless None) the item. Stops at the first record that is not such a hit:
 *     returns its index (len(batch) at the end), the samples counted, and its key (None: not keyed). The
 *     caller resolves that record as before and caches the key's answer; session.counts._py_count_dwarf_run
 *     is the Python twin. */
#define SF_EVSEL 0
#define SF_MISC 1
#define SF_PID 3
#define SF_TID 4
#define SF_IP 5
#define SF_PERIOD 6
#define SF_CALLCHAIN 8
#define SF_RAW 9
#define SF_REGS_USER 15
#define SF_STACK_USER 16
#define MISC_USER 2
#define REGS_ABI_64 2
#define CONTEXT_USER 0xFFFFFFFFFFFFFE00ULL
#define CONTEXT_MAX 0xFFFFFFFFFFFFF001ULL

static PyObject *str_pid, *str_maps, *str_generation;

static int i64_of(PyObject *obj, int64_t *out)
{
    int overflow;
    if (!PyLong_Check(obj))
        return -1;
    *out = PyLong_AsLongLongAndOverflow(obj, &overflow);
    if (overflow || (*out == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return -1;
    }
    return 0;
}

/* Is the object's attribute `name` the object `want` (same) / equal to it? 1 yes, 0 no, -1 error. */
static int attr_equals(PyObject *obj, PyObject *name, PyObject *want, int same)
{
    PyObject *got = PyObject_GetAttr(obj, name);
    int rc;
    if (got == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    rc = same ? got == want : PyObject_RichCompareBool(got, want, Py_EQ);
    Py_DECREF(got);
    return rc;
}

/* The key of one sample (a new bytes object), Py_None (a new reference) when the sample is not keyed, NULL on
 * an error. `pcs` has room for max_frames + 1 pcs. */
static PyObject *dwarf_key(PyObject *rec, PyObject *threads, PyObject *ctx, uint64_t *pcs, Py_ssize_t max_frames,
                           PyObject *minus_one)
{
    PyObject *callchain = PyTuple_GET_ITEM(rec, SF_CALLCHAIN), *regs = PyTuple_GET_ITEM(rec, SF_REGS_USER);
    PyObject *stack_obj = PyTuple_GET_ITEM(rec, SF_STACK_USER), *raw = PyTuple_GET_ITEM(rec, SF_RAW), *values;
    PyObject *thread, *key;
    Py_ssize_t nraw = raw == Py_None ? 0 : PyBytes_GET_SIZE(raw);
    uint64_t misc, ip, period, abi, v, *out;
    int64_t evsel, tid;
    Py_ssize_t nchain = 0, n = 0, i, ip_i, sp_i, bp_i, needed;
    Py_buffer view;
    int stop, got, rc;

    if (i64_of(PyTuple_GET_ITEM(rec, SF_EVSEL), &evsel) < 0 || u64_of(PyTuple_GET_ITEM(rec, SF_MISC), &misc) < 0 ||
        (misc & 7) != MISC_USER || !PyLong_Check(PyTuple_GET_ITEM(rec, SF_PID)) ||
        i64_of(PyTuple_GET_ITEM(rec, SF_TID), &tid) < 0 || u64_of(PyTuple_GET_ITEM(rec, SF_IP), &ip) < 0 ||
        u64_of(PyTuple_GET_ITEM(rec, SF_PERIOD), &period) < 0 || (raw != Py_None && !PyBytes_Check(raw)))
        Py_RETURN_NONE;
    if (callchain != Py_None) {
        if (!PyTuple_Check(callchain))
            Py_RETURN_NONE;
        nchain = PyTuple_GET_SIZE(callchain);
        for (i = 0; i < nchain; i++)
            if (u64_of(PyTuple_GET_ITEM(callchain, i), &v) < 0 || (v >= CONTEXT_MAX && v != CONTEXT_USER))
                Py_RETURN_NONE; /* a kernel part may load the kernel: the Python path's */
    }
    if (!PyTuple_Check(regs) || PyTuple_GET_SIZE(regs) != 3 || u64_of(PyTuple_GET_ITEM(regs, 0), &abi) < 0 ||
        abi != REGS_ABI_64 || !PyTuple_Check(PyTuple_GET_ITEM(regs, 2)))
        Py_RETURN_NONE;
    rc = PyObject_RichCompareBool(PyTuple_GET_ITEM(regs, 1), PyTuple_GET_ITEM(ctx, 3), Py_EQ);
    if (rc <= 0)
        return rc < 0 ? NULL : Py_NewRef(Py_None);
    values = PyTuple_GET_ITEM(regs, 2);
    ip_i = PyLong_AsSsize_t(PyTuple_GET_ITEM(ctx, 4));
    sp_i = PyLong_AsSsize_t(PyTuple_GET_ITEM(ctx, 5));
    bp_i = PyLong_AsSsize_t(PyTuple_GET_ITEM(ctx, 6));
    needed = PyLong_AsSsize_t(PyTuple_GET_ITEM(ctx, 7));
    if (PyErr_Occurred())
        return NULL;
    if (PyTuple_GET_SIZE(values) < needed || stack_obj == Py_None || !PyObject_CheckBuffer(stack_obj))
        Py_RETURN_NONE;
    {
        PyObject *key_tid = PyTuple_GET_ITEM(rec, SF_TID);
        thread = PyDict_GetItemWithError(threads, key_tid);
        if (thread == NULL)
            return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    rc = attr_equals(thread, str_pid, minus_one, 0);
    if (rc != 0)
        return rc < 0 ? NULL : Py_NewRef(Py_None);
    {
        PyObject *maps = PyObject_GetAttr(thread, str_maps);
        if (maps == NULL)
            return NULL;
        rc = maps == PyTuple_GET_ITEM(ctx, 0) ? attr_equals(maps, str_generation, PyTuple_GET_ITEM(ctx, 1), 0) : 0;
        Py_DECREF(maps);
        if (rc <= 0)
            return rc < 0 ? NULL : Py_NewRef(Py_None);
    }
    if (PyObject_GetBuffer(stack_obj, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if (view.len < 1) {
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    got = unwind_core(values, ip_i, sp_i, bp_i, view.buf, view.len - 1, PyTuple_GET_ITEM(ctx, 2), max_frames, pcs,
                      &n, &stop, plan_memo_for(PyTuple_GET_ITEM(ctx, 2)));
    PyBuffer_Release(&view);
    if (got < 0)
        return NULL;
    if (got == 0 || stop == US_MEMORY || stop == US_UNSUPPORTED)
        Py_RETURN_NONE; /* DwarfUnwinder's Python loop reads the words perf reads outside the copy */
    if (stop == US_ZERO)
        pcs[n++] = (uint64_t)-1; /* dwarf_unwind.PERF_ZERO_FRAME */
    key = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(uint64_t) * (8 + nchain + n) + nraw);
    if (key == NULL)
        return NULL;
    out = (uint64_t *)PyBytes_AS_STRING(key);
    *out++ = (uint64_t)evsel;
    *out++ = misc;
    *out++ = (uint64_t)tid;
    *out++ = ip;
    *out++ = period;
    *out++ = (uint64_t)nchain;
    for (i = 0; i < nchain; i++)
        (void)u64_of(PyTuple_GET_ITEM(callchain, i), out++);
    *out++ = (uint64_t)n;
    memcpy(out, pcs, sizeof(uint64_t) * (size_t)n);
    out += n;
    *out++ = raw == Py_None ? 0 : (uint64_t)nraw + 1;
    if (nraw)
        memcpy(out, PyBytes_AS_STRING(raw), (size_t)nraw);
    return key;
}

static PyObject *count_dwarf_run(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *batch, *sample_type, *threads, *ctx, *cache, *order, *key = NULL, *minus_one = NULL, *one = NULL;
    Py_ssize_t start, i, counted = 0, max_frames = 0, nbatch;
    uint64_t local[UNWIND_STACK_FRAMES + 1], *pcs = local;
    int keyed;

    if (!PyArg_ParseTuple(args, "O!nOO!O!O!O:count_dwarf_run", &PyList_Type, &batch, &start, &sample_type,
                          &PyDict_Type, &threads, &PyTuple_Type, &ctx, &PyDict_Type, &cache, &order))
        return NULL;
    if (order != Py_None && !PyList_Check(order)) {
        PyErr_SetString(PyExc_TypeError, "count_dwarf_run: order must be a list or None");
        return NULL;
    }
    if (str_pid == NULL && ((str_pid = PyUnicode_InternFromString("pid")) == NULL ||
                            (str_maps = PyUnicode_InternFromString("maps")) == NULL ||
                            (str_generation = PyUnicode_InternFromString("generation")) == NULL))
        return NULL;
    keyed = PyTuple_GET_SIZE(ctx) >= 9 && PyTuple_GET_ITEM(ctx, 0) != Py_None && PyDict_Check(PyTuple_GET_ITEM(ctx, 2));
    if (keyed) {
        max_frames = PyLong_AsSsize_t(PyTuple_GET_ITEM(ctx, 8));
        if (max_frames == -1 && PyErr_Occurred())
            return NULL;
        keyed = max_frames >= 1;
    }
    if (keyed && max_frames > UNWIND_STACK_FRAMES) {
        pcs = PyMem_Malloc(sizeof(uint64_t) * (size_t)(max_frames + 1));
        if (pcs == NULL)
            return PyErr_NoMemory();
    }
    minus_one = PyLong_FromLong(-1);
    one = PyLong_FromLong(1);
    if (minus_one == NULL || one == NULL)
        goto error;
    nbatch = PyList_GET_SIZE(batch);
    for (i = start < 0 ? 0 : start; i < nbatch; i++) {
        PyObject *rec = PyList_GET_ITEM(batch, i), *hit, *value, *sum, *count, *period;
        if ((PyObject *)Py_TYPE(rec) != sample_type || !keyed || PyTuple_GET_SIZE(rec) <= SF_STACK_USER)
            break;
        key = dwarf_key(rec, threads, ctx, pcs, max_frames, minus_one);
        if (key == NULL)
            goto error;
        if (key == Py_None)
            break;
        hit = PyDict_GetItemWithError(cache, key);
        if (hit == NULL) {
            if (PyErr_Occurred())
                goto error;
            break;
        }
        Py_CLEAR(key);
        if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 2 || !PyList_Check(PyTuple_GET_ITEM(hit, 0)) ||
            PyList_GET_SIZE(PyTuple_GET_ITEM(hit, 0)) < 2) {
            PyErr_SetString(PyExc_TypeError, "count_dwarf_run: a cache value is not (group value, order item)");
            goto error;
        }
        value = PyTuple_GET_ITEM(hit, 0);
        period = PyTuple_GET_ITEM(rec, SF_PERIOD);
        sum = PyNumber_Add(PyList_GET_ITEM(value, 0), period);
        if (sum == NULL)
            goto error;
        count = PyNumber_Add(PyList_GET_ITEM(value, 1), one);
        if (count == NULL) {
            Py_DECREF(sum);
            goto error;
        }
        PyList_SetItem(value, 0, sum); /* (steal the new sums) */
        PyList_SetItem(value, 1, count);
        if (order != Py_None && PyList_Append(order, PyTuple_GET_ITEM(hit, 1)) < 0)
            goto error;
        counted++;
    }
    if (key == NULL)
        key = Py_NewRef(Py_None);
    Py_DECREF(minus_one);
    Py_DECREF(one);
    if (pcs != local)
        PyMem_Free(pcs);
    return Py_BuildValue("(nnN)", i, counted, key);
error:
    Py_XDECREF(key);
    Py_XDECREF(minus_one);
    Py_XDECREF(one);
    if (pcs != local)
        PyMem_Free(pcs);
    return NULL;
}


/* --- dwarf_walk (symbols.dwarf.scan.UnitScanner._walk's loop) ----------------------------------------- */

/* dwarf_walk(info, pos, end, abbrevs) -> list | None
 *     The DIE walk of one unit's DIEs (DWARFv5 7.5.2) from `pos` while pos < end: `abbrevs[code]` is None
 *     or the bytes of an abbreviation: kind u8 (0 any DIE, 1 a subprogram or inlined subroutine, 2 the
 *     compile unit), has-children u8, the attributes' fixed size as i32 (-1: some form is variable), the
 *     form count u16 and the forms, u16 each (0xFFFF: a form this walk does not know). The walk skips
 *     every DIE's attributes by their forms (FIXED_FORM_SIZES, the LEB128 forms, DW_FORM_string, the
 *     blocks and exprloc) and gives, for each DIE of kind 1 or 2 in DIE order, four ints in one flat list:
 *     its offset, its code, the offset of its attributes and the index (among the DIEs of kind 1 before
 *     it) of the kind-1 DIE that encloses it, -1 at the top. None, with nothing done, at anything the
 *     Python walk would raise at or read otherwise: a code without an abbreviation, an unknown form, a
 *     read past the end of `info`, a LEB128 of more than 63 bits; that walk then reads the unit. */
#define DW_KIND_FUNC 1
#define DW_KIND_UNIT 2

static int dw_uleb(const unsigned char *buf, Py_ssize_t len, Py_ssize_t *pos, uint64_t *out)
{
    uint64_t result = 0;
    int shift = 0;
    while (*pos < len) {
        unsigned char byte = buf[(*pos)++];
        if (shift > 56 && (byte & 0x7F) >> (63 - shift))
            return -1;
        result |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            *out = result;
            return 0;
        }
        shift += 7;
        if (shift > 63)
            return -1;
    }
    return -1;
}

/* The size of a fixed-size form (FIXED_FORM_SIZES), -1 for any other. */
static int dw_fixed_size(unsigned form)
{
    switch (form) {
    case 0x19: case 0x21: return 0;                                             /* flag_present, implicit_const */
    case 0x0B: case 0x0C: case 0x11: case 0x25: case 0x29: return 1;
    case 0x05: case 0x12: case 0x26: case 0x2A: return 2;
    case 0x27: case 0x2B: return 3;
    case 0x06: case 0x0E: case 0x10: case 0x13: case 0x17: case 0x1C: case 0x1D: case 0x1F: case 0x28:
    case 0x2C: return 4;
    case 0x01: case 0x07: case 0x14: case 0x20: case 0x24: return 8;
    case 0x1E: return 16;
    default: return -1;
    }
}

/* Skip one attribute of `form` at *pos (symbols.dwarf.scan._skip_form); -1 where that would raise. */
static int dw_skip_form(const unsigned char *buf, Py_ssize_t len, Py_ssize_t *pos, unsigned form)
{
    int size = dw_fixed_size(form);
    uint64_t n;
    if (size >= 0) {
        *pos += size;
        return 0;
    }
    switch (form) {
    case 0x0F: case 0x15: case 0x22: case 0x23: case 0x0D:   /* udata, ref_udata, loclistx, rnglistx, sdata */
        while (*pos < len && buf[*pos] & 0x80)
            (*pos)++;
        if (*pos >= len)
            return -1;
        (*pos)++;
        return 0;
    case 0x08: {                                             /* string */
        const unsigned char *nul;
        if (*pos < 0 || *pos >= len)
            return -1;
        nul = memchr(buf + *pos, 0, (size_t)(len - *pos));
        if (nul == NULL)
            return -1;
        *pos = nul - buf + 1;
        return 0;
    }
    case 0x18: case 0x09:                                    /* exprloc, block */
        if (dw_uleb(buf, len, pos, &n) < 0 || n > (uint64_t)PY_SSIZE_T_MAX - (uint64_t)*pos)
            return -1;
        *pos += (Py_ssize_t)n;
        return 0;
    case 0x0A: case 0x03: case 0x04: {                       /* block1, block2, block4 */
        int width = form == 0x0A ? 1 : form == 0x03 ? 2 : 4, i;
        if (*pos < 0 || *pos + width > len)
            return -1;
        n = 0;
        for (i = 0; i < width; i++)
            n |= (uint64_t)buf[*pos + i] << (8 * i);
        *pos += width + (Py_ssize_t)n;
        return 0;
    }
    default:
        return -1;
    }
}

static int dw_append(PyObject *out, Py_ssize_t value)
{
    PyObject *item = PyLong_FromSsize_t(value);
    int rc = item == NULL ? -1 : PyList_Append(out, item);
    Py_XDECREF(item);
    return rc;
}

static PyObject *dwarf_walk(PyObject *Py_UNUSED(module), PyObject *args)
{
    Py_buffer view;
    PyObject *abbrevs, *out = NULL;
    Py_ssize_t pos, end, depth = 0, cap = 64, nfuncs = 0, current = -1;
    Py_ssize_t *stack = NULL;
    int bail = 0;

    if (!PyArg_ParseTuple(args, "y*nnO!:dwarf_walk", &view, &pos, &end, &PyList_Type, &abbrevs))
        return NULL;
    stack = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)cap);
    out = PyList_New(0);
    if (stack == NULL || out == NULL) {
        if (stack == NULL)
            PyErr_NoMemory();
        goto error;
    }
    {
        const unsigned char *buf = view.buf;
        const Py_ssize_t len = view.len;
        while (pos < end) {
            Py_ssize_t die_offset = pos, index, i;
            uint64_t code;
            PyObject *abbrev;
            const unsigned char *a;
            unsigned kind, children, nforms;
            int32_t fixed;
            if (pos < 0 || dw_uleb(buf, len, &pos, &code) < 0) {
                bail = 1;
                break;
            }
            if (code == 0) {
                if (depth == 0)
                    break;
                current = stack[--depth];
                continue;
            }
            if (code >= (uint64_t)PyList_GET_SIZE(abbrevs)) {
                bail = 1;
                break;
            }
            abbrev = PyList_GET_ITEM(abbrevs, (Py_ssize_t)code);
            if (!PyBytes_Check(abbrev) || PyBytes_GET_SIZE(abbrev) < 8) {
                bail = 1;
                break;
            }
            a = (const unsigned char *)PyBytes_AS_STRING(abbrev);
            kind = a[0];
            children = a[1];
            fixed = (int32_t)((uint32_t)a[2] | (uint32_t)a[3] << 8 | (uint32_t)a[4] << 16 | (uint32_t)a[5] << 24);
            nforms = (unsigned)a[6] | (unsigned)a[7] << 8;
            if (PyBytes_GET_SIZE(abbrev) < 8 + 2 * (Py_ssize_t)nforms) {
                bail = 1;
                break;
            }
            index = current;
            if (kind == DW_KIND_FUNC || kind == DW_KIND_UNIT) {
                if (dw_append(out, die_offset) < 0 || dw_append(out, (Py_ssize_t)code) < 0 ||
                    dw_append(out, pos) < 0 || dw_append(out, current) < 0)
                    goto error;
                if (kind == DW_KIND_FUNC)
                    index = nfuncs++;
            }
            if (fixed >= 0)
                pos += fixed;
            else
                for (i = 0; i < (Py_ssize_t)nforms; i++) {
                    unsigned form = (unsigned)a[8 + 2 * i] | (unsigned)a[9 + 2 * i] << 8;
                    if (form == 0xFFFF || dw_skip_form(buf, len, &pos, form) < 0) {
                        bail = 1;
                        break;
                    }
                }
            if (bail)
                break;
            if (children) {
                if (depth == cap) {
                    Py_ssize_t *grown = PyMem_Realloc(stack, sizeof(Py_ssize_t) * (size_t)(cap * 2));
                    if (grown == NULL) {
                        PyErr_NoMemory();
                        goto error;
                    }
                    stack = grown;
                    cap *= 2;
                }
                stack[depth++] = current;
                current = index;
            }
        }
    }
    PyMem_Free(stack);
    PyBuffer_Release(&view);
    if (bail) {
        Py_DECREF(out);
        Py_RETURN_NONE;
    }
    return out;
error:
    PyMem_Free(stack);
    Py_XDECREF(out);
    PyBuffer_Release(&view);
    return NULL;
}


PyMethodDef speedups_unwind_methods[] = {
    {"unwind_run", (PyCFunction)unwind_run, METH_VARARGS,
     "unwind_run(stack, stack_avma, pc, rsp, rbp, plans, left, frames) -> (pc, rsp, rbp, left) (see the source)"},
    {"unwind_sample", (PyCFunction)unwind_sample, METH_VARARGS,
     "unwind_sample(values, ip_i, sp_i, bp_i, stack, plans, max_frames) -> (frames, stop) or None (see the source)"},
    {"count_dwarf_run", (PyCFunction)count_dwarf_run, METH_VARARGS,
     "count_dwarf_run(batch, start, sample_type, threads, ctx, cache, order) -> (index, counted, key) (see the source)"},
    {"dwarf_walk", (PyCFunction)dwarf_walk, METH_VARARGS,
     "dwarf_walk(info, pos, end, abbrevs) -> list or None (see the source)"},
    {NULL, NULL, 0, NULL},
};
