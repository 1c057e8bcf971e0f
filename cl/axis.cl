/*
 * Reductions along one axis, forward and backward together. x is seen as
 * [outer, len, inner] and y as [outer, inner]; output j = (o, r) reads
 * x[(o * len + a) * inner + r] for a in 0..len-1.
 *
 * One work-item per output element, looping over the axis: simple, and
 * enough while the axes reduced are short or the outputs many. A long axis
 * with few outputs (a column sum of a tall matrix) leaves most of the
 * device idle and would want a work-group per output with group_sum; and
 * for inner = 1 neighbouring work-items read addresses len apart, which
 * coalesces poorly on GPUs. Sums are accumulated in float here (the
 * reference uses double).
 */

/* y[o, r] = scale * sum_a x[o, a, r]   (scale 1 for sum, 1/len for mean)
 * Backward: dx[o, a, r] = scale * dy[o, r] (the core's expand kernel). */
__kernel void axis_sum(__global const float *X, __global float *Y, long m, long len, long inner, float scale)
{
    for (long j = get_global_id(0); j < m; j += get_global_size(0)) {
        const long o = j / inner;
        __global const float *p = X + o * len * inner + (j - o * inner);
        float acc = 0.0f;
        for (long a = 0; a < len; a++) acc += p[a * inner];
        Y[j] = acc * scale;
    }
}

/* y[o, r] = max_a x[o, a, r], idx[o, r] = the first a reaching it; a NaN
 * propagates (the first NaN is taken). */
__kernel void axis_max(__global const float *X, __global float *Y, __global int *IDX, long m, long len, long inner)
{
    for (long j = get_global_id(0); j < m; j += get_global_size(0)) {
        const long o = j / inner;
        __global const float *p = X + o * len * inner + (j - o * inner);
        float best = p[0];
        int at = 0;
        for (long a = 1; a < len && !isnan(best); a++) {
            const float v = p[a * inner];
            if (v > best || isnan(v)) {
                best = v;
                at = (int)a;
            }
        }
        Y[j] = best;
        IDX[j] = at;
    }
}

/* Backward of max: dx[o, a, r] = dy[o, r] if a == idx[o, r], else 0.
 * One work-item per element of x; n = outer * len * inner. */
__kernel void axis_max_backward(__global const float *DY, __global const int *IDX, __global float *DX, long n,
                                long len, long inner)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const long q = i / inner, r = i - q * inner, o = q / len, a = q - o * len, j = o * inner + r;
        DX[i] = IDX[j] == a ? DY[j] : 0.0f;
    }
}
