// movielens_io.h — private: the MovieLens-1M folder read exactly as published (task_movielens.c is its only user).
//   users.dat    UserID::Gender::Age::Occupation::Zip-code     Gender M|F, Age one of 1 18 25 35 45 50 56,
//                                                              Occupation 0..20, Zip-code any non-empty text
//   movies.dat   MovieID::Title::Genres                        Title Latin-1 (converted to UTF-8; a line that is
//                                                              already valid UTF-8 is kept as it is), Genres
//                                                              `A|B|C` from the 18 ML-1M genre names
//   ratings.dat  UserID::MovieID::Rating::Timestamp            Rating 1..5, Timestamp >= 0 (seconds)
// The MovieLens-100K layout is read instead when the folder has u.data and no ratings.dat:
//   u.user  user id|age|gender|occupation|zip code   age 1..150 -> the ML-1M age code of its bucket, occupation
//                                                    one of the 21 names of u.occupation -> the nearest ML-1M code
//   u.item  movie id|title|release date|video release date|IMDb URL|19 flags 0/1 (unknown, then ML-1M's 18 genres)
//   u.data  user id<TAB>item id<TAB>rating<TAB>timestamp
// Trailing blanks and a CRLF line end are tolerated; anything else that is not exactly this is an error
// "<file>:<line>: <what> (HINT: ...)": a missing or extra field, a non-number, a value out of range, an unknown
// genre, a duplicate id, a rating of an unknown user or movie, a user rating a movie twice, an empty file.
#ifndef PGRPO_MOVIELENS_IO_H
#define PGRPO_MOVIELENS_IO_H
#include <stddef.h>
#include <stdint.h>

#define ML_GENRES 18
extern const char *const ml_genre_names[ML_GENRES];   // "Action", ..., "Western" (the ML-1M spelling)

typedef struct { int id; char *title; uint32_t genres; } MlMovie;     // title UTF-8; genres: bit g = genre g
typedef struct { int id; char gender; int age, occupation; } MlUser;
typedef struct { int user, movie, rating; long ts; } MlRow;          // user, movie: indexes into users / movies

typedef struct {
    MlMovie *movies; int n_movies;      // in file order
    MlUser *users; int n_users;         // in file order
    MlRow *rows; long n_rows;           // in file order
    const char *ratings_file;           // "ratings.dat" or "u.data" (for messages)
} MlData;

// Reads dir/users.dat, dir/movies.dat, dir/ratings.dat. 0, or -1 with a one-line message in err.
int ml_load(const char *dir, MlData *d, char *err, size_t errlen);
void ml_free(MlData *d);

#endif
