/*
 * 16-bit floats on the host: IEEE binary16 (fp16) and bfloat16, as bit
 * patterns. float to 16 bits rounds to nearest, ties to even, through the
 * subnormals, and overflows to infinity; a NaN becomes the quiet NaN of its
 * sign (fp16 0x7e00 / 0xfe00, PyTorch's) or bf16 0x7fc0 (c10's scalar
 * conversion; PyTorch 1.13's vectorised one writes 0xffff, also a NaN).
 * 16 bits to float is exact. The reference backend and the core (tensor
 * reads and writes) use these; the OpenCL kernels (cl/quant.cl) compute
 * the same bits by integer arithmetic, a different method on purpose, and
 * tests/test_cast.c holds both to PyTorch's bits.
 */
#ifndef CLG_HALF_H
#define CLG_HALF_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t clg_float_bits(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline float clg_bits_float(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* |f| finite, in units of the format's spacing at its binade: the
 * significand rounded to nearest even (exact in double: a power-of-two
 * scaling), plus the biased exponent from the binade. mant: the format's
 * fraction bits; bias: its exponent bias (smallest normal exponent
 * 1 - bias); overflow: the first magnitude that rounds to infinity. */
static inline uint16_t clg_round_16(float f, int mant, int bias, double overflow)
{
    const uint16_t sign = (uint16_t)((clg_float_bits(f) >> 16) & 0x8000u);
    const double a = fabs((double)f);
    if (isnan(f)) return (uint16_t)(mant == 10 ? sign | 0x7e00u : 0x7fc0u);
    const uint16_t inf = (uint16_t)(((1u << (15 - mant)) - 1u) << mant);
    if (a >= overflow) return (uint16_t)(sign | inf); /* infinities too */
    const int emin = 1 - bias;
    int e;
    frexp(a, &e);
    e -= 1; /* a in [2^e, 2^(e+1)) */
    if (a == 0.0 || e < emin) e = emin; /* subnormal: the spacing of the smallest binade */
    const double m = nearbyint(ldexp(a, mant - e)); /* in [0, 2^(mant+1)] */
    /* (e + bias) << mant is the binade's base; m's implicit bit adds 1 to it
     * for normals (and a rounding up to 2^(mant+1) carries into the next
     * binade). A subnormal has biased exponent 0, its m < 2^mant. */
    const uint32_t base = a == 0.0 || ldexp(1.0, e) > a ? 0u : (uint32_t)(e + bias - 1) << mant;
    return (uint16_t)(sign | (base + (uint32_t)m));
}

static inline uint16_t clg_float_to_f16(float f) { return clg_round_16(f, 10, 15, 65520.0); }
static inline uint16_t clg_float_to_bf16(float f)
{
    return clg_round_16(f, 7, 127, ldexp(2.0 - ldexp(1.0, -8), 127));
}

static inline float clg_f16_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return clg_bits_float(sign | 0x7f800000u | (man ? 0x400000u : 0u) | man << 13);
    const double v = exp ? ldexp(1024.0 + man, (int)exp - 25) : ldexp((double)man, -24);
    return sign ? -(float)v : (float)v;
}

static inline float clg_bf16_to_float(uint16_t h) { return clg_bits_float((uint32_t)h << 16); }

/* The same as clg_f16_to_float by integer arithmetic on the bits (as
 * cl/common.cl's f16_to_f32_bits), for loops that widen many: a
 * subnormal's top bit moved to bit 10 (clz), the exponent rebiased.
 * test_cast checks the two agree on all 65536 values. */
static inline float clg_f16_to_float_int(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f) return clg_bits_float(sign | 0x7f800000u | (m ? 0x400000u : 0u) | m << 13);
    if (e) return clg_bits_float(sign | (e + 112u) << 23 | m << 13);
    if (!m) return clg_bits_float(sign);
    const uint32_t s = (uint32_t)__builtin_clz(m) - 21u;
    return clg_bits_float(sign | (113u - s) << 23 | ((m << s) & 0x3ffu) << 13);
}

/* Many values at once (core/half.c), each exactly as the functions above:
 * clg_f16_widen as clg_f16_to_float_int, by F16C where the CPU has it
 * (clg_f16_vector; clg_f16_widen_int never uses it, for the tests),
 * clg_f16_narrow as clg_float_to_f16 (F16C too), clg_bf16_narrow as
 * clg_float_to_bf16, clg_bf16_widen as clg_bf16_to_float. */
void clg_f16_widen(float *dst, const uint16_t *src, size_t count);
void clg_f16_widen_int(float *dst, const uint16_t *src, size_t count);
void clg_f16_narrow(uint16_t *dst, const float *src, size_t count);
void clg_bf16_narrow(uint16_t *dst, const float *src, size_t count);
void clg_bf16_widen(float *dst, const uint16_t *src, size_t count);
bool clg_f16_vector(void);

#endif
