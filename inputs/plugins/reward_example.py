#!/usr/bin/python3
"""reward_example.py — an example pgrpo reward process: the reward of inputs/plugins/reward_example.c, in Python,
speaking pgrpo's line protocol (include/reward.h; README "Reward plugins and reward processes").

    pgrpo train DECK --set reward.command="/usr/bin/python3 inputs/plugins/reward_example.py" --set reward.config=length=4

Protocol (version 1): pgrpo writes "pgrpo-reward 1<TAB><config>" once, we answer "ready"; then per batch
"batch <id> <n>" and n lines "<user><TAB><group><TAB><split><TAB><complete><TAB><prompt><TAB><completion>",
answered by n lines holding one number each. Text fields escape backslash, tab, newline and CR as \\\\ \\t \\n \\r.
End of input: exit 0. Logs go to stderr; stdout carries only answers.
"""
import sys

ESC = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def unescape(s):
    if "\\" not in s:
        return s
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(ESC.get(s[i + 1], s[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def words(s):
    return [w for w in s.split(" ") if w]


def reward(prompt, completion, complete, length):
    """The same arithmetic, in the same order, as example_reward() in reward_example.c (float64, then float32)."""
    if not complete:
        return -1.0
    c = words(completion)
    if not c:
        return -1.0
    p = set(words(prompt))
    hits = sum(1 for w in c if w in p)
    r = 2.0 * hits / len(c) - 1.0 - 0.25 * abs(len(c) - length)
    return min(1.0, max(-1.0, r))


def parse_config(config):
    if not config:
        return 4
    if not config.startswith("length="):
        raise ValueError(f'expected "length=N", got "{config}"')
    return int(config[7:])


def main():
    inp, out = sys.stdin, sys.stdout
    head = inp.readline().rstrip("\n").split("\t", 1)
    if head[0] != "pgrpo-reward 1":
        print(f"reward_example.py: unexpected header {head[0]!r}", file=sys.stderr)
        return 2
    length = parse_config(unescape(head[1]) if len(head) > 1 else "")
    out.write("ready\n")
    out.flush()
    for line in inp:
        tag, _bid, n = line.split()
        assert tag == "batch", line
        answers = []
        for _ in range(int(n)):
            user, group, split, complete, prompt, completion = inp.readline().rstrip("\n").split("\t")
            answers.append(repr(reward(unescape(prompt), unescape(completion), complete == "1", length)))
        out.write("\n".join(answers) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
