class NewTopic(object):
    """A topic to create: name, partitions, replication factor (1 in an embedded engine) and
    Kafka topic configs (``{'retention.ms': '1000'}``)."""

    def __init__(self, name, num_partitions=-1, replication_factor=-1, replica_assignments=None, topic_configs=None):
        if not isinstance(name, str):
            raise TypeError("topic name must be a str")
        self.name = name
        self.num_partitions = num_partitions
        self.replication_factor = replication_factor
        self.replica_assignments = replica_assignments or {}
        self.topic_configs = topic_configs or {}

    def __repr__(self):
        return "NewTopic(name=%r, num_partitions=%r, replication_factor=%r, topic_configs=%r)" % (
            self.name, self.num_partitions, self.replication_factor, self.topic_configs)
