// groups_read — groups_file_read inside an MPI job (the reader forks a bounded child; this checks that works
// under mpirun): groups_read FILE N_USERS prints "rank R: n_groups G, first g0" or the error line; exit 0/3.
#include "groups_file.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, rc = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc != 3) { fprintf(stderr, "usage: groups_read FILE N_USERS\n"); MPI_Finalize(); return 2; }
    int n = atoi(argv[2]), ng = 0;
    int *ug = calloc((size_t)(n > 0 ? n : 1), sizeof *ug);
    char err[1024];
    if (groups_file_read(argv[1], n, ug, &ng, err, sizeof err) == 0)
        printf("rank %d: n_groups %d, first %d\n", rank, ng, ug[0]);
    else { printf("rank %d: error: %s\n", rank, err); rc = 3; }
    free(ug);
    MPI_Barrier(MPI_COMM_WORLD);
    MPI_Finalize();
    return rc;
}
