/* OpenCL dispatch of the quant family (kernels in cl/quant.cl). */
#include "cl_backend.h"

/* fake quantization: (x, scale, zero point[, dy]); CLG_VW elements a
 * work-item per tensor and where a channel's runs hold whole vectors, else
 * one (cl/quant.cl) */
static clg_status run_fake_quant(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    cl_mem x = MEM(nodes[n->src[0]].buf), s = MEM(nodes[n->src[1]].buf), z = MEM(nodes[n->src[2]].buf);
    cl_mem out = MEM(n->buf);
    cl_long count = n->numel, channels = n->i[3], inner = n->i[4], zoff = n->i[7] ? channels : 0;
    cl_int per_tensor = n->i[0] < 0, which = (cl_int)n->i[5], learnable = (cl_int)n->i[6];
    float qmin = (float)n->i[1], qmax = (float)n->i[2], gf = n->f[0];
    const bool vectors = per_tensor || inner % b->vw == 0; /* as the kernels decide */
    const size_t items = vectors ? clg_cl_vector_items(b, count) : (size_t)count;
    if (n->op == CLG_OP_FAKE_QUANT) {
        clg_karg args[] = {ARG(x), ARG(s), ARG(z), ARG(out), ARG(count), ARG(channels), ARG(inner), ARG(per_tensor),
                           ARG(qmin), ARG(qmax), ARG(zoff)};
        return clg_cl_launch(b, K_fake_quant_forward, args, 11, items, 0);
    }
    cl_mem dy = MEM(nodes[n->src[3]].buf);
    clg_karg args[] = {ARG(x), ARG(s), ARG(z), ARG(dy), ARG(out), ARG(count), ARG(channels), ARG(inner),
                       ARG(per_tensor), ARG(qmin), ARG(qmax), ARG(gf), ARG(which), ARG(learnable), ARG(zoff)};
    return clg_cl_launch(b, K_fake_quant_backward, args, 15, items, 0);
}

/* Observers: parts per channel of observe_minmax, from the shapes alone
 * (workspaces and the launch must agree): one when the whole tensor is
 * small (a launch saved: the groups finish their channels), else about
 * 1024 elements a part and up to 512 groups over all channels. */
static int64_t observe_parts(const clg_node *x, const clg_node *n)
{
    const int64_t C = n->i[3], M = x->numel / C;
    if (x->numel <= 65536) return 1;
    int64_t P = (M + 1023) / 1024, cap = 512 / C;
    if (cap < 1) cap = 1;
    return P < cap ? P : cap;
}

bool clg_cl_quant_workspaces(const clg_cl_backend *b, const clg_node *nodes, const clg_node *n,
                             int64_t counts[CLG_MAX_AUX], uint8_t *scratch)
{
    (void)b;
    if (n->op != CLG_OP_OBSERVE) return true;
    counts[0] = 2 * n->i[3] * observe_parts(&nodes[n->src[0]], n); /* C <= 2^31: a tensor's extent */
    *scratch = 1u << 0;
    return true;
}

/* observe_minmax in training (groups of a power of two up to 64, the
 * kernel's local arrays), then observe_update (in training only when a
 * channel has several parts) */
static clg_status run_observe(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *X = &nodes[n->src[0]];
    cl_mem x = MEM(X->buf), lo = MEM(nodes[n->src[1]].buf), hi = MEM(nodes[n->src[2]].buf), out = MEM(n->buf);
    cl_mem part = MEM(n->aux[0]);
    cl_long C = n->i[3], inner = n->i[4], M = X->numel / C, P = observe_parts(X, n);
    cl_int training = n->training, moving = (cl_int)n->i[5], symmetric = (cl_int)n->i[6];
    float qmin = (float)n->i[1], qmax = (float)n->i[2], avg = n->f[0], eps = n->f[1], sym_zp = (float)n->i[7];
    if (training) { /* one part a channel: this launch does it all */
        size_t local = 64;
        while (local > b->kwg[K_observe_minmax]) local /= 2;
        clg_karg args[] = {ARG(x),    ARG(part),      ARG(C),    ARG(inner), ARG(M),   ARG(P),   ARG(lo),   ARG(hi),
                           ARG(out),  ARG(moving),    ARG(symmetric), ARG(qmin), ARG(qmax), ARG(avg), ARG(eps),
                           ARG(sym_zp)};
        clg_status s = clg_cl_launch(b, K_observe_minmax, args, 16, (size_t)(C * P) * local, local);
        if (s != CLG_OK || P == 1) return s;
    }
    clg_karg args[] = {ARG(part), ARG(lo),   ARG(hi),   ARG(out), ARG(C),   ARG(P),   ARG(training),
                       ARG(moving), ARG(symmetric), ARG(qmin), ARG(qmax), ARG(avg), ARG(eps), ARG(sym_zp)};
    return clg_cl_launch(b, K_observe_update, args, 14, (size_t)C, 0);
}

/* casts: CLG_VW elements a work-item (cl/quant.cl) */
static clg_status run_cast(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    const clg_node *x = &nodes[n->src[0]];
    cl_mem src = MEM(x->buf), dst = MEM(n->buf);
    cl_long count = n->numel;
    cl_int from = clg_cl_type_code(x), to = clg_cl_type_code(n), through = (cl_int)n->i[0];
    clg_karg args[] = {ARG(src), ARG(dst), ARG(count), ARG(from), ARG(to), ARG(through)};
    return clg_cl_launch(b, K_cast_convert, args, 6, clg_cl_vector_items(b, count), 0);
}

clg_status clg_cl_quant(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    if (n->op == CLG_OP_CAST) return run_cast(b, nodes, n);
    if (n->op == CLG_OP_OBSERVE) return run_observe(b, nodes, n);
    return run_fake_quant(b, nodes, n);
}
