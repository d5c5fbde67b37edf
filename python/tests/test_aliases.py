"""Code written for the real happybase and kafka-python, run unchanged through the aliases."""

import textwrap

from conftest import needs_groups, needs_tables, needs_topics, run_py

HAPPYBASE_APP = textwrap.dedent('''
    import happybase

    connection = happybase.Connection('localhost', autoconnect=False)
    connection.open()
    if b'mytable' not in connection.tables():
        connection.create_table('mytable', {'cf1': dict(max_versions=10), 'cf2': dict()})
    table = connection.table('mytable')
    table.put(b'row-key', {b'cf1:col1': b'value1', b'cf1:col2': b'value2'})
    row = table.row(b'row-key')
    print(row[b'cf1:col1'])
    for key, data in table.scan(row_prefix=b'row'):
        print(key, sorted(data))
    with table.batch(batch_size=2) as b:
        for i in range(5):
            b.put(b'row-%d' % i, {b'cf2:n': str(i).encode()})
    print(len(list(table.scan(columns=[b'cf2']))))
    print(table.counter_inc(b'row-key', b'cf1:counter'))
    pool = happybase.ConnectionPool(size=3, host='localhost')
    with pool.connection() as conn:
        print(conn.table('mytable').row(b'row-3', columns=[b'cf2:n']))
    connection.close()
''')

KAFKA_APP = textwrap.dedent('''
    import json
    from kafka import KafkaProducer, KafkaConsumer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers='localhost:9092', client_id='app')
    try:
        admin.create_topics(new_topics=[NewTopic(name='events', num_partitions=2, replication_factor=1)],
                            validate_only=False)
    except TopicAlreadyExistsError:
        pass
    producer = KafkaProducer(bootstrap_servers=['localhost:9092'],
                             value_serializer=lambda m: json.dumps(m).encode('ascii'), retries=5, acks='all')
    for i in range(4):
        future = producer.send('events', {'n': i}, partition=i % 2)
        try:
            md = future.get(timeout=10)
        except KafkaError:
            raise
    producer.flush()
    consumer = KafkaConsumer(bootstrap_servers='localhost:9092', auto_offset_reset='earliest',
                             consumer_timeout_ms=500, value_deserializer=lambda m: json.loads(m.decode('ascii')))
    consumer.assign([TopicPartition('events', 0), TopicPartition('events', 1)])
    print(sorted(m.value['n'] for m in consumer))
    consumer.close()
    producer.close()
''')

KAFKA_GROUP_APP = textwrap.dedent('''
    from kafka import KafkaConsumer, KafkaProducer
    p = KafkaProducer(bootstrap_servers='localhost:9092')
    for i in range(3):
        p.send('grouped', key=b'k', value=b'%d' % i)
    p.flush()
    c = KafkaConsumer('grouped', group_id='my-group', bootstrap_servers=['localhost:9092'],
                      auto_offset_reset='earliest', enable_auto_commit=True, consumer_timeout_ms=2000)
    for message in c:
        print("%s:%d:%d: key=%s value=%s" % (message.topic, message.partition, message.offset, message.key,
                                              message.value))
    c.close()
''')


def _run(tmp_path, code):
    s = tmp_path / "app.py"
    s.write_text(code)
    return run_py(["-m", "kabase", "run", str(s)], env={"KABASE_DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path)


@needs_tables
def test_happybase_code_unchanged(tmp_path):
    r = _run(tmp_path, HAPPYBASE_APP)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "b'value1'"
    assert lines[1] == "b'row-key' [b'cf1:col1', b'cf1:col2']"
    assert lines[-3] == "5"
    assert lines[-2] == "1"
    assert lines[-1] == "{b'cf2:n': b'3'}"


@needs_topics
def test_kafka_python_code_unchanged(tmp_path):
    r = _run(tmp_path, KAFKA_APP)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[0, 1, 2, 3]"
    r = _run(tmp_path, KAFKA_APP)  # again on the same data directory: topic exists, 4 more
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[0, 0, 1, 1, 2, 2, 3, 3]"


@needs_groups
def test_kafka_python_group_code_unchanged(tmp_path):
    r = _run(tmp_path, KAFKA_GROUP_APP)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["grouped:0:%d: key=b'k' value=b'%d'" % (i, i) for i in range(3)]
    r = _run(tmp_path, KAFKA_GROUP_APP)  # committed on close: the next run resumes after them
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["grouped:0:%d: key=b'k' value=b'%d'" % (i + 3, i) for i in range(3)]
