/* pyperf_probe.perfdata._speedups, the session's per-key loops (session/fixed_keys.py has their Python twins,
 * which PYPERF_PURE_PYTHON selects; tests/test_speedups_session.py compares the two on random keys).
 */
#include "_speedups.h"
#include "structmember.h"

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
static PyObject *user_chain_of(const unsigned char *buf, Py_ssize_t len, Py_ssize_t at, PyObject *memo,
                               Py_ssize_t max_stack, int caller_order)
{
    PyObject *out = NULL;
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
        return NULL;
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
    return out;
fail:
    Py_XDECREF(out);
    return NULL;
none:
    Py_RETURN_NONE;
}

static PyObject *session_user_chain(PyObject *self, PyObject *args)
{
    Py_buffer key;
    Py_ssize_t at, max_stack;
    PyObject *memo, *out;
    int caller_order;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nO!np", &key, &at, &PyDict_Type, &memo, &max_stack, &caller_order))
        return NULL;
    out = user_chain_of(key.buf, key.len, at, memo, max_stack, caller_order);
    PyBuffer_Release(&key);
    return out;
}

#define CONTEXT_KERNEL 0xFFFFFFFFFFFFFF80ULL /* PERF_CONTEXT_KERNEL */

/* kernel_chain(key, at, kmemo, umemo, max_stack, caller_order) -> tuple | None
 *
 * The call chain at byte `at` of a sample key with PERF_CONTEXT_KERNEL / PERF_CONTEXT_USER markers, as
 * Session._callchain makes its entries (a marker switches the cpumode, which starts as user's, and is
 * dropped; `max_stack` entries kept: the leaf's end, or with `caller_order` the root's), when every kept
 * kernel address is in `kmemo` and every user one in `umemo` (avma -> frame): the tuple of frames, leaf
 * first. None: a frame missing, another marker, the chain overruns the key, or max_stack < 1
 * (Session._callchain decides, in perf's look-up order). fixed_keys.kernel_chain is the Python twin. */
