// deck.h — the input deck: `[section]` + `key = value`, `#` comments, `--set section.key=value` overrides.
// Every key has a type, a default and a range (the schema table in deck.c, printed by `pgrpo --help-deck`).
// Unknown keys (with the nearest valid name), bad values and missing files are errors naming file:line,
// key and the allowed values; they exit with EXIT_USAGE (2).
#ifndef PGRPO_DECK_H
#define PGRPO_DECK_H

typedef struct Deck Deck;

// path NULL = the embedded default deck. sets: n_sets strings "section.key=value" applied after the file.
Deck *deck_load(const char *path, int n_sets, char *const *sets);
void deck_free(Deck *d);

// Typed getters. The key must exist in the schema (asking for an unknown key is a pgrpo bug).
long deck_int(const Deck *d, const char *key);
double deck_float(const Deck *d, const char *key);
int deck_bool(const Deck *d, const char *key);
const char *deck_str(const Deck *d, const char *key);   // strings and enum choices

// The resolved deck, every key with its value, as deck text (stored in every HDF5 file, echoed in the log).
const char *deck_text(const Deck *d);
const char *deck_source(const Deck *d); // file path, or "<default>"

// Cross-key validation failure: names where `key` was set (file:line, --set, or default) and exits 2.
void deck_fail(const Deck *d, const char *key, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

// Prints the schema (key, type, default, range, description) to stdout.
void deck_print_schema(void);

#endif
