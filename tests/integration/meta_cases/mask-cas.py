#!/usr/bin/env python3
# mask-cas.py FILE - after record-cases.sh: CAS values in meta replies
# (" c<digits>") become {cas}, and what follows "cas=" in an ME line {str}.
import re
import sys

path = sys.argv[1]
lines = open(path).read().split("\n")
for i, l in enumerate(lines):
    if l.startswith("< "):
        l = re.sub(r" c\d+", " c{cas}", l)
        lines[i] = re.sub(r"cas=\d+.*?\\r\\n", r"cas={str}\\r\\n", l)
open(path, "w").write("\n".join(lines))
