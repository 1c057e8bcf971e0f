/*
 * Converting many 16-bit values at once on the host: the native GEMM's
 * 16-bit operands (host/gemm_native.c) and clg_tensor_set/get of 16-bit
 * tensors (a training batch each step). core/half.h's per-value forms,
 * by double arithmetic, cost tens of nanoseconds a value, which made a
 * 16-bit input slower to set than the float32 one it replaced, and fp16
 * products slower than widening by a kernel on every core. Here bfloat16
 * is integer arithmetic the compiler vectorises; float16 uses x86-64's
 * F16C instructions (eight values an instruction) where the CPU has them,
 * chosen at run time so the build does not assume the CPU, else the
 * per-value forms. Results are core/half.h's bit for bit (test_cast checks
 * every float16, and float32 patterns around each rounding boundary, also
 * with MXCSR's denormals-are-zero and flush-to-zero flags set, as a
 * driver's thread may have them).
 */
#include "half.h"

#include <stdbool.h>
#include <stddef.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#define CLG_F16C 1

/* F16C rounds to nearest even like clg_float_to_f16 but keeps a NaN's
 * payload; core/half.h (as PyTorch) makes every NaN the quiet NaN of its
 * sign, so those are rewritten after. */
__attribute__((target("avx,f16c"))) static void narrow_f16c(uint16_t *dst, const float *src, size_t count)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < count; i++) dst[i] = clg_float_to_f16(src[i]);
    for (i = 0; i < count; i++)
        if ((dst[i] & 0x7c00u) == 0x7c00u && (dst[i] & 0x3ffu)) dst[i] = (uint16_t)((dst[i] & 0x8000u) | 0x7e00u);
}

__attribute__((target("avx,f16c"))) static void widen_f16c(float *dst, const uint16_t *src, size_t count)
{
    size_t i = 0;
    for (; i + 8 <= count; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
    for (; i < count; i++) dst[i] = clg_f16_to_float_int(src[i]);
}
#endif

void clg_f16_narrow(uint16_t *dst, const float *src, size_t count)
{
#ifdef CLG_F16C
    if (clg_f16_vector()) {
        narrow_f16c(dst, src, count);
        return;
    }
#endif
    for (size_t i = 0; i < count; i++) dst[i] = clg_float_to_f16(src[i]);
}

/* Round to nearest even on the bits: adding 0x7fff plus the kept lowest
 * bit carries exactly when the dropped half is above the midpoint, or at
 * it with the kept part odd; a carry out of the significand raises the
 * exponent (to infinity past the largest finite). bfloat16's exponent is
 * float32's, so subnormals round the same way. NaNs become 0x7fc0. */
void clg_bf16_narrow(uint16_t *dst, const float *src, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const uint32_t b = clg_float_bits(src[i]);
        const uint16_t r = (uint16_t)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
        dst[i] = (b & 0x7fffffffu) > 0x7f800000u ? (uint16_t)0x7fc0u : r;
    }
}

void clg_bf16_widen(float *dst, const uint16_t *src, size_t count)
{
    for (size_t i = 0; i < count; i++) dst[i] = clg_bf16_to_float(src[i]);
}

void clg_f16_widen_int(float *dst, const uint16_t *src, size_t count)
{
    for (size_t i = 0; i < count; i++) dst[i] = clg_f16_to_float_int(src[i]);
}

/* CPUID leaf 1: OSXSAVE, AVX and F16C, and XGETBV: the system saves the
 * YMM registers. Asked once a process (CPUID traps to the hypervisor in a
 * virtual machine) and kept in an atomic, a fact of the hardware rather
 * than state; Clang 14's __builtin_cpu_supports does not know "f16c". */
bool clg_f16_vector(void)
{
#ifdef CLG_F16C
    static _Atomic int known; /* 0: not asked yet, 1: no, 2: yes */
    int k = atomic_load_explicit(&known, memory_order_relaxed);
    if (!k) {
        unsigned a, b, c, d, lo = 0, hi = 0;
        const unsigned need = 1u << 27 | 1u << 28 | 1u << 29;
        bool yes = __get_cpuid(1, &a, &b, &c, &d) && (c & need) == need;
        if (yes) __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        (void)hi;
        yes = yes && (lo & 6u) == 6u;
        k = yes ? 2 : 1;
        atomic_store_explicit(&known, k, memory_order_relaxed);
    }
    return k == 2;
#else
    return false;
#endif
}

void clg_f16_widen(float *dst, const uint16_t *src, size_t count)
{
#ifdef CLG_F16C
    if (clg_f16_vector()) {
        widen_f16c(dst, src, count);
        return;
    }
#endif
    clg_f16_widen_int(dst, src, count);
}