static PyObject *kernel_chain_of(const unsigned char *buf, Py_ssize_t len, Py_ssize_t at, PyObject *kmemo,
                                 PyObject *umemo, Py_ssize_t max_stack, int caller_order)
{
    if (at < 0 || at > len - 8 || max_stack < 1)
        Py_RETURN_NONE;
    uint64_t nr = load_u64(buf + at);
    if (nr > (uint64_t)(len - at - 8) >> 3)
        Py_RETURN_NONE;
    const unsigned char *ips = buf + at + 8;
    Py_ssize_t n = 0; /* the entries: addresses, not markers */
    for (Py_ssize_t i = 0; i < (Py_ssize_t)nr; i++) {
        uint64_t v = load_u64(ips + 8 * i);
        if (v < CONTEXT_MAX)
            n++;
        else if (v != CONTEXT_KERNEL && v != CONTEXT_USER)
            Py_RETURN_NONE;
    }
    Py_ssize_t lo = 0, kept = n;
    if (n > max_stack) {
        if (caller_order)
            lo = n - max_stack;
        kept = max_stack;
    }
    PyObject *out = PyTuple_New(kept);
    if (out == NULL)
        return NULL;
    PyObject *memo = umemo;
    Py_ssize_t e = 0;
    for (Py_ssize_t i = 0; i < (Py_ssize_t)nr && e < lo + kept; i++) {
        uint64_t v = load_u64(ips + 8 * i);
        if (v >= CONTEXT_MAX) {
            memo = v == CONTEXT_KERNEL ? kmemo : umemo;
            continue;
        }
        if (e++ < lo)
            continue;
        PyObject *avma = PyLong_FromUnsignedLongLong(v);
        if (avma == NULL)
            goto fail;
        PyObject *frame = PyDict_GetItemWithError(memo, avma);
        Py_DECREF(avma);
        if (frame == NULL) {
            if (PyErr_Occurred())
                goto fail;
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        Py_INCREF(frame);
        PyTuple_SET_ITEM(out, e - 1 - lo, frame);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

static PyObject *session_kernel_chain(PyObject *self, PyObject *args)
{
    Py_buffer key;
    Py_ssize_t at, max_stack;
    PyObject *kmemo, *umemo, *out;
    int caller_order;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nO!O!np", &key, &at, &PyDict_Type, &kmemo, &PyDict_Type, &umemo, &max_stack,
                          &caller_order))
        return NULL;
    out = kernel_chain_of(key.buf, key.len, at, kmemo, umemo, max_stack, caller_order);
    PyBuffer_Release(&key);
    return out;
}

/* A stable sort of the indexes 0..n-1 by sv[index] (table order among equal starts) into idx, as a
 * least-significant-digit radix sort on the svma's bytes, only the digits in which keys differ (`differ`: the
 * OR of every key XOR the first): a few linear passes where qsort's comparisons were most of a cold report's
 * symbol-table sort (cc1's 28.9K symbols: ~20M instructions -> ~3M). u32 indexes, read through to their keys,
 * not (key, index) pairs: 8 bytes of scratch a symbol instead of 32, the fresh pages of a cold report's sort
 * (~310 fewer for cc1's table; a page first touched costs ~3 us on the VMs the benches run on).
 * 0, or -1 without memory. */
static int symstarts_radix(const uint64_t *sv, uint32_t *idx, Py_ssize_t n, uint64_t differ)
{
    uint32_t *tmp = PyMem_Malloc(n * sizeof(uint32_t));
    Py_ssize_t (*count)[256] = PyMem_Calloc(8, sizeof(*count));
    int digits[8], nd = 0;
    if (!tmp || !count) {
        PyMem_Free(tmp);
        PyMem_Free(count);
        return -1;
    }
    for (int d = 0; d < 8; d++)
        if ((differ >> (8 * d)) & 255)
            digits[nd++] = d;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t v = sv[i];
        for (int k = 0; k < nd; k++)
            count[k][(v >> (8 * digits[k])) & 255]++;
    }
    uint32_t *src = idx, *dst = tmp;
    for (Py_ssize_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    for (int k = 0; k < nd; k++) {
        Py_ssize_t *c = count[k], at = 0;
        int shift = 8 * digits[k];
        for (int b = 0; b < 256; b++) {
            Py_ssize_t m = c[b];
            c[b] = at;
            at += m;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t j = src[i];
            dst[c[(sv[j] >> shift) & 255]++] = j;
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx)
        memcpy(idx, src, n * sizeof(uint32_t));
    PyMem_Free(tmp);
    PyMem_Free(count);
    return 0;
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
 * symbols.symtab._sorted_columns for a table of n >= 2 symbols (svmas, sizes: lists of int or u64 arrays; types,
 * bindings: bytes, all in table order): a stable sort by svma; `order` the table-order index of each
 * sorted symbol (bytes of u32: array('I') contents), or None when the table was in order; the columns in
 * svma order as bytes (u64 values for svmas, sizes and ends: array('Q') contents); ends as
 * symbols__fixup_end makes them (svma + size; a zero-size symbol ends where the next starts, the last one
 * at the page after its own). None when a value or an end does not fit in a u64 (the Python path, whose
 * columns then stay lists).
 * symbols.symtab._py_sorted_columns is the Python twin. */
/* A column of n u64 values, for reading: a buffer of n u64 values (array('Q') contents: symtab_keep's columns),
 * read in place (*view held: release it with PyBuffer_Release when view->obj), or a list of int (u64_column)
 * copied into *owned (PyMem_Free it). 1 with *values set, 0 when a value is not a u64 (no exception), -1 on a
 * wrong column (an exception set). */
static int u64_column_any(PyObject *column, Py_ssize_t n, const uint64_t **values, uint64_t **owned,
                          Py_buffer *view)
{
    view->obj = NULL;
    *owned = NULL;
    if (!PyList_Check(column)) {
        if (PyObject_GetBuffer(column, view, PyBUF_SIMPLE) < 0)
            return -1;
        if (view->len != n * 8) {
            PyBuffer_Release(view);
            view->obj = NULL;
            PyErr_SetString(PyExc_ValueError, "symtab_sort: columns of unequal lengths, fewer than 2, or no page");
            return -1;
        }
        if (((uintptr_t)view->buf & 7) == 0) {
            *values = view->buf;
            return 1;
        }
    } else if (PyList_GET_SIZE(column) != n) {
        PyErr_SetString(PyExc_ValueError, "symtab_sort: columns of unequal lengths, fewer than 2, or no page");
        return -1;
    }
    if (!(*owned = PyMem_Malloc(n * sizeof(uint64_t)))) {
        if (view->obj) {
            PyBuffer_Release(view);
            view->obj = NULL;
        }
        PyErr_NoMemory();
        return -1;
    }
    *values = *owned;
    if (view->obj) {  /* (a buffer not 8-aligned: copied) */
        memcpy(*owned, view->buf, n * 8);
        PyBuffer_Release(view);
        view->obj = NULL;
        return 1;
    }
    return u64_column(column, *owned, n);
}

static Py_ssize_t column_len(PyObject *column)
{
    if (PyList_Check(column))
        return PyList_GET_SIZE(column);
    Py_buffer view;
    if (PyObject_GetBuffer(column, &view, PyBUF_SIMPLE) < 0)
        return -1;
    Py_ssize_t n = view.len % 8 ? -1 : view.len / 8;
    PyBuffer_Release(&view);
    return n;
}

static PyObject *session_symtab_sort(PyObject *self, PyObject *args)
{
    PyObject *svmas, *sizes, *out = NULL, *order = NULL;
    /* the output columns, written in place (not made in scratch memory and copied: a cold report sorts ~25K
     * symbols, whose fresh pages were a third of its sort's time) */
    PyObject *b_sv = NULL, *b_sz = NULL, *b_end = NULL, *b_ty = NULL, *b_bi = NULL;
    Py_buffer types, bindings, sv_view = {0}, sz_view = {0};
    unsigned long long page;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOy*y*K", &svmas, &sizes, &types, &bindings, &page))
        return NULL;
    Py_ssize_t n = column_len(svmas);
    const uint64_t *sv = NULL, *sz = NULL;
    uint64_t *sv_owned = NULL, *sz_owned = NULL, *osv = NULL, *osz = NULL, *oend = NULL;
    uint32_t *idx = NULL;
    unsigned char *oty = NULL, *obi = NULL;
    if (n < 2 || column_len(sizes) != n || types.len != n || bindings.len != n || page == 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "symtab_sort: columns of unequal lengths, fewer than 2, or no page");
        goto done;
    }
    int got_sv = u64_column_any(svmas, n, &sv, &sv_owned, &sv_view);
    int got_sz = got_sv > 0 ? u64_column_any(sizes, n, &sz, &sz_owned, &sz_view) : 0;
    if (got_sv < 0 || got_sz < 0)
        goto done;
    if (!got_sv || !got_sz)
        goto none;
    if (!(b_sv = PyBytes_FromStringAndSize(NULL, n * 8)) || !(b_sz = PyBytes_FromStringAndSize(NULL, n * 8)) ||
        !(b_end = PyBytes_FromStringAndSize(NULL, n * 8)) || !(b_ty = PyBytes_FromStringAndSize(NULL, n)) ||
        !(b_bi = PyBytes_FromStringAndSize(NULL, n)))
        goto done;
    osv = (uint64_t *)PyBytes_AS_STRING(b_sv);
    osz = (uint64_t *)PyBytes_AS_STRING(b_sz);
    oend = (uint64_t *)PyBytes_AS_STRING(b_end);
    oty = (unsigned char *)PyBytes_AS_STRING(b_ty);
    obi = (unsigned char *)PyBytes_AS_STRING(b_bi);
    int sorted = 1;
    uint64_t differ = 0;
    for (Py_ssize_t i = 1; i < n; i++) {
        differ |= sv[i] ^ sv[0];
        if (sv[i] < sv[i - 1])
            sorted = 0;
    }
    const unsigned char *ty = types.buf, *bi = bindings.buf;
    if (!sorted) {
        if ((uint64_t)n > UINT32_MAX)
            goto none;
        order = PyBytes_FromStringAndSize(NULL, n * 4);  /* (the sort's indexes, sorted in place there) */
        if (order == NULL)
            goto done;
        idx = (uint32_t *)PyBytes_AS_STRING(order);
        if (symstarts_radix(sv, idx, n, differ) < 0) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            uint32_t k = idx[i];
            osv[i] = sv[k];
            osz[i] = sz[k];
            oty[i] = ty[k];
            obi[i] = bi[k];
        }
    } else {
        memcpy(osv, sv, n * 8);
        memcpy(osz, sz, n * 8);
        memcpy(oty, ty, n);
        memcpy(obi, bi, n);
        order = Py_NewRef(Py_None);
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
    out = PyTuple_Pack(6, order, b_sv, b_sz, b_ty, b_bi, b_end);
    goto done;
none:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(order);
    Py_XDECREF(b_sv);
    Py_XDECREF(b_sz);
    Py_XDECREF(b_end);
    Py_XDECREF(b_ty);
    Py_XDECREF(b_bi);
    PyMem_Free(sv_owned);
    PyMem_Free(sz_owned);
    if (sv_view.obj)
        PyBuffer_Release(&sv_view);
    if (sz_view.obj)
        PyBuffer_Release(&sz_view);
    PyBuffer_Release(&types);
    PyBuffer_Release(&bindings);
    return out;
}

/* An unsigned field of `width` bytes (2, 4 or 8) in the given byte order. */
static inline uint64_t read_uint(const unsigned char *p, int width, int little)
{
    uint64_t v = 0;
    if (little)
        for (int b = width - 1; b >= 0; b--)
            v = (v << 8) | p[b];
    else
        for (int b = 0; b < width; b++)
            v = (v << 8) | p[b];
    return v;
}

/* symtab_keep(raw, is_64, little, loaded, texts) -> (keep, name_offsets, svmas, sizes, info)
 *
 * symbols.symtab._kept and the columns of its kept entries, in one pass over an ELF symbol table's bytes
 * (Elf64_Sym or Elf32_Sym entries, in the file's byte order; a partial last entry ignored): perf's
 * elf_sym__filter and elf_sym__is_label. An entry is kept when its st_name is not 0 and its st_shndx is a
 * loaded section (loaded[shndx] != 0; indexes past `loaded` are not), and either its type is FUNC,
 * GNU_IFUNC or OBJECT, or its type is NOTYPE, its visibility is neither HIDDEN nor INTERNAL and its section
 * is a text or data one (texts[shndx] != 0). keep: a byte per entry (1 kept); name_offsets: the kept
 * entries' st_name (u32 values: array('I') contents); svmas, sizes (u64 values: array('Q') contents) and
 * info (a byte each) theirs too. _kept and symbol_names' rest are the Python twins (tests/test_symtab_c.py). */
static PyObject *session_symtab_keep(PyObject *self, PyObject *args)
{
    Py_buffer raw, loaded, texts;
    int is64, little;
    PyObject *out = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*ppy*y*", &raw, &is64, &little, &loaded, &texts))
        return NULL;
    Py_ssize_t entsize = is64 ? 24 : 16, count = raw.len / entsize, kept = 0;
    const unsigned char *base = raw.buf, *load = loaded.buf, *text = texts.buf;
    /* the returned columns written in place, then cut to the kept entries (not made in scratch memory and
     * copied: their fresh pages are most of a cold report's cost here) */
    PyObject *keep = PyBytes_FromStringAndSize(NULL, count), *b_names = PyBytes_FromStringAndSize(NULL, count * 4),
             *b_svmas = PyBytes_FromStringAndSize(NULL, count * 8), *b_sizes = PyBytes_FromStringAndSize(NULL, count * 8),
             *b_infos = PyBytes_FromStringAndSize(NULL, count);
    if (!keep || !b_names || !b_svmas || !b_sizes || !b_infos)
        goto done;
    uint32_t *names = (uint32_t *)PyBytes_AS_STRING(b_names);
    uint64_t *svmas = (uint64_t *)PyBytes_AS_STRING(b_svmas), *sizes = (uint64_t *)PyBytes_AS_STRING(b_sizes);
    unsigned char *infos = (unsigned char *)PyBytes_AS_STRING(b_infos);
    unsigned char *k = (unsigned char *)PyBytes_AS_STRING(keep);
    for (Py_ssize_t i = 0; i < count; i++) {
        const unsigned char *e = base + i * entsize;
        uint64_t name, value, size, shndx;
        unsigned info, other;
        /* Elf64_Sym: name u32, info u8, other u8, shndx u16, value u64, size u64;
         * Elf32_Sym: name u32, value u32, size u32, info u8, other u8, shndx u16 */
        if (is64) {
            name = read_uint(e, 4, little);
            info = e[4];
            other = e[5];
            shndx = read_uint(e + 6, 2, little);
            value = read_uint(e + 8, 8, little);
            size = read_uint(e + 16, 8, little);
        } else {
            name = read_uint(e, 4, little);
            value = read_uint(e + 4, 4, little);
            size = read_uint(e + 8, 4, little);
            info = e[12];
            other = e[13];
            shndx = read_uint(e + 14, 2, little);
        }
        unsigned type = info & 0xf;
        int in_loaded = shndx < (uint64_t)loaded.len && load[shndx];
        int take = 0;
        if (in_loaded && name) {
            if (type == 2 || type == 10 || type == 1) /* STT_FUNC, STT_GNU_IFUNC, STT_OBJECT */
                take = 1;
            else if (type == 0 && (other & 3) != 2 && (other & 3) != 1 && shndx < (uint64_t)texts.len && text[shndx])
                take = 1; /* a NOTYPE label (STV_HIDDEN 2, STV_INTERNAL 1 left out) */
        }
        k[i] = (unsigned char)take;
        if (take) {
            names[kept] = (uint32_t)name;
            svmas[kept] = value;
            sizes[kept] = size;
            infos[kept] = (unsigned char)info;
            kept++;
        }
    }
    if (_PyBytes_Resize(&b_names, kept * 4) < 0 || _PyBytes_Resize(&b_svmas, kept * 8) < 0 ||
        _PyBytes_Resize(&b_sizes, kept * 8) < 0 || _PyBytes_Resize(&b_infos, kept) < 0)
        goto done;  /* (_PyBytes_Resize cleared the one it failed on) */
    out = PyTuple_Pack(5, keep, b_names, b_svmas, b_sizes, b_infos);
done:
    Py_XDECREF(keep);
    Py_XDECREF(b_names);
    Py_XDECREF(b_svmas);
    Py_XDECREF(b_sizes);
    Py_XDECREF(b_infos);
    PyBuffer_Release(&raw);
    PyBuffer_Release(&loaded);
    PyBuffer_Release(&texts);
    return out;
}

/* plt_names(rel, rel_size, is_64, little, dynsym, strtab) -> [str]
 *
 * symbols.symtab.plt_symbols' names, in relocation order: for each .rela.plt/.rel.plt entry of `rel_size`
 * bytes (r_info the second field: ELF64_R_SYM its high 32 bits, ELF32_R_SYM its bits 8 and up), the
 * .dynsym entry's name from `strtab` + "@plt" ("@plt" for symbol index 0 or an index past the table; a
 * name without NUL ends with the table), decoded as UTF-8 with replacement (perf's
 * dso__synthesize_plt_symbols). Its Python loop is the twin (tests/test_speedups_session.py). */
static PyObject *session_plt_names(PyObject *self, PyObject *args)
{
    Py_buffer rel, sym, str;
    Py_ssize_t rel_size;
    int is64, little;
    PyObject *out = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nppy*y*", &rel, &rel_size, &is64, &little, &sym, &str))
        return NULL;
    int width = is64 ? 8 : 4;
    Py_ssize_t sym_size = is64 ? 24 : 16;
    if (rel_size < 2 * width) {
        PyErr_SetString(PyExc_ValueError, "plt_names: relocation entries too small");
        goto done;
    }
    Py_ssize_t n = rel.len / rel_size;
    const unsigned char *r = rel.buf, *syms = sym.buf, *strs = str.buf;
    out = PyList_New(n);
    if (out == NULL)
        goto done;
    char buf[512];
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t r_info = read_uint(r + i * rel_size + width, width, little);
        uint64_t index = is64 ? r_info >> 32 : r_info >> 8;
        const char *name = "";
        Py_ssize_t len = 0;
        if (index && (uint64_t)(index + 1) * sym_size <= (uint64_t)sym.len) {
            uint64_t st_name = read_uint(syms + index * sym_size, 4, little);
            if (st_name <= (uint64_t)str.len) {
                const char *start = (const char *)strs + st_name;
                const char *nul = memchr(start, 0, str.len - st_name);
                name = start;
                len = nul != NULL ? nul - start : str.len - (Py_ssize_t)st_name;
            }
        }
        PyObject *text;
        if (len + 4 <= (Py_ssize_t)sizeof(buf)) {
            memcpy(buf, name, len);
            memcpy(buf + len, "@plt", 4);
            text = PyUnicode_DecodeUTF8(buf, len + 4, "replace");
        } else {
            PyObject *head = PyUnicode_DecodeUTF8(name, len, "replace");
            text = head != NULL ? PyUnicode_FromFormat("%U@plt", head) : NULL;
            Py_XDECREF(head);
        }
        if (text == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, text);
    }
done:
    PyBuffer_Release(&rel);
    PyBuffer_Release(&sym);
    PyBuffer_Release(&str);
    return out;
}

/* count_run(keys, cache, pending, order, fixed, kernel_check=False) -> int | (counts, new)
 *
 * session.counts._KeyCounter.add_run's loop over one run of sample keys (bytes, in order). The run's keys are
 * counted per distinct key (first-occurrence order, as collections' count_into). If every distinct key is in
 * `cache` (key -> (bucket, group, period)), each one's count is added to `pending` (key -> samples) and, when
 * `order` is a list, each sample's cached resolution is appended to it, in the run's order: 0.
 * Otherwise, with `fixed` None, a new key whose pid (at `fixed`'s pid_at) is -1, or with `kernel_check` a key
 * that reaches the kernel (counts._kernel_key): (counts, new), counts the dict key -> count and new the list
 * of distinct keys not cached, nothing changed (the caller's own path).
 * Otherwise (no thread of unknown pid; keys of fixed fields, or keys with a call chain (MODE_CHAINED): the
 * caller says so by passing `fixed`, a tuple, see FX_* below, and `kernel_check` until the kernel's symbols
 * are settled), each distinct key
 * in order: a cached one's count added to `pending`; a new one resolved here as FixedKeys.resolve (or
 * resolve_chained) and _KeyCounter._add_fixed (or _add_chained) do it, when its event's index is kept per
 * id, its thread found by tid with its pid known, a kernel ip's location kept in `locations`, no other
 * thread noted under its tid, the cache below its limit, and the machine's pid updates and the kernel's
 * epoch as the counter last saw them (also after the Python calls this makes: a user ip's location from its
 * process's avma -> frame memo, session._fp_memo's when the maps moved on, memo[ip] =
 * frames.frame(maps.find(ip), ip) when it lacks it; a user-only chain's frames found in that memo by user_chain, the
 * missing ones as session.chain_misses finds them; a chain with a kernel part (MODE_CHAINED: kernel-mode keys too,
 * their ip's location from `locations` or session.kernel_location) by kernel_chain from session._kernel_memo at the
 * kernel maps' generation and that memo, else session._chains' entry or session._callchain; the thread's state by
 * machine.thread_state when it has none): the
 * key cached, noted under its tid and, for a user-mode or chained key, its maps, counted into its group. Any other
 * new key: add(key, count) (FX_ADD: the Python path; what this looked up is kept where that path looks, so
 * it finds the same).
 * Then `order` as above (every key's hit: in C when every hit is a plain resolution, else in_order(order,
 * keys, hits, False)). Returns the samples counted into groups here (the caller adds them to nr_samples).
 * counts._py_count_run is the Python twin (add for every new key). */
enum {
    FX_ADD, FX_IN_ORDER, FX_SPLIT, FX_GROUPS, FX_EVSELS, FX_THREADS, FX_LOCATIONS, FX_BY_TID, FX_BY_MAPS,
    FX_SESSION, FX_MACHINE, FX_DEPENDENTS, FX_KERNEL, FX_COUNTER, FX_CACHE_LIMIT, FX_MIN_LEN, FX_ID_AT, FX_IP_AT,
    FX_TID_AT, FX_PERIOD_AT, FX_PERIODS, FX_PID_AT, FX_FRAMES, FX_MODE, FX_CHAIN_AT, FX_RAW, FX_WITH_CHAIN,
    FX_WITH_RAW, FX_SIZE
};
enum { MODE_FIXED, MODE_CHAINED
};

static PyObject *s_pid, *s_state, *s_maps, *s_generation, *s_fp_memos, *s_pid_updates, *s_epoch, *s_kernel_epoch,
    *s_fp_memo, *s_find, *s_frame, *s_thread_state, *s_chained_evsels, *s_max_stack, *s_caller_order, *s_avma,
    *s_dso_obj, *s_kernel_memo, *s_kernel_maps, *s_chains, *s_callchain, *s_kernel_location, *s_interned;

static int intern_names(void)
{
    if (s_pid != NULL)
        return 0;
    s_state = PyUnicode_InternFromString("state");
    s_maps = PyUnicode_InternFromString("maps");
    s_generation = PyUnicode_InternFromString("generation");
    s_fp_memos = PyUnicode_InternFromString("_fp_memos");
    s_pid_updates = PyUnicode_InternFromString("pid_updates");
    s_epoch = PyUnicode_InternFromString("epoch");
    s_kernel_epoch = PyUnicode_InternFromString("kernel_epoch");
    s_fp_memo = PyUnicode_InternFromString("_fp_memo");
    s_find = PyUnicode_InternFromString("find");
    s_frame = PyUnicode_InternFromString("frame");
    s_thread_state = PyUnicode_InternFromString("thread_state");
    s_chained_evsels = PyUnicode_InternFromString("chained_evsels");
    s_max_stack = PyUnicode_InternFromString("max_stack");
    s_caller_order = PyUnicode_InternFromString("caller_order");
    s_avma = PyUnicode_InternFromString("avma");
    s_dso_obj = PyUnicode_InternFromString("dso_obj");
    s_kernel_memo = PyUnicode_InternFromString("_kernel_memo");
    s_kernel_maps = PyUnicode_InternFromString("kernel_maps");
    s_chains = PyUnicode_InternFromString("_chains");
    s_callchain = PyUnicode_InternFromString("_callchain");
    s_kernel_location = PyUnicode_InternFromString("kernel_location");
    s_interned = PyUnicode_InternFromString("interned");
    if (!s_interned || !s_kernel_memo || !s_kernel_maps || !s_chains || !s_callchain || !s_kernel_location)
        return -1;
    if (!s_fp_memo || !s_find || !s_frame || !s_thread_state || !s_chained_evsels || !s_max_stack || !s_caller_order ||
        !s_avma || !s_dso_obj)
        return -1;
    if (!s_state || !s_maps || !s_generation || !s_fp_memos || !s_pid_updates || !s_epoch || !s_kernel_epoch)
        return -1;
    s_pid = PyUnicode_InternFromString("pid");
    return s_pid == NULL ? -1 : 0;
}

/* 1: a.name == b.name2; 0: not; -1: error */
static int attrs_equal(PyObject *a, PyObject *name, PyObject *b, PyObject *name2)
{
    PyObject *x = PyObject_GetAttr(a, name);
    if (x == NULL)
        return -1;
    PyObject *y = PyObject_GetAttr(b, name2);
    if (y == NULL) {
        Py_DECREF(x);
        return -1;
    }
    int same = PyObject_RichCompareBool(x, y, Py_EQ);
    Py_DECREF(x);
    Py_DECREF(y);
    return same;
}

static Py_ssize_t fx_ssize(PyObject *fixed, int at)
{
    PyObject *v = PyTuple_GET_ITEM(fixed, at);
    return v == Py_None ? -1 : PyLong_AsSsize_t(v);
}

/* Add count samples of (bucket, group, period) to the bucket: _KeyCounter._add_fixed's last step. */
static int group_add(PyObject *bucket, PyObject *group, PyObject *period, Py_ssize_t count)
{
    PyObject *n = PyLong_FromSsize_t(count);
    if (n == NULL)
        return -1;
    PyObject *sum = PyNumber_Multiply(period, n);
    if (sum == NULL) {
        Py_DECREF(n);
        return -1;
    }
    int rc = -1;
    PyObject *got = PyDict_GetItemWithError(bucket, group);
    if (got != NULL) {
        if (!PyList_Check(got) || PyList_GET_SIZE(got) < 2) {
            PyErr_SetString(PyExc_TypeError, "count_run: a group's value is not a [period, count] list");
            goto done;
        }
        PyObject *a = PyNumber_Add(PyList_GET_ITEM(got, 0), sum);
        if (a == NULL)
            goto done;
        PyList_SetItem(got, 0, a);
        PyObject *b = PyNumber_Add(PyList_GET_ITEM(got, 1), n);
        if (b == NULL)
            goto done;
        PyList_SetItem(got, 1, b);
        rc = 0;
    } else if (!PyErr_Occurred()) {
        PyObject *value = PyList_New(2);
        if (value == NULL)
            goto done;
        Py_INCREF(sum);
        PyList_SET_ITEM(value, 0, sum);
        Py_INCREF(n);
        PyList_SET_ITEM(value, 1, n);
        rc = PyDict_SetItem(bucket, group, value);
        Py_DECREF(value);
    }
done:
    Py_DECREF(sum);
    Py_DECREF(n);
    return rc;
}

/* pending[key] += count */
static int pending_add(PyObject *pending, PyObject *key, PyObject *count)
{
    PyObject *got = PyDict_GetItemWithError(pending, key);
    if (got == NULL) {
        if (PyErr_Occurred())
            return -1;
        return PyDict_SetItem(pending, key, count);
    }
    PyObject *sum = PyNumber_Add(got, count);
    if (sum == NULL)
        return -1;
    int rc = PyDict_SetItem(pending, key, sum);
    Py_DECREF(sum);
    return rc;
}

/* ---- a process's frame of an address (FrameTable.frame(maps.find(avma), avma)) without Python calls ----
 * For the session's own classes (exactly: session.maps.Maps and Map, session.frames.FrameTable and Frame,
 * session.dsos.Dso and Resolved, their methods not replaced), what those methods do: the map by a bisect of
 * maps._starts (Maps.find), the frame interned in frames._frames under (map, avma) or (".", avma) without a
 * map (FrameTable.frame), else made as FrameTable._make makes it (Frame.__init__'s slots set in place), its
 * symbol from the dso's answers (dso._cache; Dso.resolve for an offset not there yet). Anything else, or a
 * value that is not an int in [0, 2**63): the Python methods. */
static PyTypeObject *cm_Maps, *cm_Map, *cm_FrameTable, *cm_Frame, *cm_Dso, *cm_Resolved;
static PyObject *cm_unknown, *cm_dot, *cm_s_frames, *cm_s_resolve, *cm_find_fn, *cm_frame_fn, *cm_make_fn,
    *cm_s_make_name;
static Py_ssize_t cm_o_starts, cm_o_maps, cm_o_start, cm_o_end, cm_o_pgoff, cm_o_dso, cm_o_identity, cm_o_cache,
    cm_o_short_name, cm_o_res_name, cm_o_res_start;
/* Frame's slots, in Frame.__init__'s order: dso, sym, avma, file_offset, sym_start, inlined, dso_obj, resolved,
 * level */
static Py_ssize_t cm_o_frame[9];
static int cm_ready;  /* 1 set up, -1 not possible (the Python methods) */
static PyObject *cm_checked;  /* (the FrameTable whose methods count_run checked in this call: compared only) */
static int cm_checked_own;

static PyTypeObject *cm_type(const char *module, const char *name)
{
    PyObject *mod = PyImport_ImportModule(module);
    PyObject *t = mod ? PyObject_GetAttrString(mod, name) : NULL;
    Py_XDECREF(mod);
    if (t && !PyType_Check(t)) Py_CLEAR(t);
    return (PyTypeObject *)t;
}

/* the offset of a writable object slot (a __slots__ entry) of type: 1, else 0 */
static int cm_off(PyTypeObject *type, const char *name, Py_ssize_t *off)
{
    PyObject *n = PyUnicode_InternFromString(name);
    PyObject *d = n ? _PyType_Lookup(type, n) : NULL;
    Py_XDECREF(n);
    if (!d || !Py_IS_TYPE(d, &PyMemberDescr_Type) || ((PyMemberDescrObject *)d)->d_member->type != T_OBJECT_EX ||
        (((PyMemberDescrObject *)d)->d_member->flags & READONLY))
        return 0;
    *off = ((PyMemberDescrObject *)d)->d_member->offset;
    return 1;
}

static PyObject *cm_class_fn(PyTypeObject *type, const char *name)
{
    PyObject *fn = type ? PyDict_GetItemString(type->tp_dict, name) : NULL;
    Py_XINCREF(fn);
    return fn;
}

static int cm_setup(void)
{
    if (cm_ready)
        return cm_ready > 0;
    cm_ready = -1;
    if (!(cm_s_frames = PyUnicode_InternFromString("_frames")) || !(cm_s_resolve = PyUnicode_InternFromString("resolve")) ||
        !(cm_s_make_name = PyUnicode_InternFromString("_make")) || !(cm_dot = PyUnicode_InternFromString(".")))
        return -1;
    cm_Maps = cm_type("pyperf_probe.session.maps", "Maps");
    cm_Map = cm_type("pyperf_probe.session.maps", "Map");
    cm_FrameTable = cm_type("pyperf_probe.session.frames", "FrameTable");
    cm_Frame = cm_type("pyperf_probe.session.frames", "Frame");
    cm_Dso = cm_type("pyperf_probe.session.dsos", "Dso");
    cm_Resolved = cm_type("pyperf_probe.session.dsos", "Resolved");
    cm_find_fn = cm_class_fn(cm_Maps, "find");
    cm_frame_fn = cm_class_fn(cm_FrameTable, "frame");
    cm_make_fn = cm_class_fn(cm_FrameTable, "_make");
    PyObject *dsos = PyImport_ImportModule("pyperf_probe.session.dsos");
    cm_unknown = dsos ? PyObject_GetAttrString(dsos, "UNKNOWN_NAME") : NULL;
    Py_XDECREF(dsos);
    PyErr_Clear();
    if (!cm_Maps || !cm_Map || !cm_FrameTable || !cm_Frame || !cm_Dso || !cm_Resolved || !cm_unknown ||
        !PyUnicode_Check(cm_unknown) || !cm_find_fn || !cm_frame_fn || !cm_make_fn)
        return 0;
    static const char *frame_slots[9] = {"dso", "sym", "avma", "file_offset", "sym_start", "inlined", "dso_obj",
                                         "resolved", "level"};
    for (int i = 0; i < 9; i++)
        if (!cm_off(cm_Frame, frame_slots[i], &cm_o_frame[i]))
            return 0;
    if (!cm_off(cm_Maps, "_starts", &cm_o_starts) || !cm_off(cm_Maps, "_maps", &cm_o_maps) ||
        !cm_off(cm_Map, "start", &cm_o_start) || !cm_off(cm_Map, "end", &cm_o_end) ||
        !cm_off(cm_Map, "pgoff", &cm_o_pgoff) || !cm_off(cm_Map, "dso", &cm_o_dso) ||
        !cm_off(cm_Map, "identity", &cm_o_identity) || !cm_off(cm_Dso, "_cache", &cm_o_cache) ||
        !cm_off(cm_Dso, "short_name", &cm_o_short_name) || !cm_off(cm_Resolved, "name", &cm_o_res_name) ||
        !cm_off(cm_Resolved, "start", &cm_o_res_start))
        return 0;
    PyErr_Clear();
    cm_ready = 1;
    return 1;
}

#define CM_SLOT(o, off) (*(PyObject **)((char *)(o) + (off)))

/* an int in [0, 2**63) as a u64: 1, else 0 (no error set) */
static int cm_u64(PyObject *v, uint64_t *out)
{
    int overflow;
    if (!v || !PyLong_CheckExact(v))
        return 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow || x < 0) {
        PyErr_Clear();
        return 0;
    }
    *out = (uint64_t)x;
    return 1;
}

