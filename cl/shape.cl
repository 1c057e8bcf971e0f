/*
 * Shape ops, forward and backward together. reshape has no kernel: it is a
 * view of its source's buffer. Along an axis a tensor is seen as
 * [outer, extent, inner]; a "row" is one outer index: extent * inner
 * contiguous elements.
 */

/*
 * y = permute(x, perm): y's axis d is x's axis perm[d], so y[c] = x[sum_d c_d * st[d]]
 * with st[d] = x's stride along axis perm[d] (dims, st padded to 8-D).
 * Backward: dx = permute(dy, perm^-1).
 */
__kernel void shape_permute(__global const float *X, __global float *Y, long n, axes8 dims, axes8 st)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) Y[i] = X[bcast_offset(i, dims, st)];
}

/*
 * y = slice(x, axis, start, len): y[o, a, r] = x[o, start + a, r].
 * row = len * inner (y's row), xrow = extent * inner, begin = start * inner.
 */
__kernel void shape_slice(__global const float *X, __global float *Y, long n, long row, long xrow, long begin)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const long o = i / row;
        Y[i] = X[o * xrow + begin + (i - o * row)];
    }
}

/*
 * Backward of slice: dx[o, a, r] = dy[o, a - start, r] inside the slice,
 * 0 outside it (written here: buffers start uninitialised).
 * n = x's element count; row, xrow, begin as in shape_slice.
 */
__kernel void shape_slice_backward(__global const float *DY, __global float *DX, long n, long row, long xrow,
                                   long begin)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const long o = i / xrow, k = i - o * xrow - begin;
        DX[i] = k >= 0 && k < row ? DY[o * row + k] : 0.0f;
    }
}

/*
 * y = concat(a, b, axis): y[o, :, r] = a[o, :, r] then b[o, :, r].
 * ra, rb: the rows of a and b (extent * inner).
 * Backward: da, db = the two slices of dy (shape_slice).
 */
__kernel void shape_concat(__global const float *A, __global const float *B, __global float *Y, long n, long ra,
                           long rb)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const long o = i / (ra + rb), k = i - o * (ra + rb);
        Y[i] = k < ra ? A[o * ra + k] : B[o * rb + k - ra];
    }
}
