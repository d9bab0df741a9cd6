// deck.h — the input deck: `[section]` + `key = value`, `#` comments, `--set section.key=value` overrides.
// Every key has a type, a default and a range (the schema table in deck.c, printed by `pgrpo --help-deck`): the
// defaults live there and nowhere else. Unknown keys (with the nearest valid name), bad values and missing files
// are errors naming file:line, key and the allowed values.
// Refused, each with one line naming file:line (or --set): a folder or unreadable file; a file over DECK_MAX_BYTES
// (/dev/zero, binary); a line over DECK_MAX_LINE bytes; a NUL, a control character (tab and a CRLF line end are
// fine), bytes that are not UTF-8, or an invisible character (zero-width, bidi, no-break space, a byte-order mark
// after the start) anywhere in a line, comments included; a key set twice in the file (a later --set overrides);
// run.out_dir empty, the root or a top-level system folder. A UTF-8 byte-order mark at the very start is skipped.
// User text in messages is escaped (\xNN for every byte outside printable ASCII), never echoed raw.
#ifndef PGRPO_DECK_H
#define PGRPO_DECK_H
#include <stddef.h>

typedef struct Deck Deck;

#define DECK_MAX_BYTES (1 << 20)   // 1 MiB
#define DECK_MAX_LINE 4095         // bytes per line, without the line end

// path NULL = the embedded default deck. sets: n_sets strings "section.key=value" applied after the file.
// NULL + a one-line message "...(HINT: ...)" in err on any problem.
Deck *deck_parse(const char *path, int n_sets, char *const *sets, char *err, size_t errlen);
// deck_parse, or the message and exit EXIT_USAGE (2): for the command layer.
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

// Where `key` got its value: "file:line", "--set" or "default".
const char *deck_where(const Deck *d, const char *key);
// Cross-key validation failure as a message: "<where>: <key> = <value>: <fmt...> (HINT: <hint>)" (where a default
// is named "<source>: key = v (default)"). Writes err and returns -1.
int deck_error(const Deck *d, const char *key, const char *hint, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
// deck_error, printed, then exit 2 (command layer).
void deck_fail(const Deck *d, const char *key, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

// Prints the schema (key, type, default, range, description) to stdout.
void deck_print_schema(void);

#endif
