/* libFuzzer harness: safetensors bytes through clg_safetensors_read_mem
 * (and so the JSON parser); what reads must write back and read again to
 * the same tensors and metadata. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const clg_safetensors *a, const clg_safetensors *b)
{
    int n = clg_safetensors_count(a);
    if (n != clg_safetensors_count(b)) abort();
    for (int i = 0; i < n; i++) {
        const clg_array *x = clg_safetensors_get(a, i), *y = clg_safetensors_get(b, i);
        if (strcmp(clg_safetensors_name(a, i), clg_safetensors_name(b, i)) != 0) abort();
        if (x->type != y->type || x->ndim != y->ndim || x->numel != y->numel) abort();
        if (memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof *x->shape) != 0) abort();
        if (clg_array_bytes(x) && memcmp(x->data, y->data, clg_array_bytes(x)) != 0) abort();
    }
    const clg_meta *ma = clg_safetensors_meta(a), *mb = clg_safetensors_meta(b);
    if (clg_meta_count(ma) != clg_meta_count(mb)) abort();
    for (int i = 0; i < clg_meta_count(ma); i++)
        if (strcmp(clg_meta_key(ma, i), clg_meta_key(mb, i)) || strcmp(clg_meta_value(ma, i), clg_meta_value(mb, i)))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    clg_safetensors *st = (clg_safetensors *)&err;
    clg_status s = clg_safetensors_read_mem(data, size, &st, err, sizeof err);
    if (s != CLG_OK) {
        if (st || !err[0]) abort();
        return 0;
    }
    int n = clg_safetensors_count(st);
    const char **names = malloc((size_t)(n + 1) * sizeof *names);
    const clg_array **arrays = malloc((size_t)(n + 1) * sizeof *arrays);
    if (!names || !arrays) abort();
    for (int i = 0; i < n; i++) {
        names[i] = clg_safetensors_name(st, i);
        arrays[i] = clg_safetensors_get(st, i);
        if (i && strcmp(names[i - 1], names[i]) >= 0) abort(); /* sorted, unique */
        if (clg_array_bytes(arrays[i]) && (uintptr_t)arrays[i]->data % clg_elem_size(arrays[i]->type)) abort();
    }
    unsigned char *out;
    size_t len;
    if (clg_safetensors_write_mem(n, names, arrays, clg_safetensors_meta(st), &out, &len, err, sizeof err) != CLG_OK)
        abort();
    clg_safetensors *back;
    if (clg_safetensors_read_mem(out, len, &back, err, sizeof err) != CLG_OK) abort();
    same(st, back);
    clg_safetensors_destroy(back);
    free(out);
    free(names);
    free(arrays);
    clg_safetensors_destroy(st);
    return 0;
}
