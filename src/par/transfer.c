// transfer.c — the trajectory wire format and the rollout -> learner / learner -> rollout exchanges (transfer.h).
#include "transfer.h"
#include <string.h>
#include "check.h"

#define TRANSFER_TAG 100
#define BCAST_TIMEOUT_S 600.0

typedef enum { PER_PROMPT, PER_COMPLETION, PER_TOKEN } Extent;   // rows of n, n*G, n*G*Tc elements
typedef struct {
    const char *name;
    size_t member;   // offsetof(Batch, <array>)
    size_t elem;     // bytes per element
    Extent extent;
} WireField;

// The one description of the wire format: pack and unpack both walk it. (group and adv are the learner's own.)
static const WireField WIRE_FIELDS[] = {
    {"prompt", offsetof(Batch, prompt), sizeof(Prompt), PER_PROMPT},
    {"version", offsetof(Batch, version), sizeof(int64_t), PER_PROMPT},
    {"completion_tokens", offsetof(Batch, ctok), sizeof(int), PER_TOKEN},
    {"behaviour_logp", offsetof(Batch, blogp), sizeof(float), PER_TOKEN},
    {"reference_logp", offsetof(Batch, ref_logp), sizeof(float), PER_TOKEN},
    {"completion_len", offsetof(Batch, clen), sizeof(int), PER_COMPLETION},
    {"reward", offsetof(Batch, reward), sizeof(float), PER_COMPLETION},
};
enum { N_WIRE = sizeof WIRE_FIELDS / sizeof WIRE_FIELDS[0] };

int transfer_n_fields(void) { return N_WIRE; }
const char *transfer_field_name(int f) { return f >= 0 && f < N_WIRE ? WIRE_FIELDS[f].name : NULL; }

// Elements of field f per prompt.
static size_t per_prompt(const WireField *f, int G, int Tc) {
    return f->extent == PER_PROMPT ? 1 : f->extent == PER_COMPLETION ? (size_t)G : (size_t)G * (size_t)Tc;
}

// The array a field names in b (the table holds its offset; the pointer is read bytewise).
static char *field_array(const Batch *b, const WireField *f) {
    char *p;
    memcpy(&p, (const char *)b + f->member, sizeof p);
    return p;
}

size_t transfer_bytes(int n, int G, int Tc) {
    size_t bytes = sizeof(TransferHeader);
    for (int i = 0; i < N_WIRE; i++) bytes += (size_t)n * per_prompt(&WIRE_FIELDS[i], G, Tc) * WIRE_FIELDS[i].elem;
    return bytes;
}

void transfer_pack(const Batch *b, int i0, int n, const TransferHeader *h, char *buf) {
    memcpy(buf, h, sizeof *h);
    buf += sizeof *h;
    for (int i = 0; i < N_WIRE; i++) {
        const WireField *f = &WIRE_FIELDS[i];
        size_t row = per_prompt(f, b->G, b->Tc) * f->elem, len = (size_t)n * row;
        memcpy(buf, field_array(b, f) + (size_t)i0 * row, len);
        buf += len;
    }
}

void transfer_unpack(Batch *b, int i0, int n, TransferHeader *h, const char *buf) {
    memcpy(h, buf, sizeof *h);
    buf += sizeof *h;
    for (int i = 0; i < N_WIRE; i++) {
        const WireField *f = &WIRE_FIELDS[i];
        size_t row = per_prompt(f, b->G, b->Tc) * f->elem, len = (size_t)n * row;
        memcpy(field_array(b, f) + (size_t)i0 * row, buf, len);
        buf += len;
    }
}

void transfer_header_merge(TransferHeader *agg, const TransferHeader *h) {
    if (h->gen_s > agg->gen_s) agg->gen_s = h->gen_s;
    if (h->reward_s > agg->reward_s) agg->reward_s = h->reward_s;
    if (h->ref_s > agg->ref_s) agg->ref_s = h->ref_s;
    agg->stop |= h->stop;
}

struct Transfer {
    const Roles *ro;
    long P, p0_roll, np_roll, p0_learn, np_learn;
    int G, Tc;
    char *wire;            // packed trajectories in flight
    size_t cap;
    MPI_Request *reqs;     // (n_learners) sends in flight
    int n_reqs;
};

