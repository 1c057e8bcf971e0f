/*
 * Softmax along an axis, log-softmax, softmax cross-entropy and binary
 * cross-entropy on logits; forward and backward side by side.
 *
 * Along an axis the tensor is seen as [outer, C, inner]: row r = (o, j)
 * holds the C elements at o C inner + c inner + j, `inner` apart. Each op
 * has two kernels: `_rows`, one work-item per row (rows side by side in
 * memory when inner > 1, so neighbouring items read neighbouring floats),
 * and `_group`, one work-group per row (items stride along the row: for
 * contiguous rows, inner = 1, or too few rows to fill the device). Row sums
 * are compensated (Kahan) so that their error does not grow with C.
 */

/* Max of v over the work-group (power-of-two local size), in every item. */
inline float sm_group_max(float v, __local float *tmp)
{
    const int lid = get_local_id(0);
    tmp[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (lid < s) tmp[lid] = fmax(tmp[lid], tmp[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float r = tmp[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

inline long sm_row_base(long r, long C, long inner)
{
    const long o = r / inner;
    return o * C * inner + (r - o * inner);
}

/*
 * Forward, m = max_k x_k, s = sum_k e^(x_k - m) >= 1:
 *   softmax      y = e^(x - m) / s
 *   log-softmax  y = (x - m) - log s
 */
inline float sm_forward_value(float x, float m, float s, float ls, int log_out)
{
    return log_out ? (x - m) - ls : exp(x - m) / s;
}

__kernel void softmax_fwd_rows(__global const float *X, __global float *Y, long rows, long C, long inner,
                               int log_out)
{
    for (long r = get_global_id(0); r < rows; r += get_global_size(0)) {
        const long base = sm_row_base(r, C, inner);
        __global const float *x = X + base;
        __global float *y = Y + base;
        float m = x[0], s = 0.0f, c = 0.0f;
        for (long k = 1; k < C; k++) m = fmax(m, x[k * inner]);
        for (long k = 0; k < C; k++) kahan_add(&s, &c, exp(x[k * inner] - m));
        s -= c;
        const float ls = log(s);
        for (long k = 0; k < C; k++) y[k * inner] = sm_forward_value(x[k * inner], m, s, ls, log_out);
    }
}

__kernel void softmax_fwd_group(__global const float *X, __global float *Y, long rows, long C, long inner,
                                int log_out, __local float *tmp)
{
    const long lid = get_local_id(0), L = get_local_size(0);
    for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        const long base = sm_row_base(r, C, inner);
        __global const float *x = X + base;
        __global float *y = Y + base;
        float m = -INFINITY, s = 0.0f, c = 0.0f;
        for (long k = lid; k < C; k += L) m = fmax(m, x[k * inner]);
        m = sm_group_max(m, tmp);
        for (long k = lid; k < C; k += L) kahan_add(&s, &c, exp(x[k * inner] - m));
        s = group_sum(s - c, tmp);
        const float ls = log(s);
        for (long k = lid; k < C; k += L) y[k * inner] = sm_forward_value(x[k * inner], m, s, ls, log_out);
    }
}

/*
 * Backward, from the forward's output y and dy:
 *   softmax      dx = y (dy - d),       d = sum_k dy_k y_k
 *   log-softmax  dx = dy - e^y d,       d = sum_k dy_k
 */
inline float sm_backward_term(float y, float dy, int log_out)
{
    return log_out ? dy : dy * y;
}

inline float sm_backward_value(float y, float dy, float d, int log_out)
{
    return log_out ? dy - exp(y) * d : y * (dy - d);
}

__kernel void softmax_bwd_rows(__global const float *Y, __global const float *DY, __global float *DX, long rows,
                               long C, long inner, int log_out)
{
    for (long r = get_global_id(0); r < rows; r += get_global_size(0)) {
        const long base = sm_row_base(r, C, inner);
        __global const float *y = Y + base, *dy = DY + base;
        __global float *dx = DX + base;
        float d = 0.0f, c = 0.0f;
        for (long k = 0; k < C; k++) kahan_add(&d, &c, sm_backward_term(y[k * inner], dy[k * inner], log_out));
        d -= c;
        for (long k = 0; k < C; k++) dx[k * inner] = sm_backward_value(y[k * inner], dy[k * inner], d, log_out);
    }
}

__kernel void softmax_bwd_group(__global const float *Y, __global const float *DY, __global float *DX, long rows,
                                long C, long inner, int log_out, __local float *tmp)
{
    const long lid = get_local_id(0), L = get_local_size(0);
    for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        const long base = sm_row_base(r, C, inner);
        __global const float *y = Y + base, *dy = DY + base;
        __global float *dx = DX + base;
        float d = 0.0f, c = 0.0f;
        for (long k = lid; k < C; k += L) kahan_add(&d, &c, sm_backward_term(y[k * inner], dy[k * inner], log_out));
        d = group_sum(d - c, tmp);
        for (long k = lid; k < C; k += L) dx[k * inner] = sm_backward_value(y[k * inner], dy[k * inner], d, log_out);
    }
}

/*
 * Softmax cross-entropy over logits Z [N, C] and labels [N], one
 * work-group per row (grid-stride over rows):
 *   m = max_k z_k, ls = log sum_k e^(z_k - m)
 *   loss_r = (m - z_label) + ls     (= logsumexp(z) - z_label, without
 *                                     rounding logsumexp at the scale of z)
 * stats[2r] = m and stats[2r + 1] = ls are kept for the backward; the mean
 * of loss_r is a separate reduction. A label outside [0, C) is never read
 * through: its row's loss is NaN.
 */
__kernel void softmax_ce_forward(__global const float *Z, __global const int *labels, __global float *stats,
                                 __global float *row_loss, long rows, long C, __local float *tmp)
{
    const long lid = get_local_id(0), L = get_local_size(0);
    for (long r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        __global const float *z = Z + r * C;
        float m = -INFINITY, s = 0.0f, c = 0.0f;
        for (long k = lid; k < C; k += L) m = fmax(m, z[k]);
        m = sm_group_max(m, tmp);
        for (long k = lid; k < C; k += L) kahan_add(&s, &c, exp(z[k] - m));
        s = group_sum(s - c, tmp);
        if (lid == 0) {
            const float ls = log(s);
            const int l = labels[r];
            stats[2 * r] = m;
            stats[2 * r + 1] = ls;
            row_loss[r] = l >= 0 && l < C ? (m - z[l]) + ls : NAN;
        }
    }
}

/*
 * The same loss for a small batch in one launch (host/cl_softmax.c picks
 * it): one work-group, a work-item per row (rows stride over the items),
 * ce_row (common.cl) for each, then the mean of the row losses:
 *   loss = scale sum_r loss_r,  scale = 1 / rows
 */
__kernel void softmax_ce_small(__global const float *Z, __global const int *labels, __global float *stats,
                               __global float *Y, long rows, long C, float scale, __local float *tmp)
{
    const long lid = get_local_id(0), L = get_local_size(0);
    float acc = 0.0f, comp = 0.0f;
    for (long r = lid; r < rows; r += L) kahan_add(&acc, &comp, ce_row(Z + r * C, labels[r], C, stats + 2 * r));
    acc = group_sum(acc - comp, tmp);
    if (lid == 0) Y[0] = scale * acc;
}

/* Many short rows (host/cl_softmax.c): a work-item per row, rows
 * grid-strided; partial[g] = the group's sum of row losses, then
 * reduce.cl's sum_final. */
__kernel void softmax_ce_rows(__global const float *Z, __global const int *labels, __global float *stats, long rows,
                              long C, __global float *partial, __local float *tmp)
{
    float acc = 0.0f, comp = 0.0f;
    for (long r = get_global_id(0); r < rows; r += get_global_size(0))
        kahan_add(&acc, &comp, ce_row(Z + r * C, labels[r], C, stats + 2 * r));
    acc = group_sum(acc - comp, tmp);
    if (get_local_id(0) == 0) partial[get_group_id(0)] = acc;
}

/* dz = (softmax(z) - onehot(label)) dloss / N (common.cl): a work-item per
 * 16 logits (as two vectors of 8 where CE_W is 8: PoCL ran this kernel
 * three to four times slower with a work-item per 8), the last ones (past
 * a multiple of 16) one at a time */
__kernel void softmax_ce_backward(__global const float *Z, __global const int *labels, __global const float *stats,
                                  __global const float *G, __global float *DZ, long rows, long C)
{
    const float g = G[0], k = g / (float)rows;
    const long n = rows * C, full = n / 16;
    for (long q = get_global_id(0); q < (n + 15) / 16; q += get_global_size(0)) {
        if (q < full) {
#if CE_W == 16
            vstore16(ce_grad_vec(Z, labels, stats, k, rows, C, q), q, DZ);
#else
            CE_VSTORE(ce_grad_vec(Z, labels, stats, k, rows, C, 2 * q), 2 * q, DZ);
            CE_VSTORE(ce_grad_vec(Z, labels, stats, k, rows, C, 2 * q + 1), 2 * q + 1, DZ);
#endif
        } else {
            for (long i = 16 * q; i < n; i++) DZ[i] = ce_grad_at(Z, labels, stats, g, rows, C, i);
        }
    }
}

/*
 * Binary cross-entropy on logits z with targets t, n elements:
 *   bce = mean(max(z, 0) - z t + log1p(e^-|z|))
 * pass 1 here: partial[g] = compensated sum of the group's terms; pass 2 is
 * reduce.cl's sum_final with scale 1 / n.
 */
__kernel void bce_logits_partial(__global const float *Z, __global const float *T, long n,
                                 __global float *partial, __local float *tmp)
{
    float s = 0.0f, c = 0.0f;
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const float z = Z[i];
        kahan_add(&s, &c, fmax(z, 0.0f) - z * T[i] + log1p(exp(-fabs(z))));
    }
    s = group_sum(s - c, tmp);
    if (get_local_id(0) == 0) partial[get_group_id(0)] = s;
}

/*
 * d/dz = (sigmoid(z) - t) dbce / n, sigmoid from e^-|z| so it never
 * overflows;  d/dt = -z dbce / n   (wrt_targets = 1)
 */
__kernel void bce_logits_backward(__global const float *Z, __global const float *T, __global const float *G,
                                  __global float *D, long n, int wrt_targets)
{
    const float k = G[0] / (float)n;
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const float z = Z[i], e = exp(-fabs(z));
        const float s = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        D[i] = wrt_targets ? -z * k : (s - T[i]) * k;
    }
}

/*
 * One-hot rows of n = N C elements: y[r, c] = (label_r == c), all zeros in
 * the row of ignore_index, NaN in the row of a label outside [0, C) (one
 * that escaped clg_tensor_set_i32's check: the loss shows it).
 */
__kernel void one_hot(__global const int *labels, __global float *Y, long n, long C, int ignore)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const long r = i / C, c = i - r * C;
        const int l = labels[r];
        const bool bad = (l < 0 || l >= C) && l != ignore;
        Y[i] = l == ignore ? 0.0f : bad ? NAN : l == c ? 1.0f : 0.0f;
    }
}
