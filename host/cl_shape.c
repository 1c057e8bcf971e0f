/* OpenCL dispatch of the shape family. */
#include "cl_backend.h"

clg_status clg_cl_shape(clg_cl_backend *b, const clg_node *nodes, const clg_node *n)
{
    return clg_cl_unsupported(b, n);
}
