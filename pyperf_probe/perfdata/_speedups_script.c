/* pyperf_probe.perfdata._speedups, script's loops (the contract of each function: its comment here, and _speedups.c's
 * module comment for the whole module). */
#include "_speedups.h"

/* --- a template's line, without PyUnicode_Format -------------------------------------------------------- */

/* The lines of a run are written into one buffer of ASCII bytes (LineBuf) and handed to Python as one str:
 * a template (report.script_text: its text with every '%' doubled, and the time's two conversions,
 * "%5d.%06d: ", "%5d.%09d: ", or "%.0s%.0s" for an event without time) is copied with "%%" made '%' and its
 * conversions printed as Python's % prints them for two non-negative ints (flags '-' and '0', a width, a
 * precision of 0 for %s). A template that is not ASCII, or has any other conversion, is formatted by
 * PyUnicode_Format (the buffer flushed first: the order of the lines stays). */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
} LineBuf;

static int linebuf_reserve(LineBuf *b, Py_ssize_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more)
        cap *= 2;
    char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

/* Append the buffer's text to `out` as one str and empty it. */
static int linebuf_flush(LineBuf *b, PyObject *out)
{
    PyObject *text;
    if (b->len == 0)
        return 0;
    text = PyUnicode_New(b->len, 127);
    if (text == NULL)
        return -1;
    memcpy(PyUnicode_1BYTE_DATA(text), b->data, (size_t)b->len);
    b->len = 0;
    if (PyList_Append(out, text) < 0) {
        Py_DECREF(text);
        return -1;
    }
    Py_DECREF(text);
    return 0;
}

/* template % (a, b) appended to the buffer: 1 done, 0 not a template this knows (nothing appended), -1 error. */
static int linebuf_format(LineBuf *b, PyObject *template, unsigned long long a, unsigned long long bb)
{
    const char *t;
    Py_ssize_t n, i, start;
    unsigned long long args[2];
    int used = 0;
    if (!PyUnicode_Check(template) || !PyUnicode_IS_ASCII(template))
        return 0;
    t = (const char *)PyUnicode_1BYTE_DATA(template);
    n = PyUnicode_GET_LENGTH(template);
    args[0] = a;
    args[1] = bb;
    /* every conversion adds at most 24 bytes beyond the template's own length */
    if (linebuf_reserve(b, n + 2 * 48) < 0)
        return -1;
    Py_ssize_t mark = b->len;
    i = 0;
    while (i < n) {
        const char *pct = memchr(t + i, '%', (size_t)(n - i));
        start = i;
        if (pct == NULL) {
            memcpy(b->data + b->len, t + start, (size_t)(n - start));
            b->len += n - start;
            break;
        }
        i = pct - t;
        memcpy(b->data + b->len, t + start, (size_t)(i - start));
        b->len += i - start;
        i++;
        if (i < n && t[i] == '%') {
            b->data[b->len++] = '%';
            i++;
            continue;
        }
        {
            int left = 0, zero = 0, width = 0, prec = -1;
            char digits[24];
            int nd = 0;
            unsigned long long v;
            while (i < n && (t[i] == '-' || t[i] == '0')) {
                if (t[i] == '-')
                    left = 1;
                else
                    zero = 1;
                i++;
            }
            while (i < n && t[i] >= '0' && t[i] <= '9' && width < 1000)
                width = width * 10 + (t[i++] - '0');
            if (i < n && t[i] == '.') {
                prec = 0;
                i++;
                while (i < n && t[i] >= '0' && t[i] <= '9' && prec < 1000)
                    prec = prec * 10 + (t[i++] - '0');
            }
            if (i >= n || used >= 2 || width > 40) {
                b->len = mark;
                return 0;
            }
            v = args[used++];
            if (t[i] == 's' && prec == 0) { /* "%.0s": nothing (width pads the empty text) */
                nd = 0;
            } else if (t[i] == 'd' && prec < 0) {
                do {
                    digits[nd++] = (char)('0' + v % 10);
                    v /= 10;
                } while (v);
            } else {
                b->len = mark;
                return 0;
            }
            i++;
            if (left) {
                int k;
                for (k = nd - 1; k >= 0; k--)
                    b->data[b->len++] = digits[k];
                for (k = nd; k < width; k++)
                    b->data[b->len++] = ' ';
            } else {
                int k;
                char pad = (zero && t[i - 1] == 'd') ? '0' : ' ';
                for (k = nd; k < width; k++)
                    b->data[b->len++] = pad;
                for (k = nd - 1; k >= 0; k--)
                    b->data[b->len++] = digits[k];
            }
        }
    }
    if (used != 2) { /* (Python's % would refuse: "not all arguments converted") */
        b->len = mark;
        return 0;
    }
    return 1;
}

/* The text of a template without conversions (every '%' doubled) appended to the buffer, "%%" made '%': 1
 * done, 0 not ASCII or holding a conversion (nothing appended), -1 error. */
static int linebuf_literal(LineBuf *b, PyObject *text)
{
    const char *t;
    Py_ssize_t n, i = 0, mark = b->len;
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text))
        return 0;
    t = (const char *)PyUnicode_1BYTE_DATA(text);
    n = PyUnicode_GET_LENGTH(text);
    if (linebuf_reserve(b, n) < 0)
        return -1;
    while (i < n) {
        const char *pct = memchr(t + i, '%', (size_t)(n - i));
        Py_ssize_t stop = pct == NULL ? n : pct - t;
        memcpy(b->data + b->len, t + i, (size_t)(stop - i));
        b->len += stop - i;
        if (pct == NULL)
            break;
        if (stop + 1 >= n || t[stop + 1] != '%') {
            b->len = mark;
            return 0;
        }
        b->data[b->len++] = '%';
        i = stop + 2;
    }
    return 1;
}

/* A sample's text, template % (time // 10**9, time % 10**9 // divisor), written to the buffer (or, for a
 * template LineBuf does not know, formatted by PyUnicode_Format and appended to `out` after the buffer's
 * text); nothing for "". 0, or -1 with an exception. */
static int emit_line(LineBuf *buf, PyObject *out, PyObject *template, unsigned long long time,
                     unsigned long long divisor)
{
    PyObject *numbers, *line;
    int done;
    if (PyUnicode_Check(template) && PyUnicode_GET_LENGTH(template) == 0)
        return 0;
    done = linebuf_format(buf, template, time / 1000000000ULL, time % 1000000000ULL / divisor);
    if (done != 0)
        return done < 0 ? -1 : 0;
    if (linebuf_flush(buf, out) < 0)
        return -1;
    numbers = Py_BuildValue("(KK)", time / 1000000000ULL, time % 1000000000ULL / divisor);
    if (numbers == NULL)
        return -1;
    line = PyUnicode_Format(template, numbers);
    Py_DECREF(numbers);
    if (line == NULL)
        return -1;
    if (PyList_Append(out, line) < 0) {
        Py_DECREF(line);
        return -1;
    }
    Py_DECREF(line);
    return 0;
}

/* script_whole_run(items, memo, divisor, out, miss) -> dropped
 *     report.script_keys._Walk.run_whole's loop: for each pair (key, time) of `items`, the key's template is
 *     memo[key], or miss(key) for a key not kept (_Walk.miss_whole: it keeps what holds; None for a sample
 *     the reader drops, counted in the result); each sample's text, template % (time // 10**9,
 *     time % 10**9 // divisor), is appended to `out` (none for ""; consecutive texts as one str, LineBuf). */
static PyObject *script_whole_run(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *items, *memo, *out, *miss;
    Py_ssize_t i, n, dropped = 0;
    unsigned long long divisor;
    LineBuf buf = {NULL, 0, 0};
    if (!PyArg_ParseTuple(args, "O!O!KO!O:script_whole_run", &PyList_Type, &items, &PyDict_Type, &memo, &divisor,
                          &PyList_Type, &out, &miss))
        return NULL;
    if (divisor == 0) {
        PyErr_SetString(PyExc_ValueError, "script_whole_run: bad divisor");
        return NULL;
    }
    n = PyList_GET_SIZE(items);
    for (i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(items, i), *key, *template, *owned = NULL;
        unsigned long long time;
        int failed;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 || !PyLong_Check(PyTuple_GET_ITEM(pair, 1))) {
            PyErr_SetString(PyExc_TypeError, "script_whole_run: items are (key, time) pairs");
            goto error;
        }
        key = PyTuple_GET_ITEM(pair, 0);
        time = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(pair, 1));
        if (time == (unsigned long long)-1 && PyErr_Occurred())
            goto error;
        template = PyDict_GetItemWithError(memo, key); /* borrowed */
        if (template == NULL) {
            if (PyErr_Occurred())
                goto error;
            owned = template = PyObject_CallOneArg(miss, key);
            if (template == NULL)
                goto error;
            if (template == Py_None) {
                Py_DECREF(owned);
                dropped++;
                continue;
            }
        }
        failed = emit_line(&buf, out, template, time, divisor);
        Py_XDECREF(owned);
        if (failed)
            goto error;
    }
    if (linebuf_flush(&buf, out) < 0)
        goto error;
    PyMem_Free(buf.data);
    return PyLong_FromSsize_t(dropped);
