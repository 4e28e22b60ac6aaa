/* pyperf_probe.perfdata._speedups, the DWARF unwinder's loops (the contract of each function: its comment here, and _speedups.c's
 * module comment for the whole module). */
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


PyMethodDef speedups_unwind_methods[] = {
    {"unwind_run", (PyCFunction)unwind_run, METH_VARARGS,
     "unwind_run(stack, stack_avma, pc, rsp, rbp, plans, left, frames) -> (pc, rsp, rbp, left) (see the source)"},
    {"unwind_sample", (PyCFunction)unwind_sample, METH_VARARGS,
     "unwind_sample(values, ip_i, sp_i, bp_i, stack, plans, max_frames) -> (frames, stop) or None (see the source)"},
    {NULL, NULL, 0, NULL},
};
