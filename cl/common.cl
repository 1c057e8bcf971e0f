/* Shared helpers; this file is compiled first, ahead of every other .cl. */

/* Offset of a broadcast source for linear output index i. dims are the
 * output's extents padded to 4-D (s0 outermost); st the source's strides
 * against them, 0 along broadcast axes. */
inline long bcast_offset(long i, long4 dims, long4 st)
{
    long off = (i % dims.s3) * st.s3;
    i /= dims.s3;
    off += (i % dims.s2) * st.s2;
    i /= dims.s2;
    off += (i % dims.s1) * st.s1;
    i /= dims.s1;
    return off + i * st.s0;
}

/* Tree reduction of one value per work-item across the work-group; the
 * local size must be a power of two. Returns the sum in every item. */
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
