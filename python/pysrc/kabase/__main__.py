"""``python -m kabase run SCRIPT [ARGS...]``: run a script written for kafka-python, happybase or
the ``hbase`` seed facade against the embedded engine.

The aliases from :func:`kabase.install_as_modules` are installed first, then SCRIPT runs as
``__main__`` with ``sys.argv = [SCRIPT, *ARGS]``; the default engine is closed at exit.
"""

from __future__ import annotations

import runpy
import sys
from typing import List, Optional

USAGE = (
    "usage: python -m kabase run SCRIPT [ARGS...]   run a kafka-python / happybase / hbase script\n"
    "       python -m kabase cat TOPIC              print a topic's records (default data directory)\n"
    "       python -m kabase version"
)


def _cat(topic: str) -> int:
    import kabase
    from kabase.kafka import KafkaConsumer, TopicPartition

    eng = kabase.default_engine()
    if topic not in eng.list_topics():
        print(f"kabase cat: no topic {topic!r} in {eng.dir}", file=sys.stderr)
        return 1
    c = KafkaConsumer(engine=eng, auto_offset_reset="earliest", consumer_timeout_ms=200)
    c.assign([TopicPartition(topic, p) for p in range(eng.topic_partitions(topic))])
    for m in c:
        key = None if m.key is None else m.key.decode("utf-8", "replace")
        value = None if m.value is None else m.value.decode("utf-8", "replace")
        print(f"{m.topic}[{m.partition}]@{m.offset} key={key} value={value}")
    c.close()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    cmd = args.pop(0)
    if cmd == "version":
        import kabase

        print(kabase.__version__)
        return 0
    if cmd == "cat" and len(args) == 1:
        return _cat(args[0])
    if cmd != "run" or not args:
        print(USAGE, file=sys.stderr)
        return 2
    import os

    import kabase

    script = args[0]
    if not os.path.exists(script):
        print(f"kabase run: no such file: {script}", file=sys.stderr)
        return 2
    kabase.install_as_modules()
    sys.argv = list(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        eng = kabase._default
        if eng is not None and not eng.closed:
            eng.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
