/*
 * Reductions. A reduction to one element runs in two passes, so that every
 * device has many work-groups busy and no float atomics are needed:
 *   pass 1: work-group g sums a grid-strided slice into partial[g];
 *   pass 2: one work-group sums the partials: y = scale * sum(partial).
 */

/* Each work-item's running sum is compensated (kahan_add): when the tensor
 * is larger than a launch, an item adds up n / (launch size) elements one
 * by one, and a plain sum's error would grow with that count. */
/* partial[g] = sum of x[i] over the group's slice */
__kernel void sum_partial(__global const float *X, long n, __global float *partial, __local float *tmp)
{
    float acc = 0.0f, c = 0.0f;
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) kahan_add(&acc, &c, X[i]);
    acc = group_sum(acc - c, tmp);
    if (get_local_id(0) == 0) partial[get_group_id(0)] = acc;
}

/* partial[g] = sum of (a[i] - b[i])^2 over the group's slice (mse forward) */
__kernel void sqdiff_partial(__global const float *A, __global const float *B, long n,
                             __global float *partial, __local float *tmp)
{
    float acc = 0.0f, c = 0.0f;
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const float d = A[i] - B[i];
        kahan_add(&acc, &c, d * d);
    }
    acc = group_sum(acc - c, tmp);
    if (get_local_id(0) == 0) partial[get_group_id(0)] = acc;
}

/* y = scale * sum(partial[0..m)), one work-group */
__kernel void sum_final(__global const float *partial, int m, float scale, __global float *Y,
                        __local float *tmp)
{
    float acc = 0.0f;
    for (int i = get_local_id(0); i < m; i += get_local_size(0)) acc += partial[i];
    acc = group_sum(acc, tmp);
    if (get_local_id(0) == 0) Y[0] = scale * acc;
}

/*
 * y[j] = sum of x over the source elements that broadcast from output j
 * (the backward of a broadcast binary op). One work-item per output
 * element; base is j's offset in x, and the k = prod(rdims) reduced
 * positions step through x with strides st.
 */
__kernel void reduce_to(__global const float *X, __global float *Y, long m, axes8 odims, axes8 st,
                        axes8 rdims, long k)
{
    for (long j = get_global_id(0); j < m; j += get_global_size(0)) {
        const long base = bcast_offset(j, odims, st);
        float acc = 0.0f;
        for (long r = 0; r < k; r++) acc += X[base + bcast_offset(r, rdims, st)];
        Y[j] = acc;
    }
}

/*
 * mse = mean((p - t)^2) over n elements; its backward:
 *   dp = (2 / n) dmse (p - t),   dt = -dp
 */
__kernel void mse_backward(__global const float *P, __global const float *T, __global const float *G,
                           __global float *Y, long n)
{
    const float k = 2.0f * G[0] / (float)n;
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) Y[i] = k * (P[i] - T[i]);
}