error:
    PyMem_Free(buf.data);
    return NULL;
}

/* --- TracePlan (script section: traceevent.plan's plans of numbers and char arrays, printed in C) --------- */

/* TracePlan(end, pieces, fallback): a callable (raw, cpu=0) -> str printing what traceevent.plan's render
 * function `fallback` prints, for the plans whose pieces are all (plan.py makes the pieces; it is their twin;
 * a value is the field's unsigned little-endian `size` bytes at `offset` under an AND `mask`):
 *     (0, text)                                     literal text (ASCII)
 *     (1, offset, size, mask, sign_bits, cfmt)      a number: the value read as signed at sign_bits (0:
 *                                                   unsigned), printed as printf's cfmt ("%...lld" or
 *                                                   "%...llu/x/X/o": flags - 0 + space, a width)
 *     (2, offset, size)                             a char array: its bytes up to the first NUL
 *     (3, offset, size, mask)                       %p of a value: "(nil)" for 0, else 0x%llx
 *     (4, offset, size, mask, yes, no)              the text yes for a value other than 0, else no (ASCII)
 *     (5, offset, size, mask, fn, table, zero)      zero (ASCII) for a value of 0 unless zero is None, else
 *                                                   table[value] (a dict of texts), else fn(value) (which
 *                                                   fills the table: __print_flags, __print_symbolic)
 *     (6, offset, size, relative)                   __get_str: the string a __data_loc field of 2 or 4 bytes
 *                                                   locates (fields.dynamic_span, then its bytes up to NUL)
 *     (7, offset, size, mask, fn)                   fn(value) (%ps and the like: a kernel symbol's name, never
 *                                                   kept; the plan's `calls_out`: script_raw_run checks the
 *                                                   kernel's epoch around it)
 * In kinds 1, 3, 4, 5 and 7 `offset` may be a program (a tuple of ints; then size is 0): the value is computed
 * from fields and constants (traceevent.plan's PROG_*: postfix, on a stack of unsigned 64-bit values; its
 * Python twin is plan.eval_prog):
 *     1 offset size   a field's unsigned little-endian bytes (within `end`)
 *     2 value         a constant
 *     3 op            the operator PROG_OPS[op] of the two values on top (a, b: b on top): | & ^ || && < <= > >=
 *                     == != << >> - + * / %  (64-bit wrapping; shifts by b & 63; / and % by 0 give 0)
 *     4 / 5           !a / ~a
 *     6               c ? a : b of the three on top (c deepest)
 * A record shorter than `end`, a char array with a byte >= 0x80 (UTF-8 decoding with replacement) or a
 * text that is not ASCII is printed by `fallback(raw)`. */
typedef struct {
    int kind;                  /* 0 text, 1 number, 2 char array, 3 pointer, 4 ?: of texts, 5 names */
    Py_ssize_t offset, size;   /* the field's bytes (kind 0: the text's length) */
    uint64_t mask;
    int sign_bits;             /* kind 1 */
    int left, zero, plus, space, width; /* kind 1: cfmt parsed: flags - 0 + space, a width (no precision) */
    char conv;                 /* 'd', 'u', 'x', 'X', 'o' */
    PyObject *text, *other;    /* kind 0: the text; kind 4: yes, no; kind 5: zero (or NULL) (borrowed) */
    PyObject *fn, *table;      /* kind 5 (borrowed: `pieces` holds them); kind 7: fn */
    uint64_t *prog;            /* the value's program (see above), or NULL: the field's bytes */
    Py_ssize_t nprog;
} TracePiece;

typedef struct {
    PyObject_HEAD
    Py_ssize_t end;
    PyObject *pieces;   /* tuple of tuples */
    PyObject *fallback; /* the Python render function */
    Py_ssize_t n;
    TracePiece *parsed;
    int calls_out;      /* a piece calls Python (kind 7): it may change the kernel's epoch */
} TracePlanObject;

#define PROG_STACK 32

static void traceplan_dealloc(TracePlanObject *self)
{
    Py_ssize_t i;
    Py_XDECREF(self->pieces);
    Py_XDECREF(self->fallback);
    for (i = 0; self->parsed != NULL && i < self->n; i++)
        PyMem_Free(self->parsed[i].prog);
    PyMem_Free(self->parsed);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int ascii_text(PyObject *o)
{
    return o != NULL && PyUnicode_Check(o) && PyUnicode_IS_ASCII(o);
}

/* A program's ops read into t->prog, checked: known ops with their operands, fields within `end`, the stack
 * within PROG_STACK and one value left. 0 done, -1 not a program this knows. */
static int parse_prog(TracePiece *t, PyObject *prog, Py_ssize_t end)
{
    Py_ssize_t n = PyTuple_GET_SIZE(prog), k, depth = 0;
    t->prog = PyMem_Calloc((size_t)(n ? n : 1), sizeof(uint64_t));
    if (t->prog == NULL)
        return -1;
    t->nprog = n;
    for (k = 0; k < n; k++) {
        PyObject *o = PyTuple_GET_ITEM(prog, k);
        if (!PyLong_Check(o))
            return -1;
        t->prog[k] = PyLong_AsUnsignedLongLong(o);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            return -1;
        }
    }
    for (k = 0; k < n;) {
        uint64_t op = t->prog[k++];
        if (op == 1) {
            uint64_t offset, size;
            if (k + 2 > n)
                return -1;
            offset = t->prog[k++];
            size = t->prog[k++];
            if ((size != 1 && size != 2 && size != 4 && size != 8) || offset > (uint64_t)end ||
                offset + size > (uint64_t)end)
                return -1;
            depth++;
        } else if (op == 2) {
            if (k + 1 > n)
                return -1;
            k++;
            depth++;
        } else if (op == 3) {
            if (k + 1 > n || t->prog[k++] > 17 || depth < 2)
                return -1;
            depth--;
        } else if (op == 4 || op == 5) {
            if (depth < 1)
                return -1;
        } else if (op == 6) {
            if (depth < 3)
                return -1;
            depth -= 2;
        } else {
            return -1;
        }
        if (depth > PROG_STACK)
            return -1;
    }
    return depth == 1 ? 0 : -1;
}

static uint64_t read_le(const unsigned char *p, Py_ssize_t size);

/* The value of a checked program on the record d (which holds every field it reads: `end`). */
static uint64_t eval_prog(const uint64_t *prog, Py_ssize_t n, const unsigned char *d)
{
    uint64_t stack[PROG_STACK], a, b;
    Py_ssize_t k = 0;
    int sp = 0;
    while (k < n) {
        uint64_t op = prog[k++];
        switch (op) {
        case 1:
            stack[sp++] = read_le(d + prog[k], (Py_ssize_t)prog[k + 1]);
            k += 2;
            break;
        case 2:
            stack[sp++] = prog[k++];
            break;
        case 3:
            b = stack[--sp];
            a = stack[sp - 1];
            switch (prog[k++]) {
            case 0: a = a | b; break;
            case 1: a = a & b; break;
            case 2: a = a ^ b; break;
            case 3: a = (a || b) ? 1 : 0; break;
            case 4: a = (a && b) ? 1 : 0; break;
            case 5: a = a < b; break;
            case 6: a = a <= b; break;
            case 7: a = a > b; break;
            case 8: a = a >= b; break;
            case 9: a = a == b; break;
            case 10: a = a != b; break;
            case 11: a = a << (b & 63); break;
            case 12: a = a >> (b & 63); break;
            case 13: a = a - b; break;
            case 14: a = a + b; break;
            case 15: a = a * b; break;
            case 16: a = b ? a / b : 0; break;
            default: a = b ? a % b : 0; break;
            }
            stack[sp - 1] = a;
            break;
        case 4:
            stack[sp - 1] = stack[sp - 1] ? 0 : 1;
            break;
        case 5:
            stack[sp - 1] = ~stack[sp - 1];
            break;
        default: /* 6 */
            b = stack[--sp];
            a = stack[--sp];
            stack[sp - 1] = stack[sp - 1] ? a : b;
            break;
        }
    }
    return stack[0];
}

