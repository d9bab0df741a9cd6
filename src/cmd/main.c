// main.c — the pgrpo command line: parses, validates and dispatches; nothing else.
#include <openblas_config.h>
#include <stdio.h>
#include <string.h>
#include "app.h"
#include "check.h"
#include "comm.h"
#include "store.h"

void openblas_set_num_threads(int);

static const char *USAGE =
    "usage: pgrpo [COMMAND] [DECK] [options]\n"
    "\n"
    "Personalized GRPO (and GRPO / Dr. GRPO) for a transformer policy, on MPI.\n"
    "\n"
    "commands:\n"
    "  train DECK     RL fine-tuning from the SFT base (builds the base first if it is missing)\n"
    "  sft DECK       supervised pre-training of the base policy on the task's corpus\n"
    "  eval DECK      per-group evaluation of a policy or checkpoint on held-out users (--checkpoint FILE)\n"
    "  sample DECK    example prompts and completions per group, as text (--checkpoint FILE)\n"
    "  groups DECK    discover preference groups from users' feedback ([groups]) -> groups.h5 for train.groups=file\n"
    "  inspect FILE   summarise any pgrpo HDF5 file and verify its checksums\n"
    "  import hf DIR --out FILE [--tokenizer DIR] [--context N]\n"
    "                 a Hugging Face GPT-2 (config.json, model.safetensors or sharded, vocab.json + merges.txt)\n"
    "                 -> a pgrpo policy file for train.base (README \"Your own model\")\n"
    "  import llmc FILE.bin --tokenizer DIR --out FILE [--context N]\n"
    "                 an llm.c GPT-2 checkpoint (version 3 fp32 or 5 bf16) -> a pgrpo policy file\n"
    "  export hf POLICY.h5 --out DIR\n"
    "                 a policy as a Hugging Face GPT-2 folder (safetensors, config.json, tokenizer files)\n"
    "  (none)         train on the embedded default deck\n"
    "\n"
    "options:\n"
    "  --set section.key=value   override a deck key (repeatable)\n"
    "  --resume auto|PATH        train: continue from the newest valid checkpoint (auto is harmless on a first run)\n"
    "  --checkpoint FILE         eval/sample: a policy or checkpoint file (default: <run.out_dir>/final.h5)\n"
    "  --quiet                   no log lines\n"
    "  --help, --version, --help-deck (every deck key with its default and range)\n"
    "\n"
    "exit codes: 0 done, 2 usage/deck error, 3 runtime error (I/O, corrupt file, MPI), 75 stopped early\n"
    "            after a checkpoint (SIGTERM/SIGUSR1/max_walltime): run again with --resume auto;\n"
    "            a second SIGTERM/SIGINT stops at once (the last checkpoint stays valid)\n";

// The command line after the cheap questions: command, deck, --set overrides (sets: argc slots), options.
typedef struct { const char *cmd, *deck_path, *inspect_path; char **sets; int n_sets; } Args;

static void parse_args(int argc, char **argv, App *a, Args *g) {
    int argi = 1;
    if (argi < argc && argv[argi][0] != '-') {
        g->cmd = argv[argi++];
        if (strcmp(g->cmd, "train") && strcmp(g->cmd, "sft") && strcmp(g->cmd, "eval") && strcmp(g->cmd, "sample") &&
            strcmp(g->cmd, "inspect") && strcmp(g->cmd, "groups"))
            die_user(EXIT_USAGE, "see `pgrpo --help`", "unknown command '%s'", g->cmd);
    }
    for (; argi < argc; argi++) {
        const char *s = argv[argi];
        const char *val = argi + 1 < argc ? argv[argi + 1] : NULL;
        if (!strcmp(s, "--set")) {
            if (!val) die_user(EXIT_USAGE, "write --set section.key=value", "--set needs a value");
            g->sets[g->n_sets++] = argv[++argi];
        } else if (!strncmp(s, "--set=", 6)) {
            g->sets[g->n_sets++] = argv[argi] + 6;
        } else if (!strcmp(s, "--resume")) {
            if (!val) die_user(EXIT_USAGE, "write --resume auto or --resume PATH", "--resume needs a value");
            a->resume = argv[++argi];
        } else if (!strcmp(s, "--checkpoint")) {
            if (!val) die_user(EXIT_USAGE, "write --checkpoint FILE", "--checkpoint needs a value");
            a->checkpoint = argv[++argi];
        } else if (!strcmp(s, "--quiet")) {
            a->quiet = 1;
        } else if (s[0] == '-') {
            die_user(EXIT_USAGE, "see `pgrpo --help`", "unknown option '%s'", s);
        } else if (!strcmp(g->cmd, "inspect") && !g->inspect_path) {
            g->inspect_path = s;
        } else if (!g->deck_path) {
            g->deck_path = s;
        } else {
            die_user(EXIT_USAGE, "give one deck file; override keys with --set", "unexpected argument '%s'", s);
        }
    }
    if (a->resume && strcmp(g->cmd, "train"))
        die_user(EXIT_USAGE, "--resume applies to `pgrpo train`", "--resume given to '%s'", g->cmd);
}

int main(int argc, char **argv) {
    // Answer the cheap questions before MPI starts, so they work without mpirun.
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(USAGE, stdout); return 0; }
        if (!strcmp(argv[i], "--version")) { printf("pgrpo %s\n", PGRPO_VERSION); return 0; }
        if (!strcmp(argv[i], "--help-deck")) { deck_print_schema(); return 0; }
    }
    if (argc > 1 && !strcmp(argv[1], "import")) return cmd_import(argc - 2, argv + 2);
    if (argc > 1 && !strcmp(argv[1], "export")) return cmd_export(argc - 2, argv + 2);
    App a;
    memset(&a, 0, sizeof a);
    Args g = {.cmd = "train", .sets = calloc((size_t)argc, sizeof(char *))};
    parse_args(argc, argv, &a, &g);
    if (!strcmp(g.cmd, "inspect")) {
        if (!g.inspect_path) die_user(EXIT_USAGE, "write pgrpo inspect FILE.h5", "inspect needs a file");
        free(g.sets);
        return store_inspect(g.inspect_path, 1, stdout);
    }
    comm_init(&argc, &argv, &a.world, &a.rank, &a.size);   // from here on a fatal error ends the whole job
    a.deck = deck_load(g.deck_path, g.n_sets, g.sets);
    char err[2048];
    if (config_from_deck(a.deck, &a.cfg, err, sizeof err)) die_user(EXIT_USAGE, NULL, "%s", err);
    openblas_set_num_threads(a.cfg.run.threads);
    if (a.rank == 0 && !a.quiet) {
        printf("pgrpo %s %s on %d rank%s, deck %s\n", PGRPO_VERSION, g.cmd, a.size, a.size > 1 ? "s" : "",
               deck_source(a.deck));
        fputs(deck_text(a.deck), stdout);
        fflush(stdout);
    }
    int rc;
    if (!strcmp(g.cmd, "sft")) rc = cmd_sft(&a);
    else if (!strcmp(g.cmd, "eval")) rc = cmd_eval(&a);
    else if (!strcmp(g.cmd, "sample")) rc = cmd_sample(&a);
    else if (!strcmp(g.cmd, "groups")) rc = cmd_groups(&a);
    else rc = cmd_train(&a);
    deck_free(a.deck);
    free(g.sets);
    comm_finalize();
    return rc;
}