/* obj.name is still the class's own function fn (no instance or class attribute put in its place: tests watch
 * the look-ups that way): 1, else 0 (no error set) */
static int cm_own(PyObject *obj, PyObject *name, PyObject *fn)
{
    PyObject *bound = PyObject_GetAttr(obj, name);
    int own = bound && PyMethod_Check(bound) && PyMethod_GET_FUNCTION(bound) == fn && PyMethod_GET_SELF(bound) == obj;
    Py_XDECREF(bound);
    PyErr_Clear();
    return own;
}

/* the map of `maps` holding avma a (Maps.find): borrowed, Py_None without one, NULL when maps is not as
 * expected */
static PyObject *cm_find(PyObject *maps, uint64_t a)
{
    PyObject *starts = CM_SLOT(maps, cm_o_starts), *list = CM_SLOT(maps, cm_o_maps);
    if (!starts || !list || !PyList_CheckExact(starts) || !PyList_CheckExact(list) ||
        PyList_GET_SIZE(starts) != PyList_GET_SIZE(list))
        return NULL;
    Py_ssize_t lo = 0, hi = PyList_GET_SIZE(starts);
    while (lo < hi) {  /* bisect_right */
        Py_ssize_t mid = lo + (hi - lo) / 2;
        uint64_t start;
        if (!cm_u64(PyList_GET_ITEM(starts, mid), &start))
            return NULL;
        if (a < start)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo == 0)
        return Py_None;
    PyObject *m = PyList_GET_ITEM(list, lo - 1);
    uint64_t end;
    if (Py_TYPE(m) != cm_Map || !cm_u64(CM_SLOT(m, cm_o_end), &end))
        return NULL;
    return a < end ? m : Py_None;
}

