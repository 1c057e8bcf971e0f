/* Shared helpers; this file is compiled first, ahead of every other .cl. */

/*
 * Index splitting, in every file: where a kernel needs both q = a / b and
 * a % b, it writes the remainder as a - q * b. Given the pair, LLVM's
 * DivRemPairs pass rewrites the % so itself on targets without a joint
 * divide-remainder instruction, and adds a `freeze` of a; Oclgrind 21.10's
 * uninitialised-value check stops at any freeze ("Unsupported
 * instruction"), leaving the kernel's output unwritten. Written out, the
 * pass has nothing to do: the same code on GPUs, and on CPUs it turns
 * the pair back into one division.
 */

/* Offset of a broadcast source for linear output index i. dims are the
 * output's extents padded to 4-D (s0 outermost); st the source's strides
 * against them, 0 along broadcast axes. */
inline long bcast_offset(long i, long4 dims, long4 st)
{
    long q = i / dims.s3;
    long off = (i - q * dims.s3) * st.s3;
    i = q;
    q = i / dims.s2;
    off += (i - q * dims.s2) * st.s2;
    i = q;
    q = i / dims.s1;
    off += (i - q * dims.s1) * st.s1;
    return off + q * st.s0;
}

/* Tree reduction of one value per work-item across the work-group; the
 * local size must be a power of two. Returns the sum in every item. */
/* Compensated running sum (Kahan): *s + v, the lost low part kept in *c;
 * the sum is *s - *c. Its error does not grow with the count of terms. */
inline void kahan_add(float *s, float *c, float v)
{
    const float y = v - *c;
    const float t = *s + y;
    *c = (t - *s) - y;
    *s = t;
}

inline float group_sum(float v, __local float *tmp)
{
    const int lid = get_local_id(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s) tmp[lid] += tmp[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* y[i] = v: new buffers (v = 0) and clg_tensor_fill. Here, in every build
 * (see CLGRAD_CL_FILES), since every buffer needs it; a kernel rather than
 * clEnqueueFillBuffer so that every store is a kernel's: Oclgrind 21.10's
 * uninitialised-value check misjudges buffers the host filled. */
__kernel void fill(__global float *Y, long n, float v)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) Y[i] = v;
}
