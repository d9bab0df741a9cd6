// scalapack.h — private to src/par: the BLACS / ScaLAPACK entry points pca.c and spectral.c call (Debian's
// libscalapack-openmpi ships no C header for them). Fortran routines take every argument by pointer; descriptors
// are int[9]; local arrays are column-major with leading dimension LLD.
#ifndef PGRPO_SCALAPACK_H
#define PGRPO_SCALAPACK_H
#include <mpi.h>

// BLACS C interface: a system handle from an MPI communicator, then a process grid ("R": row-major ranks).
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *ctxt, char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctxt);
// BLACS_SET: what = 15 (SGET_TOPSREPEAT) / 16 (SGET_TOPSCOHRNT), val = 1: combines (the global sums inside
// PBLAS/ScaLAPACK) use repeatable, coherent topologies instead of the default MPI reductions, whose summation
// order here changes from call to call (pdsytrd on a 1 x 3 grid gave different eigenvalue bits per call).
void Cblacs_set(int ctxt, int what, int *val);
// Local rows/cols of an n-long dimension in blocks of nb over nprocs, for process iproc (first block on isrc).
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
               const int *icsrc, const int *ictxt, const int *lld, int *info);
// Eigenvalues w (ascending, global on every process) and eigenvectors Z of the symmetric A (uplo triangle
// read, A destroyed); lwork = liwork = -1 asks for the workspace sizes in work[0] / iwork[0].
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz,
              double *work, const int *lwork, int *iwork, const int *liwork, int *info);

#endif
