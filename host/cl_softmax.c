/* OpenCL dispatch of the softmax family. */
#include "cl_backend.h"

clg_status clg_cl_softmax(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    return clg_cl_unsupported(b, n);
}
