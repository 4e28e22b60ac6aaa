/* pyperf_probe.perfdata._speedups: what its C files share (see _speedups.c for the module and its contract).
 *
 * The module is one extension built from several files, one per area, so that each area's loops are kept
 * (and changed) apart: _speedups.c (the reading path: KeyScanner, the ordered queue, kallsyms) with the
 * module's init, _speedups_records.c (the non-sample records the scan decodes), _speedups_unwind.c,
 * _speedups_report.c, _speedups_script.c. Each area file exports a
 * METH table, added to the module by PyInit__speedups (PyModule_AddFunctions).
 */
#ifndef PYPERF_SPEEDUPS_H
#define PYPERF_SPEEDUPS_H
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

/* _speedups_records.c: the non-sample records KeyScanner decodes as it scans (its `side` spec). */
typedef struct {
    int on;
    Py_ssize_t trailer_size, time_at;
    PyObject *classes[5]; /* MmapRecord, Mmap2Record, CommRecord, ForkRecord, ExitRecord */
} SideSpec;

int side_spec_parse(PyObject *obj, SideSpec *spec);
void side_spec_clear(SideSpec *spec);
/* 1: the record (whole, `size` bytes) was taken (*time_out, *rec_out new references); 0: not taken; -1: error */
int side_record(const SideSpec *spec, const unsigned char *rec, Py_ssize_t size, PyObject **time_out,
                PyObject **rec_out);
/* side_record, and with `untimed` a record whose TIME is 0 or (u64)-1 too (KeyScanner.queue_scan: its queue
 * delivers those at once, where the reader's careful path puts them) */
int side_record_timed(const SideSpec *spec, const unsigned char *rec, Py_ssize_t size, int untimed,
                      PyObject **time_out, PyObject **rec_out);

extern PyMethodDef speedups_records_methods[];
int speedups_records_init(PyObject *module); /* adds _speedups_records.c's types */
extern PyMethodDef speedups_unwind_methods[];
extern PyMethodDef speedups_report_methods[];
extern PyMethodDef speedups_script_methods[];
extern PyMethodDef speedups_session_methods[];

#endif
