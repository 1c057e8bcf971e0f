/* Parameter updates: one pass over each parameter tensor, in place. */

/* Plain gradient descent: w <- w - lr * grad */
__kernel void sgd_update(__global float *W, __global const float *G, long n, float lr)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) W[i] -= lr * G[i];
}
