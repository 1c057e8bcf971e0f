/* Reference implementation of the softmax family. */
#include "ref_real.h"

clg_status REF(clg_ref_softmax)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    return REF(clg_ref_unsupported)(be, n);
}
