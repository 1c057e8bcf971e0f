/* libFuzzer harness: .npy bytes through clg_npy_read_mem; what reads must
 * write back and read again to the same array. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const clg_array *a, const clg_array *b)
{
    if (a->type != b->type || a->ndim != b->ndim || a->numel != b->numel) abort();
    if (memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape) != 0) abort();
    if (clg_array_bytes(a) && memcmp(a->data, b->data, clg_array_bytes(a)) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    clg_array *a = (clg_array *)&err;
    clg_status s = clg_npy_read_mem(data, size, &a, err, sizeof err);
    if (s != CLG_OK) {
        if (a || !err[0]) abort();
        return 0;
    }
    if (!a || clg_array_check(a, "fuzz", err, sizeof err) != CLG_OK) abort();
    unsigned char *out;
    size_t len;
    if (clg_npy_write_mem(a, &out, &len, err, sizeof err) != CLG_OK) abort();
    clg_array *b;
    if (clg_npy_read_mem(out, len, &b, err, sizeof err) != CLG_OK) abort();
    same(a, b);
    clg_array_destroy(b);
    free(out);
    clg_array_destroy(a);
    return 0;
}
