/* Reference implementation of the norm family. */
#include "ref_real.h"

clg_status REF(clg_ref_norm)(clg_backend *be, const clg_node *nodes, const clg_node *n)
{
    return REF(clg_ref_unsupported)(be, n);
}