/* a Frame made with Frame.__init__'s values (a new reference; NULL and an error without memory) */
static PyObject *cm_new_frame(PyObject *const values[9])
{
    PyObject *frame = cm_Frame->tp_alloc(cm_Frame, 0);
    if (!frame)
        return NULL;
    for (int i = 0; i < 9; i++)
        CM_SLOT(frame, cm_o_frame[i]) = Py_NewRef(values[i]);
    return frame;
}

/* FrameTable._make(map_, avma, ".") for a Map of a Dso (or no map): the new Frame, NULL with an error set, or
 * NULL without one (not the classes expected: the caller's Python path) */
static PyObject *cm_make(PyObject *map, PyObject *avma, uint64_t a)
{
    if (map == Py_None) {
        PyObject *const values[9] = {cm_unknown, Py_None, avma, Py_None, Py_None, Py_False, Py_None, Py_None, cm_dot};
        return cm_new_frame(values);
    }
    PyObject *dso = CM_SLOT(map, cm_o_dso), *ident = CM_SLOT(map, cm_o_identity), *file_offset = NULL, *res = NULL;
    PyObject *out = NULL;
    if (!dso || Py_TYPE(dso) != cm_Dso || !ident)
        return NULL;
    int is_ident = PyObject_IsTrue(ident);
    if (is_ident < 0)
        return NULL;
    if (is_ident) {
        file_offset = Py_NewRef(avma);
    } else {
        uint64_t mstart, pgoff;
        if (!cm_u64(CM_SLOT(map, cm_o_start), &mstart) || !cm_u64(CM_SLOT(map, cm_o_pgoff), &pgoff) || a < mstart ||
            a - mstart > UINT64_MAX - pgoff)
            return NULL;
        if (!(file_offset = PyLong_FromUnsignedLongLong(a - mstart + pgoff)))
            return NULL;
    }
    PyObject *cache = CM_SLOT(dso, cm_o_cache), *short_name = CM_SLOT(dso, cm_o_short_name);
    if (!cache || !PyDict_CheckExact(cache) || !short_name)
        goto done;
    res = PyDict_GetItemWithError(cache, file_offset);
    if (res)
        Py_INCREF(res);
    else if (PyErr_Occurred() || !(res = PyObject_CallMethodOneArg(dso, cm_s_resolve, file_offset)))
        goto done;
    if (res == Py_None) {
        PyObject *const values[9] = {short_name, Py_None, avma, file_offset, Py_None, Py_False, dso, Py_None, cm_dot};
        out = cm_new_frame(values);
    } else if (Py_TYPE(res) == cm_Resolved && CM_SLOT(res, cm_o_res_name) && CM_SLOT(res, cm_o_res_start)) {
        PyObject *const values[9] = {short_name, CM_SLOT(res, cm_o_res_name), avma, file_offset,
                                     CM_SLOT(res, cm_o_res_start), Py_False, dso, res, cm_dot};
        out = cm_new_frame(values);
    }
done:
    Py_XDECREF(file_offset);
    Py_XDECREF(res);
    return out;
}