/* A number piece's value (before its mask): its program's, or its field's bytes. */
static inline uint64_t piece_value(const TracePiece *t, const unsigned char *d)
{
    return t->prog != NULL ? eval_prog(t->prog, t->nprog, d) : read_le(d + t->offset, t->size);
}

static PyObject *traceplan_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Py_ssize_t end, i, n;
    PyObject *pieces, *fallback;
    TracePlanObject *self;
    if (!PyArg_ParseTuple(args, "nO!O:TracePlan", &end, &PyTuple_Type, &pieces, &fallback))
        return NULL;
    self = (TracePlanObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    n = PyTuple_GET_SIZE(pieces);
    self->end = end;
    Py_INCREF(pieces);
    self->pieces = pieces;
    Py_INCREF(fallback);
    self->fallback = fallback;
    self->n = n;
    self->parsed = PyMem_Calloc((size_t)(n ? n : 1), sizeof(TracePiece));
    if (self->parsed == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    for (i = 0; i < n; i++) { /* checked once here, read without checks per record */
        PyObject *p = PyTuple_GET_ITEM(pieces, i);
        TracePiece *t = &self->parsed[i];
        Py_ssize_t len;
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) < 2 || !PyLong_Check(PyTuple_GET_ITEM(p, 0)))
            goto bad;
        len = PyTuple_GET_SIZE(p);
        t->kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(p, 0));
        if (t->kind == 0) {
            if (len != 2 || !ascii_text(PyTuple_GET_ITEM(p, 1)))
                goto bad;
            t->text = PyTuple_GET_ITEM(p, 1);
            t->size = PyUnicode_GET_LENGTH(t->text);
            continue;
        }
        if (t->kind < 1 || t->kind > 7 || len != (Py_ssize_t[]){0, 6, 3, 4, 6, 7, 4, 5}[t->kind] ||
            !PyLong_Check(PyTuple_GET_ITEM(p, 2)))
            goto bad;
        if (PyTuple_Check(PyTuple_GET_ITEM(p, 1)) && t->kind != 2 && t->kind != 6) {
            if (parse_prog(t, PyTuple_GET_ITEM(p, 1), end) < 0)
                goto bad;
            t->offset = 0;
            t->size = 8; /* (its checks below: a value of 8 bytes at 0) */
        } else if (!PyLong_Check(PyTuple_GET_ITEM(p, 1))) {
            goto bad;
        } else {
            t->offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(p, 1));
            t->size = PyLong_AsSsize_t(PyTuple_GET_ITEM(p, 2));
        }
        if (t->kind == 6) { /* (its own bounds: dynamic_span reads it only when the record holds it) */
            if (t->offset < 0 || (t->size != 2 && t->size != 4) || !PyLong_Check(PyTuple_GET_ITEM(p, 3)))
                goto bad;
            t->sign_bits = PyObject_IsTrue(PyTuple_GET_ITEM(p, 3)); /* (relative) */
            continue;
        }
        if (t->prog == NULL && (t->offset < 0 || t->size < 0 || t->offset + t->size > end))
            goto bad;
        if (t->kind == 2)
            continue;
        if (t->size != 1 && t->size != 2 && t->size != 4 && t->size != 8)
            goto bad;
        if (!PyLong_Check(PyTuple_GET_ITEM(p, 3)))
            goto bad;
        t->mask = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(p, 3));
        if (PyErr_Occurred())
            goto bad;
        if (t->kind == 4) {
            if (!ascii_text(PyTuple_GET_ITEM(p, 4)) || !ascii_text(PyTuple_GET_ITEM(p, 5)))
                goto bad;
            t->text = PyTuple_GET_ITEM(p, 4);
            t->other = PyTuple_GET_ITEM(p, 5);
        } else if (t->kind == 7) {
            t->fn = PyTuple_GET_ITEM(p, 4);
            if (!PyCallable_Check(t->fn))
                goto bad;
            self->calls_out = 1;
        } else if (t->kind == 5) {
            t->fn = PyTuple_GET_ITEM(p, 4);
            t->table = PyTuple_GET_ITEM(p, 5);
            t->other = PyTuple_GET_ITEM(p, 6) == Py_None ? NULL : PyTuple_GET_ITEM(p, 6);
            if (!PyCallable_Check(t->fn) || !PyDict_Check(t->table) || (t->other != NULL && !ascii_text(t->other)))
                goto bad;
        } else if (t->kind == 1) {
            const char *f;
            if (!PyLong_Check(PyTuple_GET_ITEM(p, 4)) || !PyBytes_Check(PyTuple_GET_ITEM(p, 5)))
                goto bad;
            t->sign_bits = (int)PyLong_AsLong(PyTuple_GET_ITEM(p, 4));
            f = PyBytes_AS_STRING(PyTuple_GET_ITEM(p, 5));
            if (t->sign_bits < 0 || t->sign_bits > 64 || *f++ != '%')
                goto bad;
            for (; *f == '-' || *f == '0' || *f == '+' || *f == ' '; f++) {
                if (*f == '-')
                    t->left = 1;
                else if (*f == '0')
                    t->zero = 1;
                else if (*f == '+')
                    t->plus = 1;
                else
                    t->space = 1;
            }
            for (; *f >= '0' && *f <= '9' && t->width <= 64; f++)
                t->width = t->width * 10 + (*f - '0');
            if (f[0] != 'l' || f[1] != 'l' || t->width > 64)
                goto bad;
            t->conv = f[2];
            if (f[3] != 0 || !(t->conv == 'd' || t->conv == 'u' || t->conv == 'x' || t->conv == 'X' ||
                               t->conv == 'o') || (t->conv != 'd' && t->sign_bits > 0))
                goto bad;
        }
    }
    return (PyObject *)self;
bad:
    Py_DECREF(self);
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "TracePlan: a piece it does not know");
    return NULL;
}

/* printf's text of one integer (flags - 0 + space, a width; conv d with a signed value, u x X o unsigned) into
 * `out` (room for at least 90 bytes); its length. */
static int format_int(char *out, const TracePiece *t, uint64_t v, int negative)
{
    char digits[24], sign = 0;
    int nd = 0, len = 0, pad, k;
    unsigned base = t->conv == 'o' ? 8 : (t->conv == 'x' || t->conv == 'X') ? 16 : 10;
    const char *alphabet = t->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    if (negative)
        sign = '-';
    else if (t->conv == 'd' && t->plus)
        sign = '+';
    else if (t->conv == 'd' && t->space)
        sign = ' ';
    do {
        digits[nd++] = alphabet[v % base];
        v /= base;
    } while (v);
    pad = t->width - nd - (sign ? 1 : 0);
    if (!t->left && !t->zero)
        for (k = 0; k < pad; k++)
            out[len++] = ' ';
    if (sign)
        out[len++] = sign;
    if (!t->left && t->zero)
        for (k = 0; k < pad; k++)
            out[len++] = '0';
    for (k = nd - 1; k >= 0; k--)
        out[len++] = digits[k];
    if (t->left)
        for (k = 0; k < pad; k++)
            out[len++] = ' ';
    return len;
}

static uint64_t read_le(const unsigned char *p, Py_ssize_t size)
{
    uint64_t v = 0;
    Py_ssize_t k;
    for (k = size - 1; k >= 0; k--)
        v = (v << 8) | p[k];
    return v;
}

#define TRACEPLAN_TEXT 2048 /* a longer text is the fallback's */

/* The fallback's text of the record d[:size] (`data`: the record as an object, or NULL: made here). */
static PyObject *traceplan_fallback(TracePlanObject *self, const unsigned char *d, Py_ssize_t size, PyObject *data)
{
    PyObject *made, *result;
    if (data != NULL)
        return PyObject_CallOneArg(self->fallback, data);
    made = PyBytes_FromStringAndSize((const char *)d, size);
    if (made == NULL)
        return NULL;
    result = PyObject_CallOneArg(self->fallback, made);
    Py_DECREF(made);
    return result;
}

/* The plan's text of the record d[:size] written to out (TRACEPLAN_TEXT bytes: ASCII), its length to *out_len:
 * 0; 1: the fallback prints this record; -1: an error. */
