// open_file — opens one file the way pgrpo's readers do, for the corruption harness (tests/fuzz/test_corrupt.sh):
//   open_file container KIND FILE   store_open(FILE, KIND) (frame, schema; "-" = any kind), then every dataset read
//                                   and checked against its checksum, as the readers of checkpoints and policies
//                                   do with theirs (store_get); prints "accepted"
//   open_file snapshot FILE OUT     snapshot_restore(FILE, OUT); prints "accepted"
//   open_file groups FILE N_USERS   groups_file_read; prints "accepted n_groups G crc C" (C: CRC-32 of the ids)
// Refusals print the one-line message on stderr and exit 3; usage errors exit 2.
#include "groups_file.h"
#include "snapshot.h"
#include "store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    char err[2048] = "";
    if (argc == 4 && !strcmp(argv[1], "container")) {
        StoreReader *r = store_open(argv[3], strcmp(argv[2], "-") ? argv[2] : NULL, err, sizeof err);
        if (!r) { fprintf(stderr, "%s\n", err); return 3; }
        if (store_check_datasets(r)) { fprintf(stderr, "%s\n", store_reader_error(r)); store_close(r); return 3; }
        store_close(r);
        printf("accepted\n");
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "snapshot")) {
        if (snapshot_restore(argv[2], argv[3], err, sizeof err)) { fprintf(stderr, "%s\n", err); return 3; }
        printf("accepted\n");
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "groups")) {
        int n = atoi(argv[3]), ng = 0;
        int *ug = calloc((size_t)(n > 0 ? n : 1), sizeof *ug);
        if (groups_file_read(argv[2], n, ug, &ng, err, sizeof err)) { fprintf(stderr, "%s\n", err); free(ug); return 3; }
        printf("accepted n_groups %d crc %08x\n", ng, store_crc32(0, ug, sizeof *ug * (size_t)n));
        free(ug);
        return 0;
    }
    fprintf(stderr, "usage: open_file container KIND FILE | snapshot FILE OUT | groups FILE N_USERS\n");
    return 2;
}