/* frames.frame(maps.find(avma), avma): in C for the session's classes (above), else by those methods */
static PyObject *cm_frame(PyObject *maps, PyObject *frames, PyObject *avma)
{
    int ready = cm_setup();
    if (ready < 0)
        return NULL;
    uint64_t a;
    if (ready && frames != cm_checked) {  /* (once per count_run call and frame table) */
        cm_checked = frames;
        cm_checked_own = Py_TYPE(frames) == cm_FrameTable && cm_own(frames, s_frame, cm_frame_fn) &&
                         cm_own(frames, cm_s_make_name, cm_make_fn) && _PyType_Lookup(cm_Maps, s_find) == cm_find_fn;
    }
    if (ready && cm_checked_own && Py_TYPE(maps) == cm_Maps && cm_u64(avma, &a)) {
        PyObject *table = NULL, *key = NULL, *frame = NULL, *map = cm_find(maps, a);
        if (!map)
            goto python;
        table = PyObject_GetAttr(frames, cm_s_frames);
        if (!table || !PyDict_CheckExact(table)) {
            PyErr_Clear();
            goto c_done;
        }
        if (!(key = PyTuple_Pack(2, map == Py_None ? cm_dot : map, avma)))
            goto c_done;
        frame = PyDict_GetItemWithError(table, key);
        if (frame) {
            Py_INCREF(frame);
        } else if (!PyErr_Occurred() && (frame = cm_make(map, avma, a)) != NULL) {
            if (PyDict_SetItem(table, key, frame) < 0)
                Py_CLEAR(frame);
        }
    c_done:
        Py_XDECREF(table);
        Py_XDECREF(key);
        if (frame || PyErr_Occurred())
            return frame;
    }
python:;
    PyObject *map = PyObject_CallMethodOneArg(maps, s_find, avma);
    if (map == NULL)
        return NULL;
    PyObject *frame = PyObject_CallMethodObjArgs(frames, s_frame, map, avma, NULL);
    Py_DECREF(map);
    return frame;
}

/* Session.chain_misses (its Python twin): the frames of user_chain_of's list, each address in it (an int) found
 * in `memo` or, failing that, memo[avma] = frames.frame(maps.find(avma), avma), leaf first (root first in
 * caller order); the tuple of frames. */
static PyObject *chain_misses(PyObject *list, PyObject *memo, PyObject *maps, PyObject *frames, int caller_order)
{
    Py_ssize_t n = PyList_GET_SIZE(list);
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = caller_order ? n - 1 - k : k;
        PyObject *avma = PyList_GET_ITEM(list, i);
        if (!PyLong_CheckExact(avma))
            continue;
        PyObject *frame = PyDict_GetItemWithError(memo, avma);
        if (frame != NULL) {
            Py_INCREF(frame);
        } else {
            if (PyErr_Occurred())
                return NULL;
            frame = cm_frame(maps, frames, avma);
            if (frame == NULL)
                return NULL;
            if (PyDict_SetItem(memo, avma, frame) < 0) {
                Py_DECREF(frame);
                return NULL;
            }
        }
        PyList_SetItem(list, i, frame); /* (steals frame; avma released) */
    }
    return PyList_AsTuple(list);
}

/* A chain the memos do not hold (fixed_keys.FixedKeys.resolve_chained's way): session._chains[(maps, maps'
 * generation, kernel maps' generation, the chain's nr entries)], else session._callchain(thread, entries). */
static PyObject *chain_by_session(PyObject *session, PyObject *machine, PyObject *thread, PyObject *maps,
                                  const unsigned char *ips, Py_ssize_t nr)
{
    PyObject *entries = PyTuple_New(nr), *look = NULL, *chains = NULL, *out = NULL;
    PyObject *mgen = NULL, *kmaps = NULL, *kgen = NULL;
    if (entries == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nr; i++) {
        PyObject *v = PyLong_FromUnsignedLongLong(load_u64(ips + 8 * i));
        if (v == NULL)
            goto done;
        PyTuple_SET_ITEM(entries, i, v);
    }
    mgen = PyObject_GetAttr(maps, s_generation);
    kmaps = mgen == NULL ? NULL : PyObject_GetAttr(machine, s_kernel_maps);
    kgen = kmaps == NULL ? NULL : PyObject_GetAttr(kmaps, s_generation);
    chains = kgen == NULL ? NULL : PyObject_GetAttr(session, s_chains);
    if (chains == NULL)
        goto done;
    if (PyDict_Check(chains)) {
        look = PyTuple_Pack(4, maps, mgen, kgen, entries);
        if (look == NULL)
            goto done;
        out = PyDict_GetItemWithError(chains, look);
        if (out != NULL) {
            Py_INCREF(out);
            goto done;
        }
        if (PyErr_Occurred())
            goto done;
    }
    out = PyObject_CallMethodObjArgs(session, s_callchain, thread, entries, NULL);
done:
    Py_DECREF(entries);
    Py_XDECREF(look);
    Py_XDECREF(chains);
    Py_XDECREF(mgen);
    Py_XDECREF(kmaps);
    Py_XDECREF(kgen);
    return out;
}

/* Is the machine as the counter last saw it (no pid learnt, the kernel's epoch the same)? 1, 0, -1 error */
static int fixed_in_step(PyObject *fixed)
{
    int same = attrs_equal(PyTuple_GET_ITEM(fixed, FX_MACHINE), s_pid_updates, PyTuple_GET_ITEM(fixed, FX_DEPENDENTS),
                           s_pid_updates);
    if (same != 1)
        return same;
    return attrs_equal(PyTuple_GET_ITEM(fixed, FX_KERNEL), s_epoch, PyTuple_GET_ITEM(fixed, FX_COUNTER), s_kernel_epoch);
}

/* The resolution of a new key of fixed fields when everything it needs is kept (see count_run): 1 and the
 * key cached, noted, counted (*hit a new reference, *counted += count); 0: not resolvable here (nothing
 * changed); -1: error. *called is set when Python code ran (what it looked up is kept). */
