/*
 * Shared by the reference backend's files. They are compiled twice: as
 * float (the library's reference backend, the oracle of every device test)
 * and, for the tests only, as double (CLG_REF_DOUBLE), so that any graph's
 * gradients can be checked against central finite differences computed in
 * double. Write reference code with `real`, type-generic math (tgmath.h)
 * and REF() around every external name.
 */
#ifndef CLG_REF_REAL_H
#define CLG_REF_REAL_H

#include "../core/half.h"
#include "../core/internal.h"

#include <stdint.h>
#include <tgmath.h>

#ifdef CLG_REF_DOUBLE
typedef double real;
#define REF(name) name##_f64
#else
typedef float real;
#define REF(name) name
#endif

/* count elements; an int32 buffer keeps its values in the first count
 * int32 slots of data. */
struct clg_buffer {
    size_t count;
    size_t shares; /* references beyond the first (buffer_retain) */
    real data[];
};

static inline real *ref_data(const clg_node *n) { return n->buf->data; }
static inline int32_t *ref_i32(const clg_node *n) { return (int32_t *)(void *)n->buf->data; }
static inline real *ref_aux(const clg_node *n, int k) { return n->aux[k]->data; }
static inline int32_t *ref_aux_i32(const clg_node *n, int k) { return (int32_t *)(void *)n->aux[k]->data; }

/* 16-bit values are their bits, two to an element (core/backend.h);
 * conversions as core/half.h's. */
static inline uint16_t *ref_data16(const clg_node *n) { return (uint16_t *)(void *)n->buf->data; }
static inline float ref_widen16(clg_dtype d, uint16_t h)
{
    return d == CLG_F16 ? clg_f16_to_float(h) : clg_bf16_to_float(h);
}
static inline uint16_t ref_narrow16(clg_dtype d, float v)
{
    return d == CLG_F16 ? clg_float_to_f16(v) : clg_float_to_bf16(v);
}
/* element i of a float tensor of any width, as a float */
static inline float ref_load_float(const clg_node *x, int64_t i)
{
    return clg_dtype_16(x->dtype) ? ref_widen16(x->dtype, ref_data16(x)[i]) : (float)ref_data(x)[i];
}

/* Offset into a broadcast source for linear output index i. */
static inline int64_t ref_bcast_offset(int64_t i, const int64_t dims[CLG_MAX_DIMS],
                                       const int64_t strides[CLG_MAX_DIMS])
{
    int64_t off = 0;
    for (int d = CLG_MAX_DIMS - 1; d >= 0; d--) {
        off += (i % dims[d]) * strides[d];
        i /= dims[d];
    }
    return off;
}

/* One function per family runs that family's ops (ref/ref_<family>.c). */
#define CLG_REF_DECL(e, lower) \
    clg_status REF(clg_ref_##lower)(clg_backend * be, const clg_node *nodes, const clg_node *n);
CLG_FAMILY_LIST(CLG_REF_DECL)
#undef CLG_REF_DECL

clg_status REF(clg_ref_unsupported)(clg_backend *be, const clg_node *n);

/* Row-major C = alpha op(A) op(B) + beta C, op(A) m x k, op(B) k x n,
 * accumulated in double (beta 0 ignores C's old contents). */
void REF(clg_ref_gemm)(bool ta, bool tb, int64_t m, int64_t n, int64_t k, real alpha, const real *A, int64_t lda,
                       const real *B, int64_t ldb, real beta, real *C, int64_t ldc);

#endif
