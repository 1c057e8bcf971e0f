/*
 * clgrad-allreduce: what summing a bucket across MPI ranks costs, as
 * clgrad_mpi.h does it (MPI_Iallreduce of doubles, in place, waited for
 * by polling MPI_Test), per bucket size. Built with MPI only.
 *
 *   mpirun -np N clgrad-allreduce [--repeat R]
 *
 * Prints per size the median time and two bandwidths, as nccl-tests
 * defines them: algbw = bytes / time; busbw = algbw x 2 (N - 1) / N, what
 * each link of a ring all-reduce carries, comparable with a link's speed
 * whatever N (bench/RESULTS.md's scaling model uses it).
 */
#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size, repeat = 20;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
            repeat = atoi(argv[++i]);
        } else {
            if (rank == 0) fprintf(stderr, "usage: mpirun -np N clgrad-allreduce [--repeat R]\n");
            MPI_Finalize();
            return 2;
        }
    }
    if (repeat < 1 || repeat > 1000) repeat = 20;
    static const long kib[] = {64, 256, 1024, 4096, 16384, 65536};
    double *t = malloc(sizeof(double) * (size_t)repeat);
    if (rank == 0)
        printf("ranks %d\n%-12s %12s %12s %12s %12s\n", size, "bucket", "median ms", "min ms", "algbw GB/s",
               "busbw GB/s");
    for (size_t s = 0; s < sizeof kib / sizeof kib[0]; s++) {
        const size_t n = (size_t)kib[s] * 1024 / sizeof(double);
        double *x = malloc(n * sizeof *x);
        if (!x || !t) MPI_Abort(MPI_COMM_WORLD, 1);
        for (size_t j = 0; j < n; j++) x[j] = (double)(j % 97) * 1e-3 + rank;
        for (int k = -2; k < repeat; k++) { /* two to warm up */
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Request q;
            MPI_Iallreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &q);
            for (int done = 0; !done;) MPI_Test(&q, &done, MPI_STATUS_IGNORE);
            double dt = MPI_Wtime() - t0, worst;
            MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); /* done when the last rank is */
            if (k >= 0) t[k] = worst;
        }
        qsort(t, (size_t)repeat, sizeof *t, cmp);
        double med = t[repeat / 2], bytes = (double)n * sizeof(double);
        char label[32];
        if (kib[s] >= 1024) snprintf(label, sizeof label, "%ld MiB", kib[s] / 1024);
        else snprintf(label, sizeof label, "%ld KiB", kib[s]);
        if (rank == 0)
            printf("%-12s %12.4f %12.4f %12.3f %12.3f\n", label, med * 1e3, t[0] * 1e3, bytes / med * 1e-9,
                   bytes / med * 1e-9 * 2.0 * (size - 1) / size);
        free(x);
    }
    free(t);
    MPI_Finalize();
    return 0;
}
