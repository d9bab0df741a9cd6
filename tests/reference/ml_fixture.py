#!/usr/bin/env python3
"""ml_fixture.py DIR [--malformed KIND | --ml1m-size] — a small synthetic data set in EXACTLY the MovieLens-1M format.

users.dat   UserID::Gender::Age::Occupation::Zip-code
movies.dat  MovieID::Title::Genres            (Latin-1, genres A|B)
ratings.dat UserID::MovieID::Rating::Timestamp

Planted taste: two taste groups that follow users.dat's Gender (90 % of users; the rest take the other taste):
taste 0 rates Romance/Drama/Musical high and Action/Sci-Fi/Thriller low, taste 1 the reverse; everything else is
middling. Each user watches mostly liked movies, in time order, so the next movie follows the history's taste.
Odd rows, as in real files: trailing blanks on some lines, Latin-1 titles ("Amélie (2001)"), a movie nobody
rated, a user with one rating (left out by pgrpo), a user with no rating at all.

--ml1m-size writes the same kind of set at MovieLens-1M's size (6040 users, 3706 movies, ~1M ratings): for timing
the loader (parse + ALS), not used by the tests.
--layout 100k writes the same set in the MovieLens-100K layout (u.user, u.item, u.data) instead.
--malformed KIND writes the same set with one bad line and prints "FILE:LINE" of that line:
  rating_value  ratings.dat: a rating of 7
  fields        users.dat: a line with a missing field
  genre         movies.dat: an unknown genre
  unknown_movie ratings.dat: a MovieID that movies.dat does not have
  duplicate     ratings.dat: the same (user, movie) rated twice
"""
import os
import random
import sys

N_USERS = 300
N_MOVIES = 120
PER_USER = (15, 35)
LIKED = [("Romance", "Drama", "Musical"), ("Action", "Sci-Fi", "Thriller")]
OTHER = ("Comedy", "Animation", "Children's", "Crime", "Documentary", "Horror", "Western", "Film-Noir")
LATIN1 = ["Amélie (2001)", "Le Dîner de cons (1998)", "Smilla's Sense of Snow (Frøken Smillas fornemmelse for sne) (1997)",
          "Ça commence aujourd'hui (1999)", "Niños del Brasil, Los (1978)"]