static int traceplan_fill(TracePlanObject *self, const unsigned char *d, Py_ssize_t size, char *out,
                          Py_ssize_t *out_len)
{
    Py_ssize_t i, len = 0;
    int fallback = 0;
    if (size < self->end)
        return 1;
    for (i = 0; i < self->n; i++) {
        const TracePiece *t = &self->parsed[i];
        if (t->kind == 0) {
            if (len + t->size > TRACEPLAN_TEXT) {
                fallback = 1;
                break;
            }
            memcpy(out + len, PyUnicode_1BYTE_DATA(t->text), (size_t)t->size);
            len += t->size;
        } else if (t->kind == 4 || t->kind == 5 || t->kind == 7) {
            uint64_t v = piece_value(t, d) & t->mask;
            PyObject *text, *made = NULL;
            Py_ssize_t k;
            if (t->kind == 4) {
                text = v ? t->text : t->other;
            } else if (t->kind == 7) {
                PyObject *key = PyLong_FromUnsignedLongLong(v);
                if (key == NULL)
                    goto error;
                text = made = PyObject_CallOneArg(t->fn, key);
                Py_DECREF(key);
                if (text == NULL)
                    goto error;
                if (!ascii_text(text)) {
                    Py_DECREF(made);
                    fallback = 1;
                    break;
                }
            } else if (v == 0 && t->other != NULL) {
                text = t->other;
            } else {
                PyObject *key = PyLong_FromUnsignedLongLong(v);
                if (key == NULL)
                    goto error;
                text = PyDict_GetItemWithError(t->table, key); /* borrowed */
                if (text == NULL) {
                    if (PyErr_Occurred()) {
                        Py_DECREF(key);
                        goto error;
                    }
                    text = made = PyObject_CallOneArg(t->fn, key);
                }
                Py_DECREF(key);
                if (text == NULL)
                    goto error;
                if (!ascii_text(text)) {
                    Py_XDECREF(made);
                    fallback = 1;
                    break;
                }
            }
            k = PyUnicode_GET_LENGTH(text);
            if (len + k > TRACEPLAN_TEXT) {
                Py_XDECREF(made);
                fallback = 1;
                break;
            }
            memcpy(out + len, PyUnicode_1BYTE_DATA(text), (size_t)k);
            len += k;
            Py_XDECREF(made);
        } else if (t->kind == 6) { /* fields.dynamic_span, then cstr(data[offset:]) when its length is not 0 */
            Py_ssize_t o, slen, off, k, j;
            const unsigned char *s, *nul;
            uint64_t v;
            if (t->offset + t->size > size)
                continue;
            v = read_le(d + t->offset, t->size);
            o = (Py_ssize_t)(v & 0xFFFF);
            slen = t->size == 2 ? size - o : (Py_ssize_t)((v >> 16) & 0xFFFF);
            off = o > size ? 0 : o;
            if (o + slen > size)
                slen = 0;
            if (t->sign_bits)
                off += t->offset + t->size;
            if (slen == 0 || off >= size)
                continue;
            s = d + off;
            nul = memchr(s, 0, (size_t)(size - off));
            k = nul != NULL ? nul - s : size - off;
            for (j = 0; j < k; j++)
                if (s[j] >= 0x80)
                    break;
            if (j < k || len + k > TRACEPLAN_TEXT) {
                fallback = 1;
                break;
            }
            memcpy(out + len, s, (size_t)k);
            len += k;
        } else if (t->kind == 2) {
            const unsigned char *s = d + t->offset;
            const unsigned char *nul = memchr(s, 0, (size_t)t->size);
            Py_ssize_t k = nul != NULL ? nul - s : t->size, j;
            for (j = 0; j < k; j++)
                if (s[j] >= 0x80) /* (UTF-8 decoding with replacement: the fallback's) */
                    break;
            if (j < k || len + k > TRACEPLAN_TEXT) {
                fallback = 1;
                break;
            }
            memcpy(out + len, s, (size_t)k);
            len += k;
        } else {
            uint64_t v = piece_value(t, d);
            if (len + 96 > TRACEPLAN_TEXT) {
                fallback = 1;
                break;
            }
            v &= t->mask;
            if (t->kind == 3) {
                len += v ? snprintf(out + len, 96, "0x%llx", (unsigned long long)v) : snprintf(out + len, 96, "(nil)");
            } else if (t->sign_bits > 0 && (v >> (t->sign_bits - 1)) & 1) { /* negative: its magnitude */
                uint64_t magnitude = t->sign_bits < 64 ? (((uint64_t)1) << t->sign_bits) - v : (uint64_t)0 - v;
                len += format_int(out + len, t, magnitude, 1);
            } else {
                len += format_int(out + len, t, v, 0);
            }
        }
    }
    *out_len = len;
    return fallback;
error:
    return -1;
}

/* The plan's text of the record d[:size] (`data`: the record as an object for the fallback, or NULL). */
static PyObject *traceplan_render(TracePlanObject *self, const unsigned char *d, Py_ssize_t size, PyObject *data)
{
    PyObject *result;
    char out[TRACEPLAN_TEXT];
    Py_ssize_t len = 0;
    int got = traceplan_fill(self, d, size, out, &len);
    if (got < 0)
        return NULL;
    if (got > 0)
        return traceplan_fallback(self, d, size, data);
    result = PyUnicode_New(len, 127);
    if (result != NULL)
        memcpy(PyUnicode_1BYTE_DATA(result), out, (size_t)len);
    return result;
}

static PyObject *traceplan_call(TracePlanObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *data, *cpu = NULL, *result;
    Py_buffer view;
    if (!PyArg_UnpackTuple(args, "TracePlan", 1, 2, &data, &cpu))
        return NULL;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    result = traceplan_render(self, (const unsigned char *)view.buf, view.len, data);
    PyBuffer_Release(&view);
    return result;
}

static PyObject *traceplan_get_fallback(TracePlanObject *self, void *closure)
{
    Py_INCREF(self->fallback);
    return self->fallback;
}

