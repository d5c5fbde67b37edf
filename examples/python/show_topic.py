"""Print every record of a topic on the default engine, from the beginning.

Usage: python show_topic.py TOPIC
"""
import sys

from kabase.kafka import KafkaConsumer


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    topic = sys.argv[1]
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers="localhost:9092",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=500,
    )
    count = 0
    for record in consumer:
        value = record.value.decode("utf-8", "replace") if record.value is not None else None
        print(f"{record.topic}[{record.partition}]@{record.offset} ts={record.timestamp} value={value}")
        count += 1
    consumer.close()
    print(f"{count} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