Transfer *transfer_create(const Roles *roles, long P, long p0_roll, long np_roll, long p0_learn, long np_learn,
                          int G, int Tc) {
    Transfer *t = xcalloc(1, sizeof *t);
    *t = (Transfer){.ro = roles, .P = P, .p0_roll = p0_roll, .np_roll = np_roll, .p0_learn = p0_learn,
                    .np_learn = np_learn, .G = G, .Tc = Tc};
    long most = np_roll > np_learn ? np_roll : np_learn;
    // Sized once: a rank's messages of one step hold its prompts plus one header per learner.
    t->cap = roles->n_rollout_only ? transfer_bytes((int)most, G, Tc) + sizeof(TransferHeader) * (size_t)roles->n_learners : 0;
    t->wire = t->cap ? xmalloc(t->cap) : NULL;
    t->reqs = xcalloc((size_t)roles->n_learners, sizeof(MPI_Request));
    return t;
}

void transfer_free(Transfer *t) {
    if (!t) return;
    free(t->wire);
    free(t->reqs);
    free(t);
}

// Prompts that part `part` of `parts` (of the global P) shares with [first, first+count): [*lo, *hi), maybe empty.
static void range_overlap(long P, int parts, int part, long first, long count, long *lo, long *hi) {
    long p0, np;
    comm_split_range(P, parts, part, &p0, &np);
    *lo = p0 > first ? p0 : first;
    *hi = p0 + np < first + count ? p0 + np : first + count;
}

void transfer_send(Transfer *t, const Batch *roll, const TransferHeader *h) {
    const Roles *ro = t->ro;
    size_t off = 0;
    t->n_reqs = 0;
    for (int l = 0; l < ro->n_learners; l++) {
        long lo, hi;
        range_overlap(t->P, ro->n_learners, l, t->p0_roll, t->np_roll, &lo, &hi);
        if (hi <= lo) continue;
        size_t bytes = transfer_bytes((int)(hi - lo), t->G, t->Tc);
        CHECK(off + bytes <= t->cap, "transfer buffer too small");
        transfer_pack(roll, (int)(lo - t->p0_roll), (int)(hi - lo), h, t->wire + off);
        MPI_Isend(t->wire + off, (int)bytes, MPI_BYTE, l, TRANSFER_TAG, ro->world, &t->reqs[t->n_reqs++]);
        off += bytes;
    }
}

void transfer_wait(Transfer *t) {
    MPI_Waitall(t->n_reqs, t->reqs, MPI_STATUSES_IGNORE);
    t->n_reqs = 0;
}

double transfer_recv(Transfer *t, Batch *learn, TransferHeader *agg) {
    const Roles *ro = t->ro;
    double t0 = comm_now();
    int first = ro->size - ro->n_rollout_only;
    memset(agg, 0, sizeof *agg);
    for (int r = 0; r < ro->n_rollouts; r++) {
        long lo, hi;
        range_overlap(t->P, ro->n_rollouts, r, t->p0_learn, t->np_learn, &lo, &hi);
        if (hi <= lo) continue;
        size_t bytes = transfer_bytes((int)(hi - lo), t->G, t->Tc);
        CHECK(bytes <= t->cap, "transfer buffer too small");
        MPI_Recv(t->wire, (int)bytes, MPI_BYTE, first + r, TRANSFER_TAG, ro->world, MPI_STATUS_IGNORE);
        TransferHeader h;
        transfer_unpack(learn, (int)(lo - t->p0_learn), (int)(hi - lo), &h, t->wire);
        transfer_header_merge(agg, &h);
    }
    return comm_now() - t0;
}

double transfer_weights(const Roles *roles, float *params, size_t n, long *version, int *stop) {
    long hdr[2] = {*version, *stop};
    double t = comm_bcast_timed(hdr, sizeof hdr, 0, roles->wsync, BCAST_TIMEOUT_S, "weight header");
    t += comm_bcast_timed(params, n * sizeof(float), 0, roles->wsync, BCAST_TIMEOUT_S, "weight");
    *version = hdr[0];
    *stop = (int)hdr[1];
    return t;
}
