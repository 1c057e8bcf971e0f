/* The act family: constructors and backward rules. */
#include "internal.h"

clg_status clg_backward_act(clg_graph *g, int32_t *grads, int32_t i)
{
    return clg_error(g->ctx, CLG_ERR_UNSUPPORTED, "clg_backward: op '%s' has no backward yet",
                     clg_op_name(g->nodes[i].op));
}
