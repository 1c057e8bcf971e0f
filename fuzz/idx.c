/* libFuzzer harness: IDX bytes, plain or gzip, through clg_idx_read_mem.
 * Any input must give an array or an error with a message; never a crash,
 * a hang, or an allocation beyond what the input holds. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

static volatile unsigned sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    clg_array *a = (clg_array *)&err; /* must be reset on failure */
    clg_status s = clg_idx_read_mem(data, size, &a, err, sizeof err);
    if (s != CLG_OK) {
        if (a || !err[0]) abort();
        return 0;
    }
    if (!a || a->ndim < 1 || a->ndim > CLG_ARRAY_MAX_DIMS) abort();
    uint64_t n = 1; /* wraps only before a zero dimension */
    for (int d = 0; d < a->ndim; d++) n *= (uint64_t)a->shape[d];
    if (n != (uint64_t)a->numel) abort();
    /* Every byte readable (ASan checks the bounds); the data fills the input. */
    const unsigned char *p = a->data;
    size_t bytes = clg_array_bytes(a);
    unsigned sum = 0;
    for (size_t i = 0; i < bytes; i++) sum += p[i];
    if (size >= 2 && data[0] == 0 && bytes + 4 + 4 * (size_t)a->ndim != size) abort();
    sink = sum;
    clg_array_destroy(a);
    return 0;
}
