// transfer.h — moving trajectories from rollout ranks to learners, and weights from learner 0 to rollout ranks.
// The wire format is one table of Batch fields (transfer.c: WIRE_FIELDS) that drives both pack and unpack:
//   TransferHeader, then for a run of n prompts each field's rows in table order (per prompt, per completion,
//   or per completion x Tc). transfer_bytes/pack/unpack are pure functions over buffers (unit-tested, no MPI).
#ifndef PGRPO_TRANSFER_H
#define PGRPO_TRANSFER_H
#include <stddef.h>
#include "batch.h"
#include "comm.h"

// What a rollout rank reports with its trajectories: its phase times and whether it saw a stop signal.
typedef struct { double gen_s, reward_s, ref_s; int stop; int pad; } TransferHeader;

// Bytes of n prompts (G completions of Tc tokens each) on the wire, header included.
size_t transfer_bytes(int n, int G, int Tc);
// Prompts [i0, i0+n) of b, with header h, into buf (transfer_bytes(n, b->G, b->Tc) bytes).
void transfer_pack(const Batch *b, int i0, int n, const TransferHeader *h, char *buf);
// The reverse: buf into prompts [i0, i0+n) of b (same G and Tc), the header into *h.
void transfer_unpack(Batch *b, int i0, int n, TransferHeader *h, const char *buf);
// Folds a sender's header into the step's: slowest phase times, any stop.
void transfer_header_merge(TransferHeader *agg, const TransferHeader *h);
// Number of fields in the wire table and field f's name (for tests and error messages).
int transfer_n_fields(void);
const char *transfer_field_name(int f);

// The trajectory exchange of one run (prompt ranges over rollout ranks and learners; buffers sized once).
typedef struct Transfer Transfer;
// roles must outlive the Transfer. P prompts per step; this rank's rollout range [p0_roll, +np_roll) and learner
// range [p0_learn, +np_learn). NULL-equivalent work (no buffers) when the run is colocated.
Transfer *transfer_create(const Roles *roles, long P, long p0_roll, long np_roll, long p0_learn, long np_learn,
                          int G, int Tc);
void transfer_free(Transfer *t);
// Rollout-only rank: posts one message per learner whose range overlaps this rank's prompts (roll's rows);
// generation may go on until transfer_wait.
void transfer_send(Transfer *t, const Batch *roll, const TransferHeader *h);
void transfer_wait(Transfer *t);
// Learner: receives this learner's prompts into learn; *agg = the merged headers. Returns seconds waited.
double transfer_recv(Transfer *t, Batch *learn, TransferHeader *agg);

// Weight sync over roles->wsync (learner 0 -> rollout-only ranks): {version, stop} then the n weights. Fails the
// job loudly if it stalls. Returns the seconds it took.
double transfer_weights(const Roles *roles, float *params, size_t n, long *version, int *stop);

#endif