def movies(rng):
    out = []
    for m in range(1, N_MOVIES + 1):
        kind = m % 3   # 0: taste-0 genres, 1: taste-1 genres, 2: other
        if kind < 2:
            g = rng.sample(LIKED[kind], rng.randint(1, 2))
        else:
            g = rng.sample(OTHER, rng.randint(1, 2))
        title = LATIN1[m // 4 % len(LATIN1)] if m % 4 == 0 else "Movie %d (%d)" % (m, 1950 + m % 50)
        out.append((m * 3 + 1, title, g, kind))   # sparse ids, like ML-1M
    return out


def users(rng):
    out = []
    for u in range(1, N_USERS + 1):
        gender = "F" if rng.random() < 0.5 else "M"
        taste = (0 if gender == "F" else 1) if rng.random() < 0.9 else (1 if gender == "F" else 0)
        age = rng.choice([1, 18, 25, 35, 45, 50, 56])
        occ = rng.randint(0, 20)
        out.append((u, gender, age, occ, "%05d" % rng.randint(0, 99999), taste))
    return out


def ratings(rng, us, ms):
    rated = [m for m in ms if m[0] != ms[-1][0]]   # the last movie: nobody rates it
    out = []
    for (u, _g, _a, _o, _z, taste) in us:
        if u == 7:
            continue                               # a user with no rating at all
        n = 1 if u == 5 else rng.randint(*PER_USER)   # user 5: one rating
        liked = [m for m in rated if m[3] == taste]
        others = [m for m in rated if m[3] != taste]
        seen, t = set(), 956703932 + u * 1000
        while len(seen) < n:
            m = rng.choice(liked) if rng.random() < 0.8 else rng.choice(others)
            if m[0] in seen:
                continue
            seen.add(m[0])
            r = 4 + (rng.random() < 0.5) if m[3] == taste else (1 + (rng.random() < 0.5) if m[3] < 2 else 3)
            t += rng.randint(1, 5000)
            out.append((u, m[0], r, t))
    rng.shuffle(out)   # ML-1M is grouped by user but pgrpo must not rely on any order
    return out


def write(d, us, ms, rs, malformed):
    os.makedirs(d, exist_ok=True)
    bad = None
    lines = []
    for i, (u, g, a, o, z, _t) in enumerate(us):
        line = "%d::%s::%d::%d::%s" % (u, g, a, o, z)
        if malformed == "fields" and i == 41:
            line, bad = "%d::%s::%d::%s" % (u, g, a, z), "users.dat:%d" % (i + 1)
        lines.append(line + ("  " if i % 50 == 3 else ""))   # trailing blanks
    open(os.path.join(d, "users.dat"), "wb").write(("\n".join(lines) + "\n").encode("ascii"))
    lines = []
    for i, (m, title, g, _k) in enumerate(ms):
        genres = "|".join(g)
        if malformed == "genre" and i == 30:
            genres, bad = genres + "|Space-Opera", "movies.dat:%d" % (i + 1)
        lines.append("%d::%s::%s" % (m, title, genres))
    open(os.path.join(d, "movies.dat"), "wb").write(("\n".join(lines) + "\n").encode("latin-1"))
    lines = []
    for i, (u, m, r, t) in enumerate(rs):
        if malformed == "rating_value" and i == 1234:
            r, bad = 7, "ratings.dat:%d" % (i + 1)
        if malformed == "unknown_movie" and i == 99:
            m, bad = 2, "ratings.dat:%d" % (i + 1)
        lines.append("%d::%d::%d::%d" % (u, m, r, t) + (" " if i % 97 == 5 else ""))
    if malformed == "duplicate":
        u, m, r, t = rs[10]
        lines.insert(500, "%d::%d::%d::%d" % (u, m, 5 - r + 1, t + 7))
        bad = "ratings.dat:501"
    open(os.path.join(d, "ratings.dat"), "wb").write(("\r\n".join(lines[:50]) + "\r\n" + "\n".join(lines[50:]) + "\n")
                                                     .encode("ascii"))
    return bad


OCC100K = ["administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive", "healthcare",
           "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer", "retired", "salesman",
           "scientist", "student", "technician", "writer"]
GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
          "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def write_100k(d, us, ms, rs, malformed):
    """The ML-100K layout: u.user (id|age|gender|occupation|zip), u.item (id|title|date|video date|url|19 flags),
    u.data (tab-separated)."""
    os.makedirs(d, exist_ok=True)
    bad = None
    with open(os.path.join(d, "u.user"), "wb") as f:
        for (u, g, a, o, z, _t) in us:
            f.write(("%d|%d|%s|%s|%s\n" % (u, 16 if a == 1 else a + 2, g, OCC100K[o], z)).encode("ascii"))
    with open(os.path.join(d, "u.item"), "wb") as f:
        for (m, title, g, _k) in ms:
            flags = ["1" if (i > 0 and GENRES[i - 1] in g) else "0" for i in range(19)]
            f.write(("%d|%s|01-Jan-1995||http://example.org/%d|%s\n" % (m, title, m, "|".join(flags))).encode("latin-1"))
    with open(os.path.join(d, "u.data"), "wb") as f:
        for i, (u, m, r, t) in enumerate(rs):
            if malformed == "rating_value" and i == 1234:
                r, bad = 0, "u.data:%d" % (i + 1)
            f.write(("%d\t%d\t%d\t%d\n" % (u, m, r, t)).encode("ascii"))
    return bad


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    global N_USERS, N_MOVIES, PER_USER
    d = sys.argv[1]
    if sys.argv[2:3] == ["--ml1m-size"]:
        N_USERS, N_MOVIES, PER_USER = 6040, 3706, (20, 311)
    malformed = sys.argv[sys.argv.index("--malformed") + 1] if "--malformed" in sys.argv else None
    rng = random.Random(20261127)
    ms, us = movies(rng), users(rng)
    rs = ratings(rng, us, ms)
    bad = (write_100k if "--layout" in sys.argv and sys.argv[sys.argv.index("--layout") + 1] == "100k" else write)(
        d, us, ms, rs, malformed)
    if malformed:
        if not bad:
            sys.exit("unknown --malformed kind %s" % malformed)
        print(bad)


if __name__ == "__main__":
    main()
