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
    {"dwarf_walk", (PyCFunction)dwarf_walk, METH_VARARGS,
     "dwarf_walk(info, pos, end, abbrevs) -> list or None (see the source)"},
    {NULL, NULL, 0, NULL},
};