static int fixed_resolve(PyObject *fixed, PyObject *key, Py_ssize_t count, PyObject *cache, PyObject **hit,
                         int *called)
{
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(key);
    Py_ssize_t len = PyBytes_GET_SIZE(key);
    Py_ssize_t min_len = fx_ssize(fixed, FX_MIN_LEN), id_at = fx_ssize(fixed, FX_ID_AT);
    Py_ssize_t ip_at = fx_ssize(fixed, FX_IP_AT), tid_at = fx_ssize(fixed, FX_TID_AT);
    Py_ssize_t period_at = fx_ssize(fixed, FX_PERIOD_AT), limit = fx_ssize(fixed, FX_CACHE_LIMIT);
    if (PyErr_Occurred())
        return -1;
    if (len < min_len || len < 1)
        return 0;
    Py_ssize_t mode = fx_ssize(fixed, FX_MODE), chain_at = fx_ssize(fixed, FX_CHAIN_AT);
    int keep_raw = PyTuple_GET_ITEM(fixed, FX_RAW) == Py_True;
    int cpumode = buf[0] & 7;
    if (cpumode != 2 && cpumode != 1) /* MISC_USER, MISC_KERNEL */
        return 0;
    if (PyDict_GET_SIZE(cache) >= limit)
        return 0;
    int rc = -1;
    PyObject *id = NULL, *tid = NULL, *ip = NULL, *thread = NULL, *state = NULL, *maps = NULL, *location = NULL;
    PyObject *period = NULL, *group = NULL, *by_tid_got = NULL, *memos = NULL, *raw = NULL, *chain = NULL;
    PyObject *memo_dict = NULL;
    uint64_t nr = 0;
    id = PyLong_FromUnsignedLongLong(id_at >= 0 ? load_u64(buf + id_at) : 0);
    if (id == NULL)
        goto done;
    PyObject *evsel = PyDict_GetItemWithError(PyTuple_GET_ITEM(fixed, FX_EVSELS), id);
    if (evsel == NULL)
        goto miss;
    PyObject *groups = PyTuple_GET_ITEM(fixed, FX_GROUPS);
    Py_ssize_t index = PyLong_AsSsize_t(evsel);
    if (index == -1 && PyErr_Occurred())
        goto done;
    if (index < 0 || index >= PyList_GET_SIZE(groups))
        goto miss_clear;
    PyObject *bucket = PyList_GET_ITEM(groups, index);
    if (mode == MODE_CHAINED) { /* (FixedKeys.resolve_chained: the chain's size, RAW after it) */
        if (chain_at < 0 || len < chain_at + 8)
            goto miss;
        nr = load_u64(buf + chain_at);
        if (nr > (uint64_t)(len - chain_at - 8) >> 3)
            goto miss;
        if (keep_raw) {
            Py_ssize_t end = chain_at + 8 + 8 * (Py_ssize_t)nr;
            if (end + 4 > len)
                goto miss;
            uint32_t size;
            memcpy(&size, buf + end, 4);
            if ((Py_ssize_t)size > len - end - 4)
                goto miss;
            raw = PyBytes_FromStringAndSize((const char *)buf + end + 4, size);
            if (raw == NULL)
                goto done;
        }
    }
    int32_t tid_value;
    memcpy(&tid_value, buf + tid_at, 4);
    tid = PyLong_FromLong(tid_value);
    if (tid == NULL)
        goto done;
    thread = PyDict_GetItemWithError(PyTuple_GET_ITEM(fixed, FX_THREADS), tid);
    if (thread == NULL)
        goto miss;
    Py_INCREF(thread);
    PyObject *pid = PyObject_GetAttr(thread, s_pid);
    if (pid == NULL)
        goto done;
    long pid_value = PyLong_AsLong(pid);
    Py_DECREF(pid);
    if (pid_value == -1) /* (unknown pid, or not an int: the Python path) */
        goto miss_clear;
    ip = PyLong_FromUnsignedLongLong(load_u64(buf + ip_at));
    if (ip == NULL)
        goto done;
    /* (*called: Python code ran; the machine is checked again before anything is kept) */
    if (cpumode == 1) { /* (a kernel-mode key's location first, as Session.resolve) */
        location = PyDict_GetItemWithError(PyTuple_GET_ITEM(fixed, FX_LOCATIONS), ip);
        if (location != NULL) {
            Py_INCREF(location);
        } else if (PyErr_Occurred() || mode != MODE_CHAINED) {
            goto miss;
        } else { /* (resolve_chained: locations[ip] = session.kernel_location(ip)) */
            location = PyObject_CallMethodOneArg(PyTuple_GET_ITEM(fixed, FX_SESSION), s_kernel_location, ip);
            *called = 1;
            if (location == NULL)
                goto done;
            if (PyDict_SetItem(PyTuple_GET_ITEM(fixed, FX_LOCATIONS), ip, location) < 0)
                goto done;
        }
    }
    if (cpumode != 1 || mode == MODE_CHAINED) {
        /* (FixedKeys.resolve: the process's memo, _fp_memo's when not at the maps' generation) */
        PyObject *session = PyTuple_GET_ITEM(fixed, FX_SESSION);
        maps = PyObject_GetAttr(thread, s_maps);
        if (maps == NULL)
            goto done;
        PyObject *generation = PyObject_GetAttr(maps, s_generation);
        if (generation == NULL)
            goto done;
        memos = PyObject_GetAttr(session, s_fp_memos);
        if (memos == NULL) {
            Py_DECREF(generation);
            goto done;
        }
        PyObject *memo = PyDict_Check(memos) ? PyDict_GetItemWithError(memos, maps) : NULL;
        int same = 0;
        if (memo != NULL && PyTuple_Check(memo) && PyTuple_GET_SIZE(memo) == 2 &&
            PyDict_Check(PyTuple_GET_ITEM(memo, 1))) {
            same = PyObject_RichCompareBool(PyTuple_GET_ITEM(memo, 0), generation, Py_EQ);
            if (same < 0) {
                Py_DECREF(generation);
                goto done;
            }
        } else if (PyErr_Occurred()) {
            Py_DECREF(generation);
            goto done;
        }
        if (same) {
            memo_dict = PyTuple_GET_ITEM(memo, 1);
            Py_INCREF(memo_dict);
        } else {
            memo_dict = PyObject_CallMethodObjArgs(session, s_fp_memo, maps, generation, NULL);
            *called = 1;
        }
        Py_DECREF(generation);
        if (memo_dict == NULL)
            goto done;
        if (!PyDict_Check(memo_dict))
            goto miss;
        if (mode == MODE_CHAINED) { /* the chain (user_chain, its misses by session.chain_misses) */
            PyObject *chained = PyObject_GetAttr(session, s_chained_evsels);
            if (chained == NULL)
                goto done;
            int use = nr != 0;
            if (use && chained != Py_None) {
                PyObject *flag = PySequence_GetItem(chained, index);
                use = flag == NULL ? -1 : PyObject_IsTrue(flag);
                Py_XDECREF(flag);
            }
            Py_DECREF(chained);
            if (use < 0)
                goto done;
            if (use) {
                PyObject *stack = PyObject_GetAttr(session, s_max_stack);
                if (stack == NULL)
                    goto done;
                Py_ssize_t max_stack = PyLong_AsSsize_t(stack);
                Py_DECREF(stack);
                if (max_stack == -1 && PyErr_Occurred())
                    goto done;
                PyObject *caller = PyObject_GetAttr(session, s_caller_order);
                if (caller == NULL)
                    goto done;
                int caller_order = PyObject_IsTrue(caller);
                if (caller_order < 0) {
                    Py_DECREF(caller);
                    goto done;
                }
                chain = user_chain_of(buf, len, chain_at, memo_dict, max_stack, caller_order);
                if (chain != NULL && PyList_Check(chain)) {
                    Py_SETREF(chain, chain_misses(chain, memo_dict, maps, PyTuple_GET_ITEM(fixed, FX_FRAMES),
                                                  caller_order));
                    *called = 1;
                }
                if (chain == Py_None) { /* a kernel part: kernel_chain from the kernel's memo at its generation */
                    Py_CLEAR(chain);
                    PyObject *kmemo = PyObject_GetAttr(session, s_kernel_memo);
                    PyObject *kmaps = kmemo == NULL ? NULL :
                        PyObject_GetAttr(PyTuple_GET_ITEM(fixed, FX_MACHINE), s_kernel_maps);
                    PyObject *kgen = kmaps == NULL ? NULL : PyObject_GetAttr(kmaps, s_generation);
                    Py_XDECREF(kmaps);
                    int same = -1;
                    if (kgen != NULL) {
                        same = PyTuple_Check(kmemo) && PyTuple_GET_SIZE(kmemo) == 2 &&
                            PyDict_Check(PyTuple_GET_ITEM(kmemo, 1)) ?
                            PyObject_RichCompareBool(PyTuple_GET_ITEM(kmemo, 0), kgen, Py_EQ) : 0;
                        Py_DECREF(kgen);
                    }
                    if (same > 0)
                        chain = kernel_chain_of(buf, len, chain_at, PyTuple_GET_ITEM(kmemo, 1), memo_dict, max_stack,
                                                caller_order);
                    else if (same == 0)
                        chain = Py_None, Py_INCREF(Py_None);
                    Py_XDECREF(kmemo);
                    if (chain == Py_None) { /* (a frame not in the memos: the chain cache, or _callchain) */
                        Py_CLEAR(chain);
                        chain = chain_by_session(session, PyTuple_GET_ITEM(fixed, FX_MACHINE), thread, maps,
                                                 buf + chain_at + 8, (Py_ssize_t)nr);
                        *called = 1;
                    }
                }
                Py_DECREF(caller);
                if (chain == NULL)
                    goto done;
                if (chain == Py_None || !PyTuple_Check(chain))
                    goto miss;
            } else {
                chain = PyTuple_New(0);
                if (chain == NULL)
                    goto done;
            }
            if (location == NULL && PyTuple_GET_SIZE(chain) > 0) { /* (the leaf's frame is the location when it is the ip's, in a dso) */
                PyObject *leaf = PyTuple_GET_ITEM(chain, 0);
                PyObject *avma = PyObject_GetAttr(leaf, s_avma);
                if (avma == NULL)
                    goto done;
                int same = PyObject_RichCompareBool(avma, ip, Py_EQ);
                Py_DECREF(avma);
                if (same < 0)
                    goto done;
                if (same) {
                    PyObject *dso = PyObject_GetAttr(leaf, s_dso_obj);
                    if (dso == NULL)
                        goto done;
                    if (dso != Py_None) {
                        location = leaf;
                        Py_INCREF(location);
                    }
                    Py_DECREF(dso);
                }
            }
        }
        if (location == NULL) { /* (the ip's from the memo) */
            location = PyDict_GetItemWithError(memo_dict, ip);
            if (location != NULL) {
                Py_INCREF(location);
            } else if (!PyErr_Occurred()) { /* memo[ip] = frames.frame(maps.find(ip), ip) */
                location = cm_frame(maps, PyTuple_GET_ITEM(fixed, FX_FRAMES), ip);
                *called = 1;
                if (location != NULL && PyDict_SetItem(memo_dict, ip, location) < 0)
                    Py_CLEAR(location);
            }
            if (location == NULL)
                goto done;
        }
    }
    state = PyObject_GetAttr(thread, s_state); /* (thread.state or machine.thread_state(thread)) */
    if (state == NULL)
        goto done;
    if (state == Py_None) {
        Py_DECREF(state);
        state = PyObject_CallMethodOneArg(PyTuple_GET_ITEM(fixed, FX_MACHINE), s_thread_state, thread);
        if (state == NULL)
            goto done;
        *called = 1;
    }
    if (*called) {
        int in_step = fixed_in_step(fixed);
        if (in_step <= 0)
            goto miss;
        if (PyDict_GET_SIZE(cache) >= limit)
            goto miss;
    }
    PyObject *by_tid = PyTuple_GET_ITEM(fixed, FX_BY_TID);
    by_tid_got = PyDict_GetItemWithError(by_tid, tid);
    if (by_tid_got == NULL) {
        if (PyErr_Occurred())
            goto done;
    } else {
        if (!PyTuple_Check(by_tid_got) || PyTuple_GET_SIZE(by_tid_got) != 2 ||
            PyTuple_GET_ITEM(by_tid_got, 0) != thread || !PyList_Check(PyTuple_GET_ITEM(by_tid_got, 1))) {
            by_tid_got = NULL; /* (borrowed) */
            goto miss; /* (another thread under this tid: the Python path drops its keys) */
        }
        Py_INCREF(by_tid_got);
    }
    if (period_at >= 0) {
        period = PyLong_FromUnsignedLongLong(load_u64(buf + period_at));
    } else {
        PyObject *periods = PyTuple_GET_ITEM(fixed, FX_PERIODS);
        if (index >= PyTuple_GET_SIZE(periods))
            goto miss;
        period = PyTuple_GET_ITEM(periods, index);
        Py_INCREF(period);
    }
    if (period == NULL)
        goto done;
    /* everything is there: cache, note, count (as _add_fixed) */
    {
        PyObject *empty = PyTuple_New(0); /* (the empty tuple: a group without a chain) */
        if (empty == NULL)
            goto done;
        int with_chain = chain != NULL && PyTuple_GET_ITEM(fixed, FX_WITH_CHAIN) == Py_True;
        int with_raw = raw != NULL && PyTuple_GET_ITEM(fixed, FX_WITH_RAW) == Py_True;
        group = PyTuple_Pack(4, state, location, with_chain ? chain : empty, with_raw ? raw : Py_None);
        Py_DECREF(empty);
        if (group == NULL)
            goto done;
    }
    { /* one hit per equal group (counts.py _KeyCounter._one_hit: the order keeps every key's) */
        PyObject *interned = PyObject_GetAttr(PyTuple_GET_ITEM(fixed, FX_COUNTER), s_interned);
        if (interned == NULL)
            goto done;
        PyObject *same = PyDict_Check(interned) ? PyDict_GetItemWithError(interned, group) : NULL;
        int eq = same != NULL && PyTuple_GET_ITEM(same, 0) == bucket ?
            PyObject_RichCompareBool(PyTuple_GET_ITEM(same, 2), period, Py_EQ) : 0;
        if (eq == 1) {
            Py_INCREF(same);
            *hit = same;
        } else if (eq == 0 && !PyErr_Occurred()) {
            *hit = PyTuple_Pack(3, bucket, group, period);
            if (*hit != NULL && same == NULL && PyDict_Check(interned) && PyDict_SetItem(interned, group, *hit) < 0)
                Py_CLEAR(*hit);
        }
        Py_DECREF(interned);
        if (*hit == NULL)
            goto done;
    }
    if (PyDict_SetItem(cache, key, *hit) < 0)
        goto fail_hit;
    if (by_tid_got == NULL) {
        PyObject *list = PyList_New(1);
        if (list == NULL)
            goto fail_hit;
        Py_INCREF(key);
        PyList_SET_ITEM(list, 0, key);
        PyObject *entry = PyTuple_Pack(2, thread, list);
        Py_DECREF(list);
        if (entry == NULL)
            goto fail_hit;
        int bad = PyDict_SetItem(by_tid, tid, entry);
        Py_DECREF(entry);
        if (bad < 0)
            goto fail_hit;
    } else if (PyList_Append(PyTuple_GET_ITEM(by_tid_got, 1), key) < 0) {
        goto fail_hit;
    }
    if (cpumode != 1 || mode == MODE_CHAINED) { /* (note_maps; a chain's: its user part's maps) */
        PyObject *by_maps = PyTuple_GET_ITEM(fixed, FX_BY_MAPS);
        PyObject *list = PyDict_GetItemWithError(by_maps, maps);
        if (list == NULL) {
            if (PyErr_Occurred())
                goto fail_hit;
            list = PyList_New(0);
            if (list == NULL)
                goto fail_hit;
            int bad = PyDict_SetItem(by_maps, maps, list);
            Py_DECREF(list);
            if (bad < 0)
                goto fail_hit;
        }
        if (!PyList_Check(list)) {
            PyErr_SetString(PyExc_TypeError, "count_run: by_maps holds a non-list");
            goto fail_hit;
        }
        if (PyList_Append(list, key) < 0)
            goto fail_hit;
    }
    if (group_add(bucket, group, period, count) < 0)
        goto fail_hit;
    rc = 1;
    goto done;
fail_hit:
    Py_CLEAR(*hit);
    goto done;
miss_clear:
    PyErr_Clear();
miss:
    rc = PyErr_Occurred() ? -1 : 0;
done:
    Py_XDECREF(id);
    Py_XDECREF(tid);
    Py_XDECREF(ip);
    Py_XDECREF(thread);
    Py_XDECREF(state);
    Py_XDECREF(maps);
    Py_XDECREF(memos);
    Py_XDECREF(location);
    Py_XDECREF(period);
    Py_XDECREF(group);
    Py_XDECREF(by_tid_got);
    Py_XDECREF(raw);
    Py_XDECREF(chain);
    Py_XDECREF(memo_dict);
    return rc;
}