static PyGetSetDef traceplan_getset[] = {
    {"fallback", (getter)traceplan_get_fallback, NULL, "the Python render function this plan prints as", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TracePlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pyperf_probe.perfdata._speedups.TracePlan",
    .tp_basicsize = sizeof(TracePlanObject),
    .tp_dealloc = (destructor)traceplan_dealloc,
    .tp_call = (ternaryfunc)traceplan_call,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TracePlan(end, pieces, fallback): a plan's render function in C (see _speedups_script.c)",
    .tp_new = traceplan_new,
    .tp_getset = traceplan_getset,
};

/* The module's TracePlan type, made ready on first use (trace_plan_type()). */
static PyObject *trace_plan_type(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(args))
{
    if (PyType_Ready(&TracePlanType) < 0)
        return NULL;
    Py_INCREF(&TracePlanType);
    return (PyObject *)&TracePlanType;
}

/* --- script_raw_run (script section: report.script_keys' loop of tracepoint samples) -------------------- */

/* The heads script_raw_run makes itself (`fast`, from report.script_keys._Walk.fast_heads):
 *     (id_off, ip_off, pid_off, cpu_off, period_off, evsels, specs, threads, by_tid, locations, by_maps,
 *      thread_state, user_location, kernel_location)
 * byte offsets of the key's fixed fields (id_off, cpu_off -1: none; the tid follows the pid), evsels (dict id
 * -> event index), specs (per event: None, or (comm, pidtid, cpu, period, time, event, info, tails, tail_of):
 * what its head prints, ScriptPrinter.around_spec), machine.threads, Dependents.by_tid, FixedKeys.locations
 * (kernel ip -> location), Dependents.by_maps, machine.thread_state, user_location(thread, ip) and
 * kernel_location(ip) -> an ip's location (FixedKeys.resolve's; a kernel one kept in `locations`).
 * make_head is the C twin of _Walk.miss_raw's planned path (FixedKeys.resolve, then _miss_planned) for a key
 * whose event and thread (pid known) are found; anything else is left to Python. */
typedef struct {
    Py_ssize_t id_off, ip_off, pid_off, cpu_off, period_off;
    PyObject *evsels, *specs, *threads, *by_tid, *locations, *by_maps, *thread_state, *user_location;
    PyObject *kernel_location;
    PyObject *pid_name, *state_name, *comm_name, *maps_name, *newline;
} FastHeads;

/* The strings script_raw_run uses, made once (the module's for its lifetime). 0, or -1 with an exception. */
static PyObject *s_pid, *s_state, *s_comm, *s_maps, *s_newline, *s_pct, *s_pctpct, *s_epoch;

static int script_strings(void)
{
    if (s_epoch != NULL)
        return 0;
    s_pid = PyUnicode_InternFromString("pid");
    s_state = PyUnicode_InternFromString("state");
    s_comm = PyUnicode_InternFromString("comm");
    s_maps = PyUnicode_InternFromString("maps");
    s_newline = PyUnicode_FromString("\n");
    s_pct = PyUnicode_FromString("%");
    s_pctpct = PyUnicode_FromString("%%");
    s_epoch = PyUnicode_InternFromString("epoch");
    if (s_pid == NULL || s_state == NULL || s_comm == NULL || s_maps == NULL || s_newline == NULL || s_pct == NULL ||
        s_pctpct == NULL || s_epoch == NULL) {
        Py_CLEAR(s_epoch); /* (made again next time) */
        return -1;
    }
    return 0;
}

static int fastheads_init(FastHeads *f, PyObject *fast, Py_ssize_t at)
{
    memset(f, 0, sizeof(*f));
    if (fast == NULL || fast == Py_None)
        return 0;
    if (!PyArg_ParseTuple(fast, "nnnnnO!O!O!O!O!O!OOO:fast_heads", &f->id_off, &f->ip_off, &f->pid_off,
                          &f->cpu_off, &f->period_off, &PyDict_Type, &f->evsels, &PyList_Type, &f->specs,
                          &PyDict_Type, &f->threads, &PyDict_Type, &f->by_tid, &PyDict_Type, &f->locations,
                          &PyDict_Type, &f->by_maps, &f->thread_state, &f->user_location, &f->kernel_location))
        return -1;
    if (f->id_off < -1 || f->id_off + 8 > at || f->ip_off < 0 || f->ip_off + 8 > at || f->pid_off < 0 ||
        f->pid_off + 8 > at || f->cpu_off < -1 || f->cpu_off + 4 > at || f->period_off < 0 ||
        f->period_off + 8 > at) {
        PyErr_SetString(PyExc_ValueError, "script_raw_run: bad fast_heads offsets");
        return -1;
    }
    if (script_strings() < 0)
        return -1;
    f->pid_name = s_pid; /* (borrowed) */
    f->state_name = s_state;
    f->comm_name = s_comm;
    f->maps_name = s_maps;
    f->newline = s_newline;
    return 1;
}

static void fastheads_clear(FastHeads *f)
{
    memset(f, 0, sizeof(*f)); /* (nothing of its own: its strings are script_strings') */
}

#define HEAD_TEXT 512

/* The head of key kb (its part before RAW: head_key) made, kept in `heads` and noted in by_tid: a new
 * reference to the list [before, after, info, cpu, []]; NULL without an error: Python makes it; NULL with an
 * error: an error. */
static PyObject *make_head(FastHeads *f, const char *kb, PyObject *head_key, PyObject *heads, Py_ssize_t memo_limit)
{
    unsigned misc = (unsigned char)kb[0] | ((unsigned)(unsigned char)kb[1] << 8), cpumode = misc & 7;
    uint64_t id = 0, ip, period;
    int32_t pid, tid;
    uint32_t cpu = 0;
    PyObject *o, *evsel_obj, *spec, *thread, *state = NULL, *got, *after = NULL, *info, *head = NULL, *made = NULL;
    PyObject *before = NULL, *cpu_obj = NULL, *time_text, *event_text;
    char text[HEAD_TEXT];
    Py_ssize_t len = 0, evsel, k;
    long comm, pidtid, with_cpu, with_period;
    int user_maps = 0; /* Dependents.note_maps: a user-mode sample whose text prints its location */
    if (cpumode != 1 && cpumode != 2)
        return NULL;
    if (PyDict_GET_SIZE(heads) >= memo_limit)
        return NULL;
    if (f->id_off >= 0)
        memcpy(&id, kb + f->id_off, 8);
    o = PyLong_FromUnsignedLongLong(id);
    if (o == NULL)
        return NULL;
    evsel_obj = PyDict_GetItemWithError(f->evsels, o); /* borrowed */
    Py_DECREF(o);
    if (evsel_obj == NULL || !PyLong_Check(evsel_obj))
        return NULL;
    evsel = PyLong_AsSsize_t(evsel_obj);
    if (evsel < 0 || evsel >= PyList_GET_SIZE(f->specs)) {
        PyErr_Clear();
        return NULL;
    }
    spec = PyList_GET_ITEM(f->specs, evsel);
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 9)
        return NULL;
    comm = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    pidtid = PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
    with_cpu = PyLong_AsLong(PyTuple_GET_ITEM(spec, 2));
    with_period = PyLong_AsLong(PyTuple_GET_ITEM(spec, 3));
    time_text = PyTuple_GET_ITEM(spec, 4);
    event_text = PyTuple_GET_ITEM(spec, 5);
    info = PyTuple_GET_ITEM(spec, 6);
    if (PyErr_Occurred() || !ascii_text(time_text) || !ascii_text(event_text))
        return NULL;
    memcpy(&ip, kb + f->ip_off, 8);
    memcpy(&pid, kb + f->pid_off, 4);
    memcpy(&tid, kb + f->pid_off + 4, 4);
    memcpy(&period, kb + f->period_off, 8);
    if (f->cpu_off >= 0)
        memcpy(&cpu, kb + f->cpu_off, 4);
    o = PyLong_FromLong(tid);
    if (o == NULL)
        return NULL;
    thread = PyDict_GetItemWithError(f->threads, o); /* borrowed */
    got = thread == NULL ? NULL : PyDict_GetItemWithError(f->by_tid, o); /* borrowed */
    Py_DECREF(o);
    if (thread == NULL || PyErr_Occurred())
        return NULL;
    if (got != NULL && (!PyTuple_Check(got) || PyTuple_GET_SIZE(got) != 2 || PyTuple_GET_ITEM(got, 0) != thread ||
                        !PyList_Check(PyTuple_GET_ITEM(got, 1))))
        return NULL; /* (a thread made again under this tid: Dependents drops the old one's keys) */
    Py_INCREF(thread); /* (held: the Python calls below must not free them) */
    Py_XINCREF(got);
    o = PyObject_GetAttr(thread, f->pid_name);
    if (o == NULL)
        goto fallback;
    k = PyLong_Check(o) ? PyLong_AsSsize_t(o) : -1;
    Py_DECREF(o);
    if (k == -1)
        goto fallback;
    state = PyObject_GetAttr(thread, f->state_name);
    if (state == Py_None) { /* machine.thread_state: the interned comm */
        Py_DECREF(state);
        state = PyObject_CallOneArg(f->thread_state, thread);
    }
    if (state == NULL)
        goto fallback;
    if (PyTuple_GET_ITEM(spec, 7) == Py_None) {
        after = f->newline;
    } else { /* the ip's line: the sample's location found, its tail made (else Python) */
        PyObject *location;
        if (!PyDict_Check(PyTuple_GET_ITEM(spec, 7)))
            goto fallback;
        o = PyLong_FromUnsignedLongLong(ip);
        if (o == NULL)
            goto fallback;
        if (cpumode == 1) {
            location = PyDict_GetItemWithError(f->locations, o); /* borrowed */
            Py_XINCREF(location);
            if (location == NULL && !PyErr_Occurred())
                location = PyObject_CallOneArg(f->kernel_location, o);
        } else {
            location = PyObject_CallFunctionObjArgs(f->user_location, thread, o, NULL);
            user_maps = 1;
        }
        Py_DECREF(o);
        if (location == NULL)
            goto fallback;
        after = PyDict_GetItemWithError(PyTuple_GET_ITEM(spec, 7), location); /* borrowed */
        if (after == NULL && !PyErr_Occurred()) { /* tail_of(location): made and kept in tails */
            after = PyObject_CallOneArg(PyTuple_GET_ITEM(spec, 8), location);
            Py_XDECREF(after); /* (tails holds it; borrowed from here on) */
            if (after != NULL && PyDict_GetItemWithError(PyTuple_GET_ITEM(spec, 7), location) != after)
                after = NULL; /* (tails was full: Python makes this one) */
        }
        Py_DECREF(location);
        if (after == NULL || !PyUnicode_Check(after)) {
            after = NULL;
            goto fallback;
        }
    }
    Py_INCREF(after); /* (held until the head takes it) */
    if (comm) { /* "%16s " of an ASCII comm without '%' */
        Py_ssize_t n;
        o = PyObject_GetAttr(state, f->comm_name);
        if (o == NULL)
            goto fallback;
        if (!ascii_text(o) || (n = PyUnicode_GET_LENGTH(o)) > 255 ||
            memchr(PyUnicode_1BYTE_DATA(o), '%', (size_t)n) != NULL) {
            Py_DECREF(o);
            goto fallback;
        }
        for (; len + n < 16; len++)
            text[len] = ' ';
        memcpy(text + len, PyUnicode_1BYTE_DATA(o), (size_t)n);
        len += n;
        text[len++] = ' ';
        Py_DECREF(o);
    }
    if (pidtid == 3)
        len += snprintf(text + len, 32, "%5d/%-5d ", (int)pid, (int)tid);
    else if (pidtid == 1 || pidtid == 2)
        len += snprintf(text + len, 32, "%5d ", (int)(pidtid == 1 ? pid : tid));
    if (with_cpu)
        len += snprintf(text + len, 32, "[%03u] ", (unsigned)cpu);
    if (len + PyUnicode_GET_LENGTH(time_text) + 32 + PyUnicode_GET_LENGTH(event_text) > HEAD_TEXT)
        goto fallback;
    memcpy(text + len, PyUnicode_1BYTE_DATA(time_text), (size_t)PyUnicode_GET_LENGTH(time_text));
    len += PyUnicode_GET_LENGTH(time_text);
    if (with_period)
        len += snprintf(text + len, 32, "%10llu ", (unsigned long long)period);
    memcpy(text + len, PyUnicode_1BYTE_DATA(event_text), (size_t)PyUnicode_GET_LENGTH(event_text));
    len += PyUnicode_GET_LENGTH(event_text);
    Py_CLEAR(state);
    before = PyUnicode_New(len, 127);
    cpu_obj = PyLong_FromUnsignedLong(cpu);
    made = PyList_New(0);
    head = PyList_New(5);
    if (before == NULL || cpu_obj == NULL || made == NULL || head == NULL)
        goto error;
    memcpy(PyUnicode_1BYTE_DATA(before), text, (size_t)len);
    PyList_SET_ITEM(head, 0, before);
    PyList_SET_ITEM(head, 1, after);
    Py_INCREF(info);
    PyList_SET_ITEM(head, 2, info);
    PyList_SET_ITEM(head, 3, cpu_obj);
    PyList_SET_ITEM(head, 4, made);
    before = cpu_obj = made = after = NULL;
    if (PyDict_SetItem(heads, head_key, head) < 0)
        goto error;
    if (got != NULL) {
        if (PyList_Append(PyTuple_GET_ITEM(got, 1), head_key) < 0)
            goto error;
    } else {
        PyObject *keys = PyList_New(1), *pair;
        if (keys == NULL)
            goto error;
        Py_INCREF(head_key);
        PyList_SET_ITEM(keys, 0, head_key);
        pair = PyTuple_Pack(2, thread, keys);
        Py_DECREF(keys);
        o = pair == NULL ? NULL : PyLong_FromLong(tid);
        if (o == NULL || PyDict_SetItem(f->by_tid, o, pair) < 0) {
            Py_XDECREF(o);
            Py_XDECREF(pair);
            goto error;
        }
        Py_DECREF(o);
        Py_DECREF(pair);
    }
    if (user_maps) { /* by_maps.setdefault(thread.maps, []).append(head_key) */
        PyObject *maps = PyObject_GetAttr(thread, f->maps_name), *keys;
        if (maps == NULL)
            goto error;
        keys = PyDict_GetItemWithError(f->by_maps, maps); /* borrowed */
        Py_XINCREF(keys);
        if (keys == NULL) {
            if (PyErr_Occurred() || (keys = PyList_New(0)) == NULL || PyDict_SetItem(f->by_maps, maps, keys) < 0) {
                Py_XDECREF(keys);
                Py_DECREF(maps);
                goto error;
            }
        }
        Py_DECREF(maps);
        if (!PyList_Check(keys) || PyList_Append(keys, head_key) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "make_head: by_maps holds a list per maps");
            Py_DECREF(keys);
            goto error;
        }
        Py_DECREF(keys);
    }
    Py_DECREF(thread);
    Py_XDECREF(got);
    return head;
