/*
 * Batch norm. x is seen as [N, C, inner] (inner = H*W, or 1 for [N, C]);
 * channel c owns M = N * inner values. The per-channel reductions run one
 * work-group per channel, summing in local memory (group_sum). x may be
 * 16-bit (xfrom: load_any in common.cl); statistics, y and the gradients are
 * float32, as PyTorch's batch norm keeps them for a 16-bit input.
 */

/*
 * y = gamma invstd (x - mean) + beta, with the channel's statistics from
 * bn_channel_stats (common.cl: batch statistics in training, the running
 * averages in evaluation; saved = (mean[C], invstd[C]) for the backward).
 */
__kernel void bn_forward(__global const void *X, int xfrom, __global const float *G, __global const float *B,
                         __global float *Y, __global float *saved, __global float *running, long C, long inner,
                         long M, int training, float mom, float eps, __local float *tmp)
{
    const int lid = get_local_id(0), ls = get_local_size(0);
    /* channels grid-stride over the work-groups: a launch never needs more
     * groups than the device runs at once */
    for (long c = get_group_id(0); c < C; c += get_num_groups(0)) {
        const float2 st = bn_channel_stats(X, xfrom, saved, running, c, C, inner, M, training, mom, eps, tmp);
        const float mean = st.x, invstd = st.y;
        const float k = G[c] * invstd, b = B[c];
        if (BN_PLANES(inner)) {
            for (long n = lid; n < M / inner; n += ls)
                for (long i = (n * C + c) * inner, e = i + inner; i < e; i += CLG_VW)
                    VSTORE(BN_APPLY(vload_any(X, i, xfrom), mean, k, b), 0, Y + i);
        } else {
            for (long m = lid; m < M; m += ls) {
                const long i = bn_index(m, c, C, inner);
                Y[i] = BN_APPLY(load_any(X, i, xfrom), mean, k, b);
            }
        }
    }
}

/* out[c] = sum dy x^ (dgamma, with_xhat) or sum dy (dbeta); x^ = (x - mean) invstd */
__kernel void bn_backward_reduce(__global const float *DY, __global const void *X, int xfrom,
                                 __global const float *saved, __global float *out, long C, long inner, long M,
                                 int with_xhat, __local float *tmp)
{
    const int lid = get_local_id(0), ls = get_local_size(0);
    for (long c = get_group_id(0); c < C; c += get_num_groups(0)) {
        const float mean = saved[c], invstd = saved[C + c];
        float acc = 0.0f;
        if (BN_PLANES(inner)) {
            floatv a = VSPLAT(0.0f);
            for (long n = lid; n < M / inner; n += ls)
                for (long i = (n * C + c) * inner, e = i + inner; i < e; i += CLG_VW) {
                    const floatv dy = VLOAD(0, DY + i);
                    a += with_xhat ? bn_dgamma_term_v(dy, vload_any(X, i, xfrom), mean, invstd) : dy;
                }
            acc = vsum(a);
        } else {
            for (long m = lid; m < M; m += ls) {
                const long i = bn_index(m, c, C, inner);
                acc += with_xhat ? bn_dgamma_term(DY[i], load_any(X, i, xfrom), mean, invstd) : DY[i];
            }
        }
        acc = group_sum(acc, tmp);
        if (lid == 0) out[c] = acc;
    }
}

/*
 * training: dx = gamma invstd / M (M dy - dbeta - x^ dgamma)   (bn_dx)
 * eval:     dx = gamma invstd dy
 */
__kernel void bn_backward_input(__global const float *DY, __global const void *X, int xfrom, __global const float *G,
                                __global const float *saved, __global const float *DG, __global const float *DB,
                                __global float *DX, long n, long C, long inner, long M, int training)
{
    /* where a plane holds whole vectors, a vector's lanes share a channel */
    const long nv = BN_PLANES(inner) ? n / CLG_VW : 0;
    for (long q = get_global_id(0); q < nv; q += get_global_size(0)) {
        const long i = q * CLG_VW, c = (i / inner) % C;
        const float invstd = saved[C + c], k = G[c] * invstd;
        if (training) {
            VSTORE(bn_dx_v(VLOAD(q, DY), vload_any(X, i, xfrom), saved[c], invstd, k, (float)M, DB[c], DG[c]), q, DX);
        } else {
            VSTORE(k * VLOAD(q, DY), q, DX);
        }
    }
    for (long i = nv * CLG_VW + get_global_id(0); i < n; i += get_global_size(0)) {
        const long c = (i / inner) % C;
        const float invstd = saved[C + c], k = G[c] * invstd;
        if (training) {
            DX[i] = bn_dx(DY[i], load_any(X, i, xfrom), saved[c], invstd, k, (float)M, DB[c], DG[c]);
        } else {
            DX[i] = k * DY[i];
        }
    }
}