/* counts._kernel_key: a kernel-mode key, or one holding PERF_CONTEXT_KERNEL's bytes anywhere */
static int key_reaches_kernel(PyObject *key)
{
    static const unsigned char mark[8] = {0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    if (!PyBytes_Check(key))
        return 1; /* (not a key the C loop knows: the caller's path) */
    const unsigned char *buf = (const unsigned char *)PyBytes_AS_STRING(key);
    Py_ssize_t len = PyBytes_GET_SIZE(key);
    if (len > 0 && (buf[0] & 7) == 1)
        return 1;
    for (Py_ssize_t i = 0; i + 8 <= len; i++)
        if (buf[i] == 0x80 && memcmp(buf + i, mark, 8) == 0)
            return 1;
    return 0;
}

typedef struct {
    PyObject *key;   /* (borrowed from keys) */
    Py_ssize_t count;
    PyObject *hit;   /* the cached or new resolution, or NULL */
} RunKey;

typedef struct {
    PyObject *key;   /* (borrowed from keys; NULL: an empty slot) */
    Py_hash_t hash;
    Py_ssize_t j;    /* its RunKey */
} RunSlot;

/* {key: value of each distinct key} in first-occurrence order: counts (as_counts) or hits */
static PyObject *run_dict(const RunKey *u, Py_ssize_t nu, int as_counts)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    for (Py_ssize_t j = 0; j < nu; j++) {
        PyObject *v = as_counts ? PyLong_FromSsize_t(u[j].count) : (Py_INCREF(u[j].hit), u[j].hit);
        if (v == NULL || PyDict_SetItem(d, u[j].key, v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return NULL;
        }
        Py_DECREF(v);
    }
    return d;
}

static PyObject *session_count_run(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *keys, *cache, *pending, *order, *fixed;
    int kernel_check = 0;
    (void)self;
    /* (called once a run, 9.4K times on sys.data: the arguments read without PyArg_ParseTuple's format) */
    if (nargs < 5 || nargs > 6) {
        PyErr_SetString(PyExc_TypeError, "count_run takes 5 or 6 arguments");
        return NULL;
    }
    keys = args[0], cache = args[1], pending = args[2], order = args[3], fixed = args[4];
    if (!PyList_Check(keys) || !PyDict_Check(cache) || !PyDict_Check(pending)) {
        PyErr_SetString(PyExc_TypeError, "count_run: keys a list, cache and pending dicts");
        return NULL;
    }
    if (nargs == 6 && (kernel_check = PyObject_IsTrue(args[5])) < 0)
        return NULL;
    if (order != Py_None && !PyList_Check(order)) {
        PyErr_SetString(PyExc_TypeError, "count_run: order must be a list or None");
        return NULL;
    }
    if (fixed != Py_None && (!PyTuple_Check(fixed) || PyTuple_GET_SIZE(fixed) != FX_SIZE)) {
        PyErr_SetString(PyExc_TypeError, "count_run: fixed must be None or a tuple of its fields");
        return NULL;
    }
    if (fixed != Py_None) {
        static const int dicts[] = {FX_EVSELS, FX_THREADS, FX_LOCATIONS, FX_BY_TID, FX_BY_MAPS};
        for (size_t i = 0; i < sizeof(dicts) / sizeof(dicts[0]); i++)
            if (!PyDict_Check(PyTuple_GET_ITEM(fixed, dicts[i]))) {
                PyErr_SetString(PyExc_TypeError, "count_run: fixed's tables must be dicts");
                return NULL;
            }
        if (!PyList_Check(PyTuple_GET_ITEM(fixed, FX_GROUPS)) || !PyTuple_Check(PyTuple_GET_ITEM(fixed, FX_PERIODS))) {
            PyErr_SetString(PyExc_TypeError, "count_run: fixed's groups must be a list, its periods a tuple");
            return NULL;
        }
        if (intern_names() < 0)
            return NULL;
    }
    cm_checked = NULL; /* (cm_frame checks the frame table's methods again) */
    keys = PyList_GetSlice(keys, 0, PyList_GET_SIZE(keys)); /* (its own list: Python code may run below) */
    if (keys == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(keys), nu = 0;
    PyObject *out = NULL;
    RunSlot *table = NULL; /* (the keys' list holds them: the addresses stay) */
    size_t cap = 8;
    while (cap < 64 && cap < 2 * (size_t)n) /* (grown below past 64: a system-wide file's runs are short) */
        cap <<= 1;
    RunKey *u = PyMem_Malloc((n ? n : 1) * sizeof(RunKey));
    Py_ssize_t *at = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    table = PyMem_Calloc(cap, sizeof(RunSlot));
    if (u == NULL || at == NULL || table == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* the run counted per distinct key (count_into), each sample's distinct key noted: a table of the
     * distinct keys by hash (a bytes object keeps its own), the same object found at once, an equal one
     * by its bytes (or ==, for a key of another type) */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        Py_hash_t h = PyObject_Hash(key);
        if (h == -1)
            goto done;
        size_t mask = cap - 1, slot = ((size_t)h * 0x9E3779B97F4A7C15ull >> 20) & mask;
        Py_ssize_t j = -1;
        while (table[slot].key != NULL) {
            PyObject *other = table[slot].key;
            if (other == key) {
                j = table[slot].j;
                break;
            }
            if (table[slot].hash == h) {
                int eq;
                if (PyBytes_CheckExact(key) && PyBytes_CheckExact(other))
                    eq = PyBytes_GET_SIZE(key) == PyBytes_GET_SIZE(other) &&
                         memcmp(PyBytes_AS_STRING(key), PyBytes_AS_STRING(other), PyBytes_GET_SIZE(key)) == 0;
                else if ((eq = PyObject_RichCompareBool(other, key, Py_EQ)) < 0)
                    goto done;
                if (eq) {
                    j = table[slot].j;
                    break;
                }
            }
            slot = (slot + 1) & mask;
        }
        if (j >= 0) {
            u[j].count++;
            at[i] = j;
            continue;
        }
        table[slot].key = key;
        table[slot].hash = h;
        table[slot].j = nu;
        u[nu].key = key;
        u[nu].count = 1;
        u[nu].hit = NULL;
        at[i] = nu++;
        if ((size_t)nu * 2 > cap) { /* (half full: twice the size, the keys placed again by their hashes) */
            size_t bigger = cap * 2;
            RunSlot *grown = PyMem_Calloc(bigger, sizeof(RunSlot));
            if (grown == NULL) {
                PyErr_NoMemory();
                goto done;
            }
            for (size_t k = 0; k < cap; k++) {
                if (table[k].key == NULL)
                    continue;
                size_t to = ((size_t)table[k].hash * 0x9E3779B97F4A7C15ull >> 20) & (bigger - 1);
                while (grown[to].key != NULL)
                    to = (to + 1) & (bigger - 1);
                grown[to] = table[k];
            }
            PyMem_Free(table);
            table = grown;
            cap = bigger;
        }
    }
    int any_new = 0;
    for (Py_ssize_t j = 0; j < nu; j++) {
        PyObject *hit = PyDict_GetItemWithError(cache, u[j].key);
        if (hit == NULL) {
            if (PyErr_Occurred())
                goto done;
            any_new = 1;
        } else {
            Py_INCREF(hit);
            u[j].hit = hit;
        }
    }
    if (!any_new) { /* every key cached: counted into pending, ordered by the cache */
        for (Py_ssize_t j = 0; j < nu; j++) {
            PyObject *count = PyLong_FromSsize_t(u[j].count);
            if (count == NULL)
                goto done;
            int bad = pending_add(pending, u[j].key, count);
            Py_DECREF(count);
            if (bad < 0)
                goto done;
        }
        if (order != Py_None)
            for (Py_ssize_t i = 0; i < n; i++)
                if (PyList_Append(order, u[at[i]].hit) < 0)
                    goto done;
        out = PyLong_FromLong(0);
        goto done;
    }
    int give_back = fixed == Py_None;
    if (!give_back) {
        Py_ssize_t pid_at = fx_ssize(fixed, FX_PID_AT);
        if (pid_at == -1 && PyErr_Occurred())
            goto done;
        for (Py_ssize_t j = 0; pid_at >= 0 && j < nu && !give_back; j++) {
            PyObject *key = u[j].key;
            give_back = u[j].hit == NULL && PyBytes_Check(key) && PyBytes_GET_SIZE(key) >= pid_at + 4 &&
                        memcmp(PyBytes_AS_STRING(key) + pid_at, "\xff\xff\xff\xff", 4) == 0;
        }
    }
    for (Py_ssize_t j = 0; kernel_check && j < nu && !give_back; j++) /* (counts._any_kernel_key) */
        give_back = key_reaches_kernel(u[j].key);
    if (give_back) {
        PyObject *counts = run_dict(u, nu, 1), *new = PyList_New(0);
        if (counts != NULL && new != NULL) {
            for (Py_ssize_t j = 0; j < nu; j++)
                if (u[j].hit == NULL && PyList_Append(new, u[j].key) < 0)
                    goto give_back_done;
            out = PyTuple_Pack(2, counts, new);
        }
    give_back_done:
        Py_XDECREF(counts);
        Py_XDECREF(new);
        goto done;
    }
    /* the new keys resolved (here or by add_fixed), the cached ones counted into pending */
    PyObject *split = PyTuple_GET_ITEM(fixed, FX_SPLIT), *add_fixed = PyTuple_GET_ITEM(fixed, FX_ADD);
    int plain = 1, check = 1, in_step = 0, python_ran = 0;
    Py_ssize_t counted = 0;
    for (Py_ssize_t j = 0; j < nu; j++) {
        PyObject *key = u[j].key;
        if (python_ran) { /* (what is cached now: a forget may have cleared it) */
            Py_CLEAR(u[j].hit);
            PyObject *hit = PyDict_GetItemWithError(cache, key);
            if (hit == NULL && PyErr_Occurred())
                goto done;
            Py_XINCREF(hit);
            u[j].hit = hit;
        }
        if (u[j].hit != NULL) {
            PyObject *count = PyLong_FromSsize_t(u[j].count);
            if (count == NULL)
                goto done;
            int bad = pending_add(pending, key, count);
            Py_DECREF(count);
            if (bad < 0)
                goto done;
            continue;
        }
        int got = 0, called = 0;
        if (check) {
            in_step = fixed_in_step(fixed);
            if (in_step < 0)
                goto done;
            check = 0;
        }
        if (in_step && PyBytes_CheckExact(key)) {
            got = fixed_resolve(fixed, key, u[j].count, cache, &u[j].hit, &called);
            if (got < 0)
                goto done;
        }
        if (called)
            python_ran = check = 1;
        if (got) {
            counted += u[j].count;
            if (called) /* (fixed_resolve found the machine in step after its Python calls, and ran none since) */
                check = 0, in_step = 1;
            continue;
        }
        PyObject *count = PyLong_FromSsize_t(u[j].count);
        if (count == NULL)
            goto done;
        PyObject *hit = PyObject_CallFunctionObjArgs(add_fixed, key, count, NULL);
        Py_DECREF(count);
        if (hit == NULL)
            goto done;
        u[j].hit = hit;
        python_ran = check = 1;
        if (hit == Py_None || (PyTuple_Check(hit) && PyTuple_GET_SIZE(hit) > 0 && PyTuple_GET_ITEM(hit, 0) == split))
            plain = 0;
    }
    if (order != Py_None) {
        if (plain) {
            for (Py_ssize_t i = 0; i < n; i++)
                if (PyList_Append(order, u[at[i]].hit) < 0)
                    goto done;
        } else {
            PyObject *hits = run_dict(u, nu, 0);
            if (hits == NULL)
                goto done;
            PyObject *r = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(fixed, FX_IN_ORDER), order, keys, hits, Py_False,
                                                       NULL);
            Py_DECREF(hits);
            if (r == NULL)
                goto done;
            Py_DECREF(r);
        }
    }
    out = PyLong_FromSsize_t(counted);
done:
    if (u != NULL)
        for (Py_ssize_t j = 0; j < nu; j++)
            Py_XDECREF(u[j].hit);
    PyMem_Free(u);
    PyMem_Free(at);
    PyMem_Free(table);
    Py_DECREF(keys);
    return out;
}

/* ---------------------------------------------------------------------------- end of the session section */

PyMethodDef speedups_session_methods[] = {
    {"user_chain", (PyCFunction)session_user_chain, METH_VARARGS,
     "user_chain(key, at, memo, max_stack, caller_order) -> tuple | list | None (see the source)"},
    {"kernel_chain", (PyCFunction)session_kernel_chain, METH_VARARGS,
     "kernel_chain(key, at, kmemo, umemo, max_stack, caller_order) -> tuple | None (see the source)"},
    {"plt_names", (PyCFunction)session_plt_names, METH_VARARGS,
     "plt_names(rel, rel_size, is_64, little, dynsym, strtab) -> [name + '@plt'] (see the source)"},
    {"symtab_keep", (PyCFunction)session_symtab_keep, METH_VARARGS,
     "symtab_keep(raw, is_64, little, loaded, texts) -> (keep, name_offsets, svmas, sizes, info) (see the source)"},
    {"symtab_sort", (PyCFunction)session_symtab_sort, METH_VARARGS,
     "symtab_sort(svmas, sizes, types, bindings, page_size) -> (order, svmas, sizes, types, bindings, ends) | None "
     "(see the source)"},
    {"count_run", (PyCFunction)(void (*)(void))session_count_run, METH_FASTCALL,
     "count_run(keys, cache, pending, order, fixed) -> int | (counts, new) (see the source)"},
    {NULL, NULL, 0, NULL},
};