fallback:
    Py_XDECREF(state);
    Py_XDECREF(after);
    Py_DECREF(thread);
    Py_XDECREF(got);
    PyErr_Clear();
    return NULL;
error:
    Py_DECREF(thread);
    Py_XDECREF(got);
    Py_XDECREF(state);
    Py_XDECREF(after);
    Py_XDECREF(before);
    Py_XDECREF(cpu_obj);
    Py_XDECREF(made);
    Py_XDECREF(head);
    return NULL;
}

/* before + the plan's text of the record with every '%' doubled + after, as one str (a new reference); None
 * (not a new reference) where the plan's fallback prints the record or before or after is not ASCII; NULL:
 * an error. */
static PyObject *plan_template(TracePlanObject *plan, const unsigned char *d, Py_ssize_t size, PyObject *before,
                               PyObject *after)
{
    char out[TRACEPLAN_TEXT];
    Py_ssize_t len = 0, nb, na, npct = 0, k;
    PyObject *result;
    unsigned char *w;
    int got;
    if (!ascii_text(before) || !ascii_text(after))
        return Py_None;
    got = traceplan_fill(plan, d, size, out, &len);
    if (got < 0)
        return NULL;
    if (got > 0)
        return Py_None;
    for (k = 0; k < len; k++)
        npct += out[k] == '%';
    nb = PyUnicode_GET_LENGTH(before);
    na = PyUnicode_GET_LENGTH(after);
    result = PyUnicode_New(nb + len + npct + na, 127);
    if (result == NULL)
        return NULL;
    w = PyUnicode_1BYTE_DATA(result);
    memcpy(w, PyUnicode_1BYTE_DATA(before), (size_t)nb);
    w += nb;
    if (npct == 0) {
        memcpy(w, out, (size_t)len);
        w += len;
    } else {
        for (k = 0; k < len; k++) {
            *w++ = (unsigned char)out[k];
            if (out[k] == '%')
                *w++ = '%';
        }
    }
    memcpy(w, PyUnicode_1BYTE_DATA(after), (size_t)na);
    return result;
}

/* script_raw_run(items, start, memo, heads, at, divisor, kernel, out, memo_limit, miss=None, fast=None,
 *                chained=False) -> (i, status, template, dropped)
 *     report.script_keys._Walk.run_raw's loop over items[start:] (pairs (key, time): key bytes cut at its RAW
 *     record, whose u32 size is at byte `at`), for the samples whose text it can make as that loop does: a
 *     key kept in `memo` (dict key -> template), or a key whose part before RAW is in `heads` (dict
 *     key[:at] -> [before, after, info, cpu, made]) and whose RAW fits in it: its template is "" (before
 *     None), before + after (info None) or before + info(raw, cpu).replace("%", "%%") + after, kept in
 *     `memo` and appended to `made`. Each sample's text, template % (time // 10**9, time % 10**9 // divisor),
 *     is appended to `out` (none for ""; consecutive texts as one str, written by LineBuf). Returns at the first sample it leaves to Python, with its index:
 *     status 0 at the end (i == len(items)); 1 for a sample Python makes the text of (a key whose head is
 *     not kept or whose RAW overruns it, `memo` holding memo_limit keys, a time that is not a u64); 2 when
 *     the info call changed kernel.epoch (a %pS name loaded the kernel's symbols): `template` is the
 *     sample's template, neither kept nor printed. With `miss` (_Walk.miss_raw), a key whose head is not
 *     kept and whose RAW fits is not left to Python: miss(key, end) (end: where its RAW ends) gives its
 *     template, printed as a kept one's, or None for a sample the reader drops (counted in `dropped`); with
 *     `fast` (see FastHeads), make_head makes such a head first where it can, and the key is then printed as
 *     one whose head was kept. With `chained` (_Walk._chain_items: keys whose call chain comes before RAW),
 *     `at` is the chain's u64 nr, RAW's u32 size follows the chain (at + 8 + 8 * nr; a chain that overruns the
 *     key is left to Python as a RAW that does), the head is the key up to there, and a full `memo` is not
 *     left to Python: it is then not looked up, and each sample's line is written from its head (its
 *     template neither made nor kept: keys with a probe's argument in RAW are nearly all new). */
