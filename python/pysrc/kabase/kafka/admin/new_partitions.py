class NewPartitions(object):
    """The new total partition count of a topic."""

    def __init__(self, total_count, new_assignments=None):
        self.total_count = total_count
        self.new_assignments = new_assignments

    def __repr__(self):
        return "NewPartitions(total_count=%r)" % (self.total_count,)