static PyObject *script_raw_run(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *items, *memo, *heads, *kernel, *out, *pct = NULL, *pctpct = NULL, *epoch_name = NULL;
    PyObject *miss = Py_None, *last_head = NULL, *last_got = NULL; /* the last head found, its key's bytes */
    PyObject *fast = NULL;
    FastHeads fh;
    int with_fast, chained = 0;
    Py_ssize_t i, n, at, memo_limit, dropped = 0;
    unsigned long long divisor;
    int status = 0;
    PyObject *changed_template = NULL, *result = NULL;
    LineBuf buf = {NULL, 0, 0};

    if (!PyArg_ParseTuple(args, "O!nO!O!nKOO!n|OOp:script_raw_run", &PyList_Type, &items, &i, &PyDict_Type,
                          &memo, &PyDict_Type, &heads, &at, &divisor, &kernel, &PyList_Type, &out, &memo_limit,
                          &miss, &fast, &chained))
        return NULL;
    if (chained)
        fast = NULL; /* (FastHeads makes heads of fixed fields: not of chains) */
    with_fast = fastheads_init(&fh, fast, at);
    if (with_fast < 0) {
        fastheads_clear(&fh);
        return NULL;
    }
    if (at < 0 || divisor == 0) {
        PyErr_SetString(PyExc_ValueError, "script_raw_run: bad offset or divisor");
        return NULL;
    }
    if (script_strings() < 0)
        goto done;
    pct = s_pct; /* (borrowed) */
    pctpct = s_pctpct;
    epoch_name = s_epoch;
    n = PyList_GET_SIZE(items);
    for (; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(items, i), *key, *template;
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
        /* (chained with a full memo: not looked up, a kept key's line is its head's; hashing a new key costs
         * as much as its head's look-up) */
        template = chained && PyDict_GET_SIZE(memo) >= memo_limit ? NULL : PyDict_GetItemWithError(memo, key);
        if (template == NULL) { /* (template borrowed) */
            PyObject *head_key, *got, *before, *after, *info, *cpu, *made;
            const char *kb = PyBytes_AS_STRING(key);
            Py_ssize_t klen = PyBytes_GET_SIZE(key), end, kat = at; /* kat: where this key's RAW is */
            uint32_t raw_size;
            int full = PyDict_GET_SIZE(memo) >= memo_limit;
            if (PyErr_Occurred())
                goto done;
            if (chained) {
                uint64_t nr;
                if (klen < at + 8) {
                    status = 1;
                    break;
                }
                memcpy(&nr, kb + at, 8);
                if (nr > (uint64_t)(klen - at - 8) / 8) {
                    status = 1;
                    break;
                }
                kat = at + 8 + 8 * (Py_ssize_t)nr;
            } else if (full) {
                status = 1;
                break;
            }
            if (klen < kat + 4) {
                status = 1;
                break;
            }
            memcpy(&raw_size, kb + kat, 4);
            end = kat + 4 + (Py_ssize_t)raw_size;
            if (last_head != NULL && PyBytes_GET_SIZE(last_head) == kat &&
                memcmp(PyBytes_AS_STRING(last_head), kb, (size_t)kat) == 0) {
                got = last_got; /* the previous sample's head (consecutive samples of a thread share it) */
            } else {
                head_key = PyBytes_FromStringAndSize(kb, kat);
                if (head_key == NULL)
                    goto done;
                got = PyDict_GetItemWithError(heads, head_key); /* borrowed */
                if (got == NULL && PyErr_Occurred()) {
                    Py_DECREF(head_key);
                    goto done;
                }
                Py_XSETREF(last_head, got != NULL ? head_key : NULL);
                if (got == NULL)
                    Py_DECREF(head_key);
                Py_XINCREF(got);
                Py_XSETREF(last_got, got);
            }
            if (got == NULL && end <= klen && with_fast) { /* a new head C makes (else Python does) */
                PyObject *made_head;
                head_key = PyBytes_FromStringAndSize(kb, kat);
                if (head_key == NULL)
                    goto done;
                made_head = make_head(&fh, kb, head_key, heads, memo_limit);
                if (made_head == NULL) {
                    Py_DECREF(head_key);
                    if (PyErr_Occurred())
                        goto done;
                } else {
                    Py_XSETREF(last_head, head_key);
                    Py_XSETREF(last_got, made_head);
                    got = made_head;
                }
            }
            if (got == NULL && end <= klen && miss != Py_None) { /* a new head: Python makes it */
                PyObject *made_template;
                int failed;
                Py_CLEAR(last_head); /* (Python may drop or make heads: look them up again) */
                Py_CLEAR(last_got);
                made_template = PyObject_CallFunction(miss, "On", key, end);
                if (made_template == NULL)
                    goto done;
                if (made_template == Py_None) {
                    Py_DECREF(made_template);
                    dropped++;
                    continue;
                }
                failed = emit_line(&buf, out, made_template, time, divisor);
                Py_DECREF(made_template);
                if (failed)
                    goto done;
                continue;
            }
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
            if (chained && full && before == Py_None)
                continue; /* (a sample that prints nothing) */
            if (chained && full && (info == Py_None || (Py_TYPE(info) == &TracePlanType &&
                                                !((TracePlanObject *)info)->calls_out))) {
                /* written at once: before % (the time's numbers), the plan's text, after with "%%" made '%'
                 * (what emit_line writes for the template before + text with '%' doubled + after); else
                 * (not ASCII, the plan's fallback) the template is made below */
                Py_ssize_t mark = buf.len;
                int wrote = linebuf_format(&buf, before, time / 1000000000ULL, time % 1000000000ULL / divisor);
                if (wrote > 0 && info != Py_None) {
                    char text[TRACEPLAN_TEXT];
                    Py_ssize_t tlen = 0;
                    int fell = traceplan_fill((TracePlanObject *)info, (const unsigned char *)kb + kat + 4,
                                              (Py_ssize_t)raw_size, text, &tlen);
                    if (fell < 0 || (fell == 0 && linebuf_reserve(&buf, tlen) < 0))
                        goto done;
                    if (fell == 0) {
                        memcpy(buf.data + buf.len, text, (size_t)tlen);
                        buf.len += tlen;
                    } else {
                        wrote = 0;
                    }
                }
                if (wrote > 0)
                    wrote = linebuf_literal(&buf, after);
                if (wrote < 0)
                    goto done;
                if (wrote > 0)
                    continue;
                buf.len = mark;
            }
            if (before == Py_None) {
                template = PyUnicode_FromString("");
            } else if (info == Py_None) {
                template = PyUnicode_Concat(before, after);
            } else if (Py_TYPE(info) == &TracePlanType && !((TracePlanObject *)info)->calls_out &&
                       (template = plan_template((TracePlanObject *)info, (const unsigned char *)kb + kat + 4,
                                                 (Py_ssize_t)raw_size, before, after)) != Py_None) {
                /* (prints no kernel name: the epoch stays) before + its text with '%' doubled + after, at once */
                if (template == NULL)
                    goto done;
            } else if (Py_TYPE(info) == &TracePlanType && !((TracePlanObject *)info)->calls_out) {
                PyObject *text = traceplan_render((TracePlanObject *)info, (const unsigned char *)kb + kat + 4,
                                                  (Py_ssize_t)raw_size, NULL), *escaped, *left;
                if (text == NULL)
                    goto done;
                escaped = PyUnicode_Replace(text, pct, pctpct, -1);
                Py_DECREF(text);
                left = escaped == NULL ? NULL : PyUnicode_Concat(before, escaped);
                Py_XDECREF(escaped);
                template = left == NULL ? NULL : PyUnicode_Concat(left, after);
                Py_XDECREF(left);
                if (template == NULL)
                    goto done;
            } else {
                PyObject *epoch, *raw, *text, *escaped, *left, *epoch_after;
                int same;
                epoch = PyObject_GetAttr(kernel, epoch_name);
                if (epoch == NULL)
                    goto done;
                raw = PyBytes_FromStringAndSize(kb + kat + 4, (Py_ssize_t)raw_size);
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
            if (chained && full) { /* printed, not kept */
                int failed = emit_line(&buf, out, template, time, divisor);
                Py_DECREF(template);
                if (failed)
                    goto done;
                continue;
            }
            if (PyDict_SetItem(memo, key, template) < 0 || PyList_Append(made, key) < 0) {
                Py_DECREF(template);
                goto done;
            }
            Py_DECREF(template); /* memo holds it */
        }
        if (emit_line(&buf, out, template, time, divisor) < 0)
            goto done;
    }
    if (linebuf_flush(&buf, out) < 0)
        goto done;
    result = Py_BuildValue("(niOn)", i, status, changed_template != NULL ? changed_template : Py_None, dropped);
done:
    fastheads_clear(&fh);
    Py_XDECREF(last_head);
    Py_XDECREF(last_got);
    PyMem_Free(buf.data);
    Py_XDECREF(changed_template);
    return result;
}

/* ---------------------------------------------------------------------------------------------------------
 * trace_adds(bucket, known, to_rframe, chains, chain_of, spec, text, texts, groups, thread_comm, gkeys,
 *            rejects=None) -> None
 *     report/builder.py's per-group loop with Hists.add where every sort key is trace, comm or pid (report/
 *     trace_adds.py: py_trace_adds is its twin, tests/test_report_trace_adds.py compares them): for each
 *     (thread, location, chain, raw) -> (period, count) of `bucket`, in order: loc = known.get(location) or
 *     to_rframe(location); rchain = chains.get(chain), else chains[chain] = chain_of(chain); the trace output
 *     texts.get(raw), else texts[raw] = text(raw or b"") ("N/A" with text None: not a tracepoint);
 *     thread_comm[thread.tid] = thread.comm; the identity, one value per letter of `spec` ('t' the trace
 *     output, 'c' the comm, 'p' the tid); the group (identity, chain) of `groups` made ([period, count, tid,
 *     comm, loc, rchain, trace output, filtered, raw, its number]; filtered: whether rejects(comm, location,
 *     loc) is true, False without rejects) or added to; gkeys[group] its number (gkeys
 *     None: nothing kept).
 * ------------------------------------------------------------------------------------------------------ */

static PyObject *ta_s_comm, *ta_s_tid, *ta_s_na, *ta_empty_bytes;

static PyObject *trace_adds(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *bucket, *known, *to_rframe, *chains, *chain_of, *spec, *text, *texts, *groups, *thread_comm, *gkeys;
    PyObject *rejects = Py_None;
    PyObject *last_thread = NULL; /* (borrowed: the bucket holds it) the thread whose comm was noted last */
    if (!PyArg_ParseTuple(args, "O!O!OO!OUOO!O!O!O|O:trace_adds", &PyDict_Type, &bucket, &PyDict_Type, &known,
                          &to_rframe, &PyDict_Type, &chains, &chain_of, &spec, &text, &PyDict_Type, &texts,
                          &PyDict_Type, &groups, &PyDict_Type, &thread_comm, &gkeys, &rejects))
        return NULL;
    if (gkeys != Py_None && !PyDict_Check(gkeys)) {
        PyErr_SetString(PyExc_TypeError, "trace_adds: gkeys is a dict or None");
        return NULL;
    }
    if (!ta_s_comm && (!(ta_s_comm = PyUnicode_InternFromString("comm")) || !(ta_s_tid = PyUnicode_InternFromString("tid")) ||
                       !(ta_s_na = PyUnicode_InternFromString("N/A")) || !(ta_empty_bytes = PyBytes_FromStringAndSize("", 0))))
        return NULL;
    Py_ssize_t nkeys = PyUnicode_GET_LENGTH(spec);
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        Py_UCS4 c = PyUnicode_READ_CHAR(spec, k);
        if (c != 't' && c != 'c' && c != 'p') {
            PyErr_SetString(PyExc_ValueError, "trace_adds: spec letters are t, c and p");
            return NULL;
        }
    }
    /* (the bucket's items listed first: the callbacks may not change it under the loop) */
    PyObject *items = PyDict_Items(bucket);
    if (!items) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(items);
    for (Py_ssize_t x = 0; x < n; x++) {
        PyObject *item = PyList_GET_ITEM(items, x), *group = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
        PyObject *period = NULL, *count = NULL, *loc = NULL, *rchain = NULL, *comm = NULL, *tid = NULL, *trace = NULL;
        PyObject *ident = NULL, *gkey = NULL, *num = NULL;
        int ok = 0;
        if (!PyTuple_Check(group) || PyTuple_GET_SIZE(group) != 4) {
            PyErr_SetString(PyExc_TypeError, "trace_adds: groups are (thread, location, chain, raw)");
            goto next;
        }
        PyObject *thread = PyTuple_GET_ITEM(group, 0), *location = PyTuple_GET_ITEM(group, 1);
        PyObject *chain = PyTuple_GET_ITEM(group, 2), *raw = PyTuple_GET_ITEM(group, 3);
        if (PySequence_Size(value) != 2) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "trace_adds: values are (period, count)");
            goto next;
        }
        if (!(period = PySequence_GetItem(value, 0)) || !(count = PySequence_GetItem(value, 1))) goto next;
        loc = PyDict_GetItemWithError(known, location);
        if (loc) Py_INCREF(loc);
        else if (PyErr_Occurred() || !(loc = PyObject_CallOneArg(to_rframe, location))) goto next;
        rchain = PyDict_GetItemWithError(chains, chain);
        if (rchain) Py_INCREF(rchain);
        else if (PyErr_Occurred() || !(rchain = PyObject_CallOneArg(chain_of, chain)) ||
                 PyDict_SetItem(chains, chain, rchain) < 0)
            goto next;
        trace = PyDict_GetItemWithError(texts, raw);
        if (trace) Py_INCREF(trace);
        else if (PyErr_Occurred())
            goto next;
        else {
            if (text == Py_None)
                trace = Py_NewRef(ta_s_na);
            else if (!(trace = PyObject_CallOneArg(text, PyObject_IsTrue(raw) ? raw : ta_empty_bytes)))
                goto next;
            if (PyDict_SetItem(texts, raw, trace) < 0) goto next;
        }
        if (!(comm = PyObject_GetAttr(thread, ta_s_comm)) || !(tid = PyObject_GetAttr(thread, ta_s_tid))) goto next;
        if (thread != last_thread) { /* (a bucket's groups come mostly by thread) */
            if (PyDict_SetItem(thread_comm, tid, comm) < 0) goto next;
            last_thread = thread;
        }
        if (!(ident = PyTuple_New(nkeys))) goto next;
        for (Py_ssize_t k = 0; k < nkeys; k++) {
            Py_UCS4 c = PyUnicode_READ_CHAR(spec, k);
            PyTuple_SET_ITEM(ident, k, Py_NewRef(c == 't' ? trace : c == 'c' ? comm : tid));
        }
        if (!(gkey = PyTuple_Pack(2, ident, chain))) goto next;
        PyObject *got = PyDict_GetItemWithError(groups, gkey);
        if (got) {
            if (!PyList_Check(got) || PyList_GET_SIZE(got) < 10) {
                PyErr_SetString(PyExc_TypeError, "trace_adds: a group is a list of 10");
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
            PyObject *filtered = Py_False;
            if (rejects != Py_None) {
                PyObject *r = PyObject_CallFunctionObjArgs(rejects, comm, location, loc, NULL);
                if (!r) goto next;
                int t = PyObject_IsTrue(r);
                Py_DECREF(r);
                if (t < 0) goto next;
                filtered = t ? Py_True : Py_False;
            }
            PyObject *g = Py_BuildValue("[OOOOOOOOOO]", period, count, tid, comm, loc, rchain, trace, filtered, raw, num);
            if (!g) goto next;
            int r = PyDict_SetItem(groups, gkey, g);
            Py_DECREF(g);
            if (r < 0) goto next;
        }
        if (gkeys != Py_None && PyDict_SetItem(gkeys, group, num) < 0) goto next;
        ok = 1;
    next:
        Py_XDECREF(period); Py_XDECREF(count); Py_XDECREF(loc); Py_XDECREF(rchain); Py_XDECREF(comm);
        Py_XDECREF(tid); Py_XDECREF(trace); Py_XDECREF(ident); Py_XDECREF(gkey); Py_XDECREF(num);
        if (!ok) {
            Py_DECREF(items);
            return NULL;
        }
    }
    Py_DECREF(items);
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------------------------- end of the script section */

PyMethodDef speedups_script_methods[] = {
    {"script_raw_run", (PyCFunction)script_raw_run, METH_VARARGS,
     "script_raw_run(items, start, memo, heads, at, divisor, kernel, out, memo_limit, miss=None, fast=None) -> "
     "(i, status, template, dropped) (see the source)"},
    {"script_whole_run", (PyCFunction)script_whole_run, METH_VARARGS,
     "script_whole_run(items, memo, divisor, out, miss) -> dropped (see the source)"},
    {"trace_adds", (PyCFunction)trace_adds, METH_VARARGS,
     "trace_adds(bucket, known, to_rframe, chains, chain_of, spec, text, texts, groups, thread_comm, gkeys, "
     "rejects=None) -> None "
     "(see the source)"},
    {"trace_plan_type", (PyCFunction)trace_plan_type, METH_NOARGS,
     "trace_plan_type() -> the TracePlan type (see the source)"},
    {NULL, NULL, 0, NULL},
};
